# Two commands do everything on a fresh machine:
#   make run   - create .venv, install, migrate the SQLite database, load the sample
#                rate cards, serve on http://127.0.0.1:5000
#   make test  - create .venv if missing, lint, and run the whole test suite

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The service alone (what `make run` needs), and the service with its test tools.
SERVICE_STAMP := $(VENV)/.installed-service
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 5000
# pytest-xdist workers; each starts its own PostgreSQL server and browser.
TEST_WORKERS ?= 2

.PHONY: help install run setup serve test lint format check-migrations bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  %-18s %s\n", $$1, $$2}'

$(BIN)/pip:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# `make run` installs the service without the test tools (playwright, schemathesis,
# mypy...): about as long again to install, and a first run does not need them.
$(SERVICE_STAMP): pyproject.toml | $(BIN)/pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(STAMP): pyproject.toml | $(BIN)/pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(SERVICE_STAMP)

install: $(STAMP) ## Create .venv and install the service with its test tools

setup: $(SERVICE_STAMP) ## Install the service, migrate the database and load the sample rate cards (idempotent)
	$(BIN)/licensing setup

# Links in emails (and the admin sign-in that setup prints) point at the server `run` starts.
run: export PUBLIC_URL ?= http://$(HOST):$(PORT)
run: setup ## Install, migrate, load the sample rate cards, serve on http://$(HOST):$(PORT) with the periodic jobs beside it
	$(BIN)/licensing serve --bind $(HOST):$(PORT) --with-worker

test: install lint ## Lint, then run the whole test suite
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

lint: install ## ruff (lint and format check), mypy (strict, the whole package) and our stubs against their libraries
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	# The stubs in typings/ must match the installed flask-smorest and Flask-WTF.
	MYPYPATH=typings $(BIN)/python -m mypy.stubtest flask_smorest flask_wtf --ignore-missing-stub \
		--mypy-config-file pyproject.toml --allowlist typings/stubtest-allowlist.txt

format: install ## Apply ruff's formatting and safe fixes
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Where a benchmark takes --postgresql, `make bench` also runs it on a throwaway
# PostgreSQL server it starts as the test suite does (auto); off: SQLite alone.
BENCH_POSTGRESQL ?= auto

bench: install ## Run every benchmark in bench/ (SQLite, and PostgreSQL where a server starts): figure, floor, ratio
	@for script in bench/*.py; do \
		echo "== $$script"; \
		extra=""; \
		if [ "$(BENCH_POSTGRESQL)" != off ] && grep -q -- '"--postgresql"' $$script; then \
			extra="--postgresql $(BENCH_POSTGRESQL)"; \
		fi; \
		$(BIN)/python $$script $$extra || exit 1; \
	done

clean: ## Remove the virtual environment, caches and the development database
	rm -rf $(VENV) instance .pytest_cache .ruff_cache .mypy_cache .hypothesis

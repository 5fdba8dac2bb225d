"""The layers hold: a lower package never imports a higher one, not even from
inside a function, where an import would hide a cycle (docs/architecture.md)."""

from __future__ import annotations

import ast
import functools
import graphlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "licensing"
FEATURES = (
    "accounts",
    "agreements",
    "api",
    "audit",
    "billing",
    "exports",
    "finance",
    "mail",
    "permissions",
    "ratecards",
    "royalties",
)


@functools.cache
def _parsed(source: str) -> ast.Module:
    """A module's syntax tree, parsed once for every check of this file that reads it
    (round 63: each check parsed the whole package again, and the import graph was
    built twice, some 20 s of a CI run). Keyed by the source itself, so a file that
    changed is parsed again; the checks only read the trees."""
    return ast.parse(source)


# Where an import statement may stand: in a body (a module's, a function's, a class's,
# a branch's, a loop's, a `with`'s, a `try`'s), a handler's or a case's; never inside
# an expression.
_HOLDS_STATEMENTS = (ast.stmt, ast.excepthandler, ast.match_case)


@functools.cache
def _import_statements(source: str) -> tuple[ast.Import | ast.ImportFrom, ...]:
    """The module's `import` and `from ... import` statements, wherever they stand,
    in the order of the source. Round 66: the checks found them with `ast.walk` over
    every node of every tree, expressions too (some 1.7 million nodes a run, a
    third of this file's time); statements hold no import in an expression, so only
    they are walked."""
    found: list[ast.Import | ast.ImportFrom] = []
    waiting: list[ast.AST] = [_parsed(source)]
    while waiting:
        node = waiting.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
            continue
        for _field, value in ast.iter_fields(node):
            if isinstance(value, list):
                waiting += [each for each in value if isinstance(each, _HOLDS_STATEMENTS)]
    return tuple(sorted(found, key=lambda node: (node.lineno, node.col_offset)))


def _imports_of(path: Path) -> tuple[ast.Import | ast.ImportFrom, ...]:
    return _import_statements(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module", autouse=True)
def _trees_forgotten_after_this_file() -> Iterator[None]:
    """The package's trees are some 800,000 objects (a full collection of the garbage
    collector walking them took 0.4 s): kept for the rest of the session, they would
    slow every test after these (the suite freezes what it holds at start for that
    reason, tests/conftest.py)."""
    yield
    _parsed.cache_clear()
    _import_statements.cache_clear()
    _module_graph.cache_clear()


def _tree(path: Path) -> ast.Module:
    return _parsed(path.read_text(encoding="utf-8"))


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.ImportFrom) and node.module and not node.level:
        if node.module == "licensing":
            return [f"licensing.{alias.name}" for alias in node.names]
        return [node.module]
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    return []


def _imports(path: Path, *, in_functions_only: bool = False) -> set[str]:
    if not in_functions_only:
        return {name for node in _imports_of(path) for name in _imported(node)}
    scopes = [
        node
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]
    return {name for scope in scopes for node in ast.walk(scope) for name in _imported(node)}


def _features_named(names: set[str]) -> set[str]:
    return {
        name
        for name in names
        if any(name == f"licensing.{f}" or name.startswith(f"licensing.{f}.") for f in FEATURES)
    }


def test_no_page_module_imports_a_feature_from_inside_a_function() -> None:
    found = {
        str(path.relative_to(ROOT)): hidden
        for path in sorted((PACKAGE / "web").glob("*.py"))
        if (hidden := _features_named(_imports(path, in_functions_only=True)))
    }
    assert found == {}


def test_the_page_toolkit_imports_no_feature_at_all() -> None:
    # Features import web/ (registries, navigation, forms); app.py lists their blueprints.
    found = {
        str(path.relative_to(ROOT)): names
        for path in sorted((PACKAGE / "web").glob("*.py"))
        if (names := _features_named(_imports(path)))
    }
    assert found == {}


def test_the_outbox_knows_no_user_model() -> None:
    found = {
        str(path.relative_to(ROOT)): names
        for path in sorted((PACKAGE / "mail").glob("*.py"))
        if (names := {n for n in _imports(path) if n.startswith("licensing.accounts")})
    }
    assert found == {}


def test_the_outbox_imports_no_feature_whose_documents_it_attaches() -> None:
    # Round 48: an attachment names a kept invoice PDF or decision letter; billing and
    # permissions register how to read them (`register_kept_source`), mail imports neither.
    attaching = ("licensing.billing", "licensing.permissions")
    found = {
        str(path.relative_to(ROOT)): names
        for path in sorted((PACKAGE / "mail").glob("*.py"))
        if (names := {n for n in _imports(path) if n.startswith(attaching)})
    }
    assert found == {}
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, licensing.mail.services, licensing.mail.models; "
            "print(sorted(m for m in sys.modules if m.startswith(" + repr(attaching) + ")))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "[]"


# One interpreter answers two checks (round 63: each started its own, importing the
# app): the royalty reports' API imported before anything else of ours, then an app
# built and serving a page, and what that loaded.
_FIRST_THE_API_THEN_AN_APP = (
    "import sys\n"
    "import licensing.api.royalty_reports\n"
    "print('imported on its own')\n"
    "from licensing.app import create_app\n"
    "from licensing.config import Config\n"
    "app = create_app(Config(environment='testing', database_url='sqlite://',"
    " secret_key='k' * 32, audit_hmac_key='a' * 32))\n"
    "app.test_client().get('/')\n"
    "print(sorted(name for name in ('stripe', 'alembic') if name in sys.modules))\n"
)


@pytest.fixture(scope="module")
def api_first_then_an_app() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _FIRST_THE_API_THEN_AN_APP],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_royalty_reports_api_imports_on_its_own(
    api_first_then_an_app: subprocess.CompletedProcess[str],
) -> None:
    # It and the royalty pages once imported each other: the first one loaded failed.
    said = api_first_then_an_app.stdout.splitlines()
    assert said[:1] == ["imported on its own"], api_first_then_an_app.stderr


def test_the_audit_log_imports_no_other_feature() -> None:
    # Every feature writes the audit log and registers the documents it seals.
    found = {
        str(path.relative_to(ROOT)): names
        for path in sorted((PACKAGE / "audit").glob("*.py"))
        if (
            names := {
                n for n in _features_named(_imports(path)) if not n.startswith("licensing.audit")
            }
        )
    }
    assert found == {}


# Use cases take their settings and collaborators as arguments, built from `Config`
# at the edges (docs/architecture.md, "Settings"): a use case module reads neither
# the app (`current_app`, `current_config`) nor the request (`g`, `request`,
# `has_request_context`, `session`). Left on purpose, each with the reason:
READS_THE_APP_ITSELF = {
    "licensing/mail/services.py": (
        "the outbox, a composition point: every use case queues mail in its own "
        "transaction, and enqueue() renders with PUBLIC_URL and the app's templates, "
        "takes the Message-ID domain from MAIL_FROM and staff addresses from the "
        "directory accounts installs (delivery takes a Delivery argument)"
    ),
    "licensing/audit/services.py": (
        "the audit log, a composition point: every use case writes it, and each row "
        "carries the request's id and client address, and the request's principal "
        "where a caller names no actor"
    ),
    "licensing/accounts/queries.py": (
        "`seen_by`: a page's read with no principal given is scoped to the request's "
        "caller, and to everything outside a request (batch commands)"
    ),
}
_APP_STATE = {
    *(("flask", name) for name in ("current_app", "g", "request", "has_request_context")),
    ("flask", "session"),
    ("licensing.config", "current_config"),
}


def _reads_app_state(path: Path) -> set[str]:
    found = set()
    for node in _imports_of(path):
        if isinstance(node, ast.ImportFrom) and node.module:
            found |= {
                f"{node.module}.{alias.name}"
                for alias in node.names
                if (node.module, alias.name) in _APP_STATE
            }
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name == "flask"}
    return found


# Modules the use cases call that are neither services nor queries by name.
USE_CASE_HELPERS = (
    "billing/links.py",
    "billing/pdfs.py",
    "billing/gateways.py",
    "agreements/issuing.py",
)


def _use_case_modules() -> list[Path]:
    modules = [PACKAGE / name for name in USE_CASE_HELPERS]
    modules += sorted((PACKAGE / "pricing").rglob("*.py"))
    for feature in FEATURES:
        package = PACKAGE / feature
        modules += [package / name for name in ("services.py", "queries.py", "documents.py")]
        modules += sorted((package / "services").glob("*.py"))
    return [path for path in modules if path.exists()]


def test_use_cases_and_queries_take_their_settings_as_arguments() -> None:
    found = {
        str(path.relative_to(ROOT)): names
        for path in _use_case_modules()
        if (names := _reads_app_state(path))
        and str(path.relative_to(ROOT)) not in READS_THE_APP_ITSELF
    }
    assert found == {}


# The modules that read the app which a use case module may import: the ports
# wired at start-up (docs/architecture.md, "Settings"), and modules that also
# offer plain names. A use case that reached the app through any other module
# (as the card use cases once did through `billing.gateways`) fails below.
COMPOSITION_POINTS = {
    "licensing.config": "`Config` and `PROJECT_ROOT`; `current_config` is refused above",
    "licensing.db": "the session and transaction of the app's database",
    "licensing.mail": "the outbox package, whose services every use case calls",
    "licensing.mail.services": READS_THE_APP_ITSELF["licensing/mail/services.py"],
    "licensing.audit.services": READS_THE_APP_ITSELF["licensing/audit/services.py"],
    "licensing.accounts.queries": READS_THE_APP_ITSELF["licensing/accounts/queries.py"],
    "licensing.audit.keys": "the audit key, read per call so a rotation applies at once",
    "licensing.links": "the links port: the pages an email points at, under PUBLIC_URL",
    "licensing.signing": "the signer port: the key signing links never reaches a service",
    "licensing.billing.letterhead": "the issuer and remit-to printed on every document",
    "licensing.access": "role names and the Principal type (the request is read at the edge)",
    "licensing.limits": "`record_id` and `storable`, plain checks of a value",
    "licensing.streaming": "the exports' reading session, closed with the download",
}


def _reaches_the_app_through(
    module: str, graph: dict[str, set[str]], readers: set[str]
) -> set[str]:
    """The modules `module` imports that read the app, other than the composition points."""
    return (graph[module] & readers) - set(COMPOSITION_POINTS)


def _path_of(module: str) -> Path:
    path = ROOT.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def test_use_cases_reach_the_app_only_through_its_composition_points() -> None:
    graph = _module_graph()
    readers = {name for name in graph if _reads_app_state(_path_of(name))}
    found = {
        str(path.relative_to(ROOT)): names
        for path in _use_case_modules()
        if (names := _reaches_the_app_through(_module_name(path), graph, readers))
    }
    assert found == {}


def test_the_settings_check_sees_a_service_that_reads_the_app(tmp_path: Path) -> None:
    service = tmp_path / "services.py"
    service.write_text(
        "from flask import current_app\n"
        "def days() -> int:\n"
        '    return current_app.config["LICENSING"].permission_sla_days\n'
    )
    assert _reads_app_state(service) == {"flask.current_app"}
    edge = tmp_path / "views.py"
    edge.write_text("from licensing.config import Config, current_config\n")
    assert _reads_app_state(edge) == {"licensing.config.current_config"}
    request_reader = tmp_path / "queries.py"
    request_reader.write_text("from flask import g, request\n")
    assert _reads_app_state(request_reader) == {"flask.g", "flask.request"}


def test_the_composition_check_sees_a_service_reaching_the_app_through_a_helper() -> None:
    # As `billing.services` did through `billing.gateways` before the card use
    # cases took their gateway as an argument.
    graph = {"licensing.billing.services.refunds": {"licensing.billing.gateways", "licensing.db"}}
    readers = {"licensing.billing.gateways", "licensing.db"}
    assert _reaches_the_app_through("licensing.billing.services.refunds", graph, readers) == {
        "licensing.billing.gateways"
    }


def test_every_module_left_reading_the_app_still_exists_and_still_does() -> None:
    # An entry that no longer applies would quietly allow the next one.
    for name in READS_THE_APP_ITSELF:
        assert _reads_app_state(ROOT / name), name
    for module in COMPOSITION_POINTS:
        assert _reads_app_state(_path_of(module)), module


def _module_level_connects(source: str) -> list[int]:
    """Lines where a module connects a receiver as it is imported (outside any function)."""
    found = []
    for statement in _parsed(source).body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for node in ast.walk(statement):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "connect"
                and node.args
            ):
                found.append(node.lineno)
    return found


def test_signal_receivers_are_connected_in_init_app_not_on_import() -> None:
    """Issue 11 item 5: a receiver connected on import runs for whichever app
    imported the module first, and hides the wiring from `init_app`."""
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for line in _module_level_connects(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_the_connect_check_sees_a_receiver_connected_on_import() -> None:
    source = "from x import signal\n\ndef on(sender): ...\n\nsignal.connect(on, weak=False)\n"
    assert _module_level_connects(source) == [5]
    assert _module_level_connects("def init_app(app):\n    signal.connect(on)\n") == []


def test_an_app_that_serves_requests_loads_neither_stripe_nor_alembic(
    api_first_then_an_app: subprocess.CompletedProcess[str],
) -> None:
    # Each is loaded by the few processes that use it (a card payment or a
    # webhook; a migration), not by every worker: together 25 MB and half a
    # second of each process's start. (The API imported first loads no more than
    # the app does: every blueprint is the app's.)
    result = api_first_then_an_app
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_use_cases_documents_and_records_import_nothing_from_the_web_layer() -> None:
    # An issued agreement's wording once came from the page filters: what a
    # document says must not depend on how pages are drawn (licensing/words.py).
    lower = ("services", "issuing.py", "documents.py", "queries.py", "models.py", "states.py")
    found = {
        str(path.relative_to(ROOT)): names
        for feature in FEATURES
        for path in sorted((PACKAGE / feature).rglob("*.py"))
        if any(part in lower for part in path.relative_to(PACKAGE / feature).parts)
        if (names := {n for n in _imports(path) if n.startswith("licensing.web")})
    }
    assert found == {}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
def _module_graph() -> dict[str, set[str]]:
    """Each module of the package and the package's modules it imports, at the top
    or inside a function: `from licensing.billing import gateways` names the module
    `licensing.billing.gateways` (its package runs first whatever the importer
    does, so that is no edge), `from licensing.config import Config` the module
    `licensing.config`, and `from ..models import X` is read from where it stands."""
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}

    def module_of(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    def named(node: ast.AST, importer: str, is_package: bool) -> list[str]:
        if not isinstance(node, ast.ImportFrom):
            return _imported(node)
        base = node.module or ""
        if node.level:
            here = importer.split(".")[: None if is_package else -1]
            base = ".".join([*here[: len(here) - node.level + 1], *filter(None, [node.module])])
        whole = [f"{base}.{alias.name}" for alias in node.names]
        return [name if name in modules else base for name in whole]

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        imported = {
            found
            for node in _imports_of(path)
            for each in named(node, name, path.name == "__init__.py")
            if (found := module_of(each)) is not None
        }
        graph[name] = imported - {name}
    return graph


def test_no_module_imports_one_that_imports_it_back() -> None:
    # A cycle works only while an import inside a function defers one side, and
    # breaks the day someone moves that import to the top. Where two modules need
    # each other, what they share belongs in a third (billing's port and its
    # Stripe adapter; the configuration and the SMTP transport).
    graph = _module_graph()
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as cycle:
        raise AssertionError(f"modules import each other: {' -> '.join(cycle.args[1])}") from None

"""The programs the README runs from `.venv/bin` are there when its steps say so
(round 50): `make run` installs the service alone, so a test tool the README runs
(localstripe) comes after the `make install` that adds it, in the same step."""

from __future__ import annotations

import re
import tomllib

from licensing.config import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
# What every virtual environment has.
VENV_ITSELF = {"activate", "python", "python3", "pip"}
PROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _names(requirements: list[str]) -> set[str]:
    return {
        re.split(r"[\[<>=;, ]", requirement, maxsplit=1)[0].lower() for requirement in requirements
    }


def test_setup_steps_install_the_test_tools_they_run() -> None:
    service = _names(PROJECT["project"]["dependencies"]) | set(PROJECT["project"]["scripts"])
    test_tools = _names(PROJECT["project"]["optional-dependencies"]["test"])
    # Each bullet of "Local set-up, step by step", and the first steps' items.
    steps = re.split(r"\n(?=- \*\*|\d\. \*\*)", README.split("## Configuration", 1)[0])
    checked = []
    for step in steps:
        for tool in re.findall(r"\.venv/bin/([a-z][a-z0-9-]*)", step):
            checked.append(tool)
            if tool in service or tool in VENV_ITSELF:
                continue
            assert tool in test_tools, f"{tool}: installed by neither make run nor make install"
            before = step.split(f".venv/bin/{tool}", 1)[0]
            assert "make install" in before, f"{tool} is run before `make install` adds it"
    assert {"licensing", "localstripe"} <= set(checked)

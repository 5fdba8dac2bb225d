"""The pricing package re-exports only what other code imports through it: a
name no module, test or benchmark takes from `licensing.pricing` stays in its own
module (`licensing.pricing.describe`, `.models`, ...), so the package's surface
says what the rest of the service uses. (It once re-exported nine such names.)"""

from __future__ import annotations

import ast
from pathlib import Path

import licensing.pricing as pricing

ROOT = Path(__file__).resolve().parents[3]


def _taken_through_the_package() -> set[str]:
    taken: set[str] = set()
    for folder in ("licensing", "tests", "bench"):
        for path in (ROOT / folder).rglob("*.py"):
            source = path.read_text()
            if "licensing.pricing" not in source and "import pricing" not in source:
                continue
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.ImportFrom) and node.module == "licensing.pricing":
                    taken |= {alias.name for alias in node.names}
                elif isinstance(node, ast.Attribute) and ast.unparse(node.value) in (
                    "pricing",
                    "licensing.pricing",
                ):
                    taken.add(node.attr)
    return taken


def test_the_package_re_exports_only_names_imported_through_it() -> None:
    unused = set(pricing.__all__) - _taken_through_the_package()
    assert unused == set()

"""Every domain error is raised somewhere: a class that the edges map to a status
but no code raises is dead (RateLimited was mapped to 429 while every rate limit
answered through Flask-Limiter's own exception)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from licensing import errors

PACKAGE = Path(errors.__file__).resolve().parent


def _constructed_names() -> set[str]:
    """The names called anywhere in the package but errors.py (`NotFound(...)`,
    `errors.Conflict(...)`, `InvalidInput.for_field(...)`)."""
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        if path.name == "errors.py" and path.parent == PACKAGE:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name | ast.Attribute):
                owner = func.value
                names.add(owner.id if isinstance(owner, ast.Name) else owner.attr)
                names.add(func.attr)
            elif isinstance(func, ast.Name):
                names.add(func.id)
    return names


def test_every_domain_error_the_edges_map_is_raised_somewhere() -> None:
    error_classes = {
        name
        for name, value in inspect.getmembers(errors, inspect.isclass)
        if issubclass(value, errors.DomainError)
        and value is not errors.DomainError
        and value.__module__ == errors.__name__
    }
    assert error_classes - _constructed_names() == set()

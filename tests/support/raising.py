"""Which domain errors a function can raise, read from its source: the errors it
raises itself and those of every function of the `licensing` package it names,
followed through their sources in turn (tests/integration/test_api_answers.py
holds each API route's document to what its view can raise).

A name is followed where it can be resolved without running anything: a module's
function, a class's method (`MACHINE.apply`, `self.step` inside a method), a
dict of functions (a table of steps), a lambda's globals. What runs through a
value made at run time (a method of a record loaded in the view) is not seen, so
the answer can miss an error; and a branch a flag turns off is followed, so it can
name one that a particular call never raises. A route declares the latter beside
itself (`licensing.api.base.never_answers`).
"""

from __future__ import annotations

import ast
import builtins
import inspect
import textwrap
import types
import typing
from collections.abc import Callable
from typing import Any

from licensing.errors import DomainError

ErrorKinds = frozenset[type[DomainError]]


def _tree(function: types.FunctionType) -> ast.AST | None:
    """The function's body (not its decorators, which run once, when defined)."""
    try:
        module = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):  # a lambda inside a larger expression
        return None
    defined = module.body[0]
    if isinstance(defined, ast.FunctionDef | ast.AsyncFunctionDef):
        return ast.Module(body=defined.body, type_ignores=[])
    return module


def _resolve(node: ast.AST, function: types.FunctionType) -> Any:
    """What `node` (a name, an attribute chain, a call of either) names inside
    `function`, where that is known without running it; else None."""
    if isinstance(node, ast.Call):
        return _resolve(node.func, function)
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, function)
        try:
            return None if base is None else getattr(base, node.attr, None)
        except RuntimeError:  # a proxy of a request or an app (`flask.request.args`)
            return None
    if not isinstance(node, ast.Name):
        return None
    names = function.__globals__
    if node.id in ("self", "cls") and "." in function.__qualname__:
        return names.get(function.__qualname__.split(".")[-2])  # the method's class
    if node.id in names:
        return names[node.id]
    cells = dict(zip(function.__code__.co_freevars, function.__closure__ or (), strict=True))
    if node.id in cells:
        try:
            return cells[node.id].cell_contents
        except ValueError:  # not yet bound
            return None
    return getattr(builtins, node.id, None)


def _ours(value: Any) -> types.FunctionType | None:
    """The plain function of the `licensing` package behind `value`, if any."""
    if isinstance(value, types.MethodType):
        value = value.__func__
    if isinstance(value, staticmethod | classmethod):
        value = value.__func__
    if not isinstance(value, types.FunctionType):
        return None
    value = inspect.unwrap(value)
    return value if (value.__module__ or "").startswith("licensing") else None


def _error_kind(node: ast.AST, function: types.FunctionType) -> type[DomainError] | None:
    raised = _resolve(node, function)
    if isinstance(raised, types.MethodType):  # `raise InvalidInput.for_field(...)`
        raised = raised.__self__
    if _ours(raised) is not None:  # `raise _expired(request)`: what it is typed to return
        try:
            raised = typing.get_type_hints(raised).get("return")
        except (NameError, TypeError):
            return None
    if isinstance(raised, type) and issubclass(raised, DomainError):
        return raised
    return None


class Raising:
    """The domain errors functions can raise, each function read once."""

    def __init__(self) -> None:
        self._found: dict[types.FunctionType, ErrorKinds] = {}

    def of(self, view: Callable[..., Any]) -> ErrorKinds:
        function = _ours(view)
        return frozenset() if function is None else self._of(function)

    def _of(self, function: types.FunctionType) -> ErrorKinds:
        if function in self._found:
            return self._found[function]
        self._found[function] = frozenset()  # a cycle adds nothing new
        kinds: set[type[DomainError]] = set()
        tree = _tree(function)
        if tree is None:  # a lambda: the functions its code names
            for name in function.__code__.co_names:
                kinds |= self._of_named(function.__globals__.get(name))
        else:
            for node in ast.walk(tree):
                if isinstance(node, ast.Raise) and node.exc is not None:
                    kind = _error_kind(node.exc, function)
                    if kind is not None:
                        kinds.add(kind)
                elif isinstance(node, ast.Name | ast.Attribute):
                    kinds |= self._of_named(_resolve(node, function))
        self._found[function] = frozenset(kinds)
        return self._found[function]

    def _of_named(self, value: Any) -> ErrorKinds:
        values = list(value.values()) if isinstance(value, dict) else [value]
        kinds: set[type[DomainError]] = set()
        for each in values:
            function = _ours(each)
            if function is not None:
                kinds |= self._of(function)
        return frozenset(kinds)

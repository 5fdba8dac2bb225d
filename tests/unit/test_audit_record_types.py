"""Every type of record the audit log can hold has a name people read.

The audit log's Record type filter and Record column read a type with no name of
its own as its identifier ("outbox message 12"). The types are read from the
sources: the first part of every action a service audits (`record_event`,
`record_new`), every `entity_type` given to `record`, and every state machine's
entity. An action this walk cannot read is itself a failure, so that no type slips
past it unnamed."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from licensing.web.records import RECORD_TYPE_NAMES, record_type_name

PACKAGE = Path(__file__).resolve().parents[2] / "licensing"
# Where the log is written from what others give it: read through its callers.
PLUMBING = {PACKAGE / "audit" / "services.py", PACKAGE / "statemachine.py"}
# The argument holding the action: (position, keyword); `record_event(session,
# action, ...)` and `record_new(session, record, action, ...)`.
ACTION_ARGUMENT = {"record_event": (1, "action"), "record_new": (2, "action")}


def _called(node: ast.Call) -> str | None:
    function = node.func
    if isinstance(function, ast.Attribute):
        return function.attr
    return function.id if isinstance(function, ast.Name) else None


def _argument(node: ast.Call, position: int, keyword: str) -> ast.expr | None:
    if len(node.args) > position:
        return node.args[position]
    return next((k.value for k in node.keywords if k.arg == keyword), None)


Function = ast.FunctionDef | ast.AsyncFunctionDef


def _calls(tree: ast.AST) -> Iterator[tuple[Function | None, ast.Call]]:
    """Every call in `tree`, with the function it is made in (None at module level)."""

    def walk(
        node: ast.AST, function: Function | None
    ) -> Iterator[tuple[Function | None, ast.Call]]:
        for child in ast.iter_child_nodes(node):
            inner = child if isinstance(child, Function) else function
            if isinstance(child, ast.Call):
                yield function, child
            yield from walk(child, inner)

    yield from walk(tree, None)


class _Sources:
    """The package's modules, read for the record types their audit calls write."""

    def __init__(self) -> None:
        self.modules = {
            path: ast.parse(path.read_text(encoding="utf-8"))
            for path in sorted(PACKAGE.rglob("*.py"))
            if path not in PLUMBING
        }
        self.calls = [
            (path, function, node)
            for path, tree in self.modules.items()
            for function, node in _calls(tree)
        ]
        self.unread: list[str] = []

    def types(self) -> set[str]:
        found: set[str] = set()
        for path, function, node in self.calls:
            name = _called(node)
            if name in ACTION_ARGUMENT:
                position, keyword = ACTION_ARGUMENT[name]
                given = _argument(node, position, keyword)
            elif name == "record" and any(k.arg == "entity_type" for k in node.keywords):
                given = _argument(node, 99, "entity_type")
            elif name == "from_actions" and node.args:
                given = node.args[0]
            else:
                continue
            for action in self._actions(path, given, function, node):
                found.add(action.replace(" ", "_").lower().partition(".")[0])
        return found

    def _actions(
        self, path: Path, value: ast.expr | None, function: Function | None, call: ast.Call
    ) -> Iterator[str]:
        """The actions (or their first part) `value` can hold: a string, an f-string
        starting with one, a conditional of them, a constant of the module or a
        variable of the function set to one, or a parameter, read at every call."""
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            yield value.value
        elif isinstance(value, ast.JoinedStr) and isinstance(value.values[0], ast.Constant):
            yield str(value.values[0].value)
        elif isinstance(value, ast.IfExp):
            yield from self._actions(path, value.body, function, call)
            yield from self._actions(path, value.orelse, function, call)
        elif isinstance(value, ast.Name) and (set_to := self._assigned(path, function, value.id)):
            for assigned in set_to:
                yield from self._actions(path, assigned, function, call)
        elif (
            isinstance(value, ast.Name)
            and function is not None
            and _is_parameter(function, value.id)
        ):
            yield from self._passed(function, value.id)
        else:
            where = f"{path.relative_to(PACKAGE.parent)}:{call.lineno}"
            self.unread.append(f"{where} {ast.unparse(value) if value else '(no action)'}")

    def _assigned(self, path: Path, function: Function | None, name: str) -> list[ast.expr]:
        """What `name` is set to in `function` (else at the module's top level)."""
        for scope in (function, self.modules[path]):
            if scope is None:
                continue
            found = [
                node.value
                for node in ast.walk(scope)
                if isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
            ]
            if found:
                return found
        return self._imported(path, name)

    def _imported(self, path: Path, name: str) -> list[ast.expr]:
        """What `name` is set to at the top of the package module `path` imports it
        from (`from licensing.x import NAME`), so a constant shared between modules
        is read where it is defined."""
        for node in self.modules[path].body:
            if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith(
                "licensing."
            ):
                continue
            if any(alias.name == name and alias.asname is None for alias in node.names):
                source = PACKAGE.parent.joinpath(*node.module.split(".")).with_suffix(".py")
                if source in self.modules:
                    return self._assigned(source, None, name)
        return []

    def _passed(self, function: Function, parameter: str) -> Iterator[str]:
        """What every call of `function` in the package passes as its `parameter`."""
        names = [a.arg for a in function.args.posonlyargs + function.args.args]
        position = names.index(parameter) if parameter in names else 99
        callers = [(p, f, n) for p, f, n in self.calls if _called(n) == function.name]
        if not callers:
            self.unread.append(f"{function.name}({parameter}) is never called")
        for path, caller, node in callers:
            yield from self._actions(path, _argument(node, position, parameter), caller, node)


def _is_parameter(function: Function, name: str) -> bool:
    every = function.args.posonlyargs + function.args.args + function.args.kwonlyargs
    return any(argument.arg == name for argument in every)


def _record_types() -> tuple[set[str], list[str]]:
    sources = _Sources()
    return sources.types(), sources.unread


def test_every_record_type_the_audit_log_holds_has_a_name() -> None:
    types, unread = _record_types()
    assert unread == []  # an action read from somewhere the walk cannot follow
    assert {"invoice", "api_token", "outbox_message", "export", "email"} <= types
    assert sorted(types - set(RECORD_TYPE_NAMES)) == []
    # and none named that is never written (a type renamed, its old name left)
    assert sorted(set(RECORD_TYPE_NAMES) - types) == []


def test_each_record_type_reads_as_a_label() -> None:
    for entity_type, name in RECORD_TYPE_NAMES.items():
        assert name[:1].isupper(), entity_type
        assert "_" not in name, entity_type
    assert record_type_name("outbox_message") == "Outbox message"
    assert record_type_name("api_token") == "API token"

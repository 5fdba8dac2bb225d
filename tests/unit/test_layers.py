"""The layers hold: a lower package never imports a higher one, not even from
inside a function, where an import would hide a cycle (docs/architecture.md)."""

from __future__ import annotations

import ast
import graphlib
import subprocess
import sys
from pathlib import Path

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


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.ImportFrom) and node.module and not node.level:
        if node.module == "licensing":
            return [f"licensing.{alias.name}" for alias in node.names]
        return [node.module]
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    return []


def _imports(path: Path, *, in_functions_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    scopes: list[ast.AST] = [tree]
    if in_functions_only:
        scopes = [
            node
            for node in ast.walk(tree)
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


def test_the_royalty_reports_api_imports_on_its_own() -> None:
    # It and the royalty pages once imported each other: the first one loaded failed.
    result = subprocess.run(
        [sys.executable, "-c", "import licensing.api.royalty_reports"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


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


# Use cases take their settings as arguments, built from `Config` at the edges
# (docs/architecture.md, "Settings"). Left on purpose, with the reason:
READS_SETTINGS_ITSELF = {
    "licensing/mail/services.py": (
        "the outbox adapter: every use case queues mail in its own transaction, and "
        "enqueue() renders with PUBLIC_URL and the app's templates and takes the "
        "Message-ID domain from MAIL_FROM (delivery takes a Delivery argument)"
    ),
}
_APP_STATE = {("flask", "current_app"), ("licensing.config", "current_config")}


def _reads_app_state(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
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
USE_CASE_HELPERS = ("billing/links.py", "billing/pdfs.py")


def _use_case_modules() -> list[Path]:
    modules = [PACKAGE / name for name in USE_CASE_HELPERS]
    for feature in FEATURES:
        package = PACKAGE / feature
        modules += [package / "services.py", package / "queries.py"]
        modules += sorted((package / "services").glob("*.py"))
    return [path for path in modules if path.exists()]


def test_use_cases_and_queries_take_their_settings_as_arguments() -> None:
    found = {
        str(path.relative_to(ROOT)): names
        for path in _use_case_modules()
        if (names := _reads_app_state(path))
        and str(path.relative_to(ROOT)) not in READS_SETTINGS_ITSELF
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


def test_every_module_left_reading_its_settings_still_exists_and_still_does() -> None:
    # An entry that no longer applies would quietly allow the next one.
    for name in READS_SETTINGS_ITSELF:
        assert _reads_app_state(ROOT / name), name


def _module_level_connects(source: str) -> list[int]:
    """Lines where a module connects a receiver as it is imported (outside any function)."""
    found = []
    for statement in ast.parse(source).body:
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


def test_an_app_that_serves_requests_loads_neither_stripe_nor_alembic() -> None:
    # Each is loaded by the few processes that use it (a card payment or a
    # webhook; a migration), not by every worker: together 25 MB and half a
    # second of each process's start.
    script = (
        "import sys\n"
        "from licensing.app import create_app\n"
        "from licensing.config import Config\n"
        "app = create_app(Config(environment='testing', database_url='sqlite://',"
        " secret_key='k' * 32, audit_hmac_key='a' * 32))\n"
        "app.test_client().get('/')\n"
        "print(sorted(name for name in ('stripe', 'alembic') if name in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
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
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {
            found
            for node in ast.walk(tree)
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

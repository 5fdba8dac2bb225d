"""Accessibility checks with axe-core, injected by Playwright from the vendored file
(tests/browser/vendor/axe-core): nothing is fetched from the network, and the app
never serves it.

The script is evaluated through the DevTools protocol rather than added as a
`<script>` element, so a Content-Security-Policy without 'unsafe-inline' does not
stop it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

AXE_SCRIPT = Path(__file__).resolve().parent.parent / "browser/vendor/axe-core/axe.min.js"
# Impacts that fail a test; "moderate" and "minor" are reported by axe but tolerated.
FAILING_IMPACTS = ("serious", "critical")


@cache
def _source() -> str:
    return AXE_SCRIPT.read_text(encoding="utf-8")


def serious_violations(page: Any) -> list[dict[str, Any]]:
    """axe's serious and critical violations on the page as it is now."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_source())
    result = page.evaluate(
        "async () => await window.axe.run(document, {resultTypes: ['violations']})"
    )
    return [v for v in result["violations"] if v["impact"] in FAILING_IMPACTS]


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['impact']}: {violation['id']}: {violation['help']}")
        lines.extend(f"    {' '.join(node['target'])}" for node in violation["nodes"][:5])
    return "\n".join(lines)


def assert_accessible(page: Any) -> None:
    """Fail with every serious or critical violation axe finds on `page`."""
    violations = serious_violations(page)
    assert not violations, f"axe on {page.url}:\n{describe(violations)}"

"""Accessibility checks with axe-core, injected by Playwright from the vendored file
(tests/browser/vendor/axe-core): nothing is fetched from the network, and the app
never serves it.

The script is evaluated through the DevTools protocol rather than added as a
`<script>` element, so a Content-Security-Policy without 'unsafe-inline' does not
stop it.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

AXE_SCRIPT = Path(__file__).resolve().parent.parent / "browser/vendor/axe-core/axe.min.js"
# axe's impacts, least first. assert_accessible fails on serious and critical ones;
# the page-by-page check (tests/browser/test_accessibility_pages.py) on moderate too.
IMPACTS = ("minor", "moderate", "serious", "critical")
FAILING_IMPACTS = ("serious", "critical")


@cache
def _source() -> str:
    return AXE_SCRIPT.read_text(encoding="utf-8")


# One round trip: axe's violations, or null where the page has no axe yet. Only the
# violations come back: axe's whole result (every rule's passes, incomplete and
# inapplicable entries, with their help and tags) took Playwright longer to copy
# out of the page than axe took to find them.
_RUN = """async () => {
  if (typeof window.axe !== "object") return null;
  return (await window.axe.run(document, {resultTypes: ["violations"]})).violations;
}"""


def _violations(page: Any) -> list[dict[str, Any]]:
    violations: list[dict[str, Any]] | None = page.evaluate(_RUN)
    if violations is None:
        page.evaluate(_source())
        violations = page.evaluate(_RUN)
    assert violations is not None
    return violations


def load_axe_into(context: Any) -> None:
    """axe-core loaded into the top frame of every page `context` opens, as the page
    starts (before its own scripts), rather than sent into each page when it is first
    checked: once a context, not 650 kB through the DevTools protocol a page. Frames
    (the card's) are left without it, as before, so axe checks the same document."""
    context.add_init_script(script=_in_top_frame())


@cache
def _in_top_frame() -> str:
    return f"if (window.top === window) {{\n{_source()}\n}}"


def serious_violations(page: Any) -> list[dict[str, Any]]:
    """axe's serious and critical violations on the page as it is now."""
    return [v for v in _violations(page) if v["impact"] in FAILING_IMPACTS]


def violations_at_least(page: Any, impact: str) -> list[dict[str, Any]]:
    """axe's violations on the page as it is now of `impact` or worse."""
    failing = IMPACTS[IMPACTS.index(impact) :]
    return [v for v in _violations(page) if v["impact"] in failing]


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


# What WCAG asks of these pages that axe does not check (or checks only as "minor"),
# each as one finding a line: the page's own title, table headers with a scope,
# link text that says where it goes, error messages tied to their fields, status
# messages announced, the skip link.
_OWN_CHECKS = r"""
() => {
  const found = [];
  const text = (el) => (el.getAttribute("aria-label") || el.textContent || "").trim();
  const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  if (location.pathname !== "/" && /^CPT content licensing ·/.test(document.title)) {
    found.push(`title: the page's title does not name the page ("${document.title}")`);
  }
  if (document.querySelector(".error-summary") && !document.title.startsWith("Error: ")) {
    found.push(`title-error: a refused form's title lacks "Error: " ("${document.title}")`);
  }
  for (const th of document.querySelectorAll("th:not([scope])")) {
    found.push(`th-scope: a table header without scope: "${text(th).slice(0, 40)}"`);
  }
  const vague =
    /^(here|click here|more|read more|view|open|details|link|this|show|download|pdf|csv|edit|go)$/i;
  for (const a of document.querySelectorAll("a[href]")) {
    if (vague.test(text(a))) found.push(`link-text: a link reads only "${text(a)}"`);
  }
  const described = new Set();
  for (const el of document.querySelectorAll("[aria-describedby]")) {
    el.getAttribute("aria-describedby").split(/\s+/).forEach((id) => described.add(id));
  }
  for (const error of document.querySelectorAll(".field .error, .has-error .error")) {
    if (!visible(error)) continue;
    if (!error.id || !described.has(error.id)) {
      found.push(`error-described: "${text(error).slice(0, 50)}" is not tied to its field`);
    }
  }
  for (const field of document.querySelectorAll(".has-error")) {
    if (!field.querySelector("[aria-invalid=true]")) {
      found.push(`error-invalid: a field showing an error is not marked aria-invalid`);
    }
  }
  for (const flash of document.querySelectorAll(".flashes .flash")) {
    const role = flash.closest("[role=status], [role=alert]");
    const wanted = flash.classList.contains("flash-error") ? "alert" : "status";
    if (!role || role.getAttribute("role") !== wanted) {
      found.push(`flash-role: a ${wanted} message is not in a role=${wanted} region`);
    }
  }
  const skip = document.body.querySelector("a");
  if (!skip || skip.getAttribute("href") !== "#main" || !document.getElementById("main")) {
    found.push("skip-link: the first link does not skip to the main content");
  }
  return found;
}
"""


def own_findings(page: Any) -> list[str]:
    """Problems on the page as it is now that axe does not report (see _OWN_CHECKS)."""
    findings: list[str] = page.evaluate(_OWN_CHECKS)
    return findings


# Round 18: Swagger UI (`/api/v1/docs`) is checked like every page, but its markup
# is Swagger UI's own (swagger-ui-bundle, rendered in the page): the project
# writes only the frame (templates/swagger_ui.html: title, language, skip link,
# banner, main, h1), which passes every check. What Swagger UI's markup fails is
# excused here, each with its reason; test_swagger_ui_drawn_once_its_frame_passes_
# and_its_own_markup_fails_only_the_listed_rules (test_accessibility_outside_pages.py,
# the page's one walk since round 68) fails if one no longer holds or another
# appears. Keys: axe rule ids, `own_findings` prefixes, and "reflow-320" (the page
# scrolls sideways at 320 px).
SWAGGER_UI_EXCEPTIONS: dict[str, str] = {
    "color-contrast": (
        "Swagger UI's colours: the version badges, the server's URL, the Authorize "
        "button and the white method names (GET, POST) on their coloured labels"
    ),
    "label-content-name-mismatch": (
        "Swagger UI names each operation's toggle by an aria-label of its own "
        '("get /api/v1/...", with zero-width spaces), not the words it shows'
    ),
    "th-scope": "an opened operation's parameter and response tables: th without scope",
    "reflow-320": (
        "at 320 px the Schemas section's model boxes and an opened operation's "
        "responses table are wider than the window (WCAG 1.4.10)"
    ),
    "scrollable-region-focusable": (
        "an opened operation's example values wider than their box (seen from round "
        "60, whose answers gained fields) scroll sideways in Swagger UI's own code "
        "blocks, which take no keyboard focus"
    ),
}


# Round 65: axe's violations and `_OWN_CHECKS`' findings in one round trip (the
# sweep asked each page state twice), or null where the page has no axe yet.
RUN_WITH_OWN = f"""async () => {{
  if (typeof window.axe !== "object") return null;
  const violations = (await window.axe.run(document, {{resultTypes: ["violations"]}})).violations;
  return [violations, ({_OWN_CHECKS.strip()})()];
}}"""


def all_findings(page: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """axe's violations (every impact) and `own_findings` on the page as it is now,
    in one round trip."""
    found: list[Any] | None = page.evaluate(RUN_WITH_OWN)
    if found is None:
        page.evaluate(_source())
        found = page.evaluate(RUN_WITH_OWN)
    assert found is not None
    return found[0], found[1]


def excused_findings(tab: Any, excused: dict[str, str]) -> tuple[set[str], list[str]]:
    """The sweep's findings on the page as it is now (axe, moderate or worse, and
    `own_findings`, asked together): the keys of those `excused` names, and every
    other one."""
    every_violation, own = all_findings(tab)
    return excused_of(every_violation, own, excused)


def excused_of(
    every_violation: list[dict[str, Any]], own: list[str], excused: dict[str, str]
) -> tuple[set[str], list[str]]:
    """`excused_findings` of findings already taken (`all_findings`)."""
    found: set[str] = set()
    violations = []
    failing = IMPACTS[IMPACTS.index("moderate") :]
    for violation in (v for v in every_violation if v["impact"] in failing):
        if violation["id"] in excused:
            found.add(violation["id"])
        else:
            violations.append(violation)
    others = [describe(violations)]
    for finding in own:
        key = finding.split(":", 1)[0]
        if key in excused:
            found.add(key)
        else:
            others.append(finding)
    return found, [line for line in others if line]


def luminance(css_colour: str) -> float:
    """Relative luminance (WCAG) of an rgb()/rgba() colour."""
    red, green, blue = (int(part) / 255 for part in re.findall(r"\d+", css_colour)[:3])

    def linear(channel: float) -> float:
        return channel / 12.92 if channel <= 0.03928 else ((channel + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)


# What has the focus: enough to find it by id, by its text or by a CSS selector.
FOCUSED = """
(selector) => {
  const el = document.activeElement;
  if (!el || el === document.body) return {text: "", matches: false, id: ""};
  const text = (el.getAttribute("aria-label") || el.innerText || el.value || "").trim();
  return {text, id: el.id, matches: selector ? el.matches(selector) : false};
}
"""


# static/js/scroll-regions.js, after a resize (100 ms later), gives each table box
# that now scrolls sideways a tabindex and takes back the one it gave a box that
# fits: the page is as it loads at the new width once every box is as it leaves them.
SCROLL_REGIONS_CAUGHT_UP = """
() => [...document.querySelectorAll("main table, main .table-scroll, main pre")].every((box) => {
  const scrolls = (box.scrollWidth > box.clientWidth + 1 || box.scrollHeight > box.clientHeight + 1)
    && ["auto", "scroll"].includes(getComputedStyle(box).overflowX);
  return scrolls ? box.hasAttribute("tabindex") : !box.hasAttribute("data-scroll-focus");
})
"""

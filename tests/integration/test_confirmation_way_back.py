"""A confirmation's way back returns to the control its action was started from
(round 61, keyboard61b). Every confirmation (`web.confirm.Confirmation`) names the id
of the button that asked for it (`control`), and its Cancel link is the page the
action came from with a fragment naming that button, so a keyboard user is back on
it rather than at the page's top. The link passes the checks a sign-in's `next=`
passes. A new confirmation cannot leave the fragment out: `control` has no default,
and each control named here must be a button's id in the templates. The walk by
keyboard: `tests/browser/test_keyboard_confirmations.py`."""

from __future__ import annotations

import ast
import html
import re
from pathlib import Path

import pytest
from flask import Flask

from licensing.web import confirm
from licensing.web.assignment import ASSIGN_SELECTED

ROOT = Path(__file__).resolve().parents[2]
# Names a `control=` may be given by, as their values.
NAMED = {"ASSIGN_SELECTED": ASSIGN_SELECTED}


def _controls() -> dict[str, str]:
    """Every `Confirmation(...)` in the package: where it is, and the id its
    `control=` gives, with `*` for what a record's id fills in."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "licensing").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            called = node.func
            name = called.attr if isinstance(called, ast.Attribute) else getattr(called, "id", "")
            if name != "Confirmation":
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            given = {each.arg: each.value for each in node.keywords}
            value = given.get("control")
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                found[where] = value.value
            elif isinstance(value, ast.JoinedStr):
                found[where] = "".join(
                    part.value if isinstance(part, ast.Constant) else "*" for part in value.values
                )
            elif isinstance(value, ast.Name) and value.id in NAMED:
                found[where] = NAMED[value.id]
            else:
                found[where] = ""
    return found


def _button_ids() -> list[str]:
    """The ids buttons are given in the templates, `*` for a Jinja expression in one."""
    ids = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        for found in re.finditer(r'<button\b[^>]*\bid="([^"]+)"', path.read_text("utf-8")):
            ids.append(re.sub(r"\{\{.*?\}\}", "*", found.group(1)))
    return ids


def test_every_confirmation_names_a_button_that_the_templates_draw() -> None:
    controls = _controls()
    assert len(controls) >= 25  # the package's confirmations, round 61
    assert [where for where, control in controls.items() if not control] == []
    drawn = set(_button_ids())
    assert {where: control for where, control in controls.items() if control not in drawn} == {}


def test_only_the_confirmation_step_draws_a_confirmation_page() -> None:
    drawing = [
        str(path.relative_to(ROOT))
        for path in sorted(
            [*(ROOT / "licensing").rglob("*.py"), *(ROOT / "templates").rglob("*.*")]
        )
        if path.suffix in (".py", ".html", ".txt")
        and "layout/confirm.html" in path.read_text("utf-8")
    ]
    assert drawing == ["licensing/web/confirm.py"]


def test_a_confirmation_has_no_way_back_without_its_control() -> None:
    with pytest.raises(TypeError, match="control"):
        confirm.Confirmation(  # type: ignore[call-arg]
            title="Void it?", consequences=[], button="Void", cancel_url="/console/"
        )


def _cancel_href(app: Flask, cancel_url: str, control: str, base_url: str | None = None) -> str:
    with app.test_request_context(
        "/console/invoices/7/void", method="POST", data={"reason": "x"}, base_url=base_url
    ):
        page, status = confirm.ask(
            confirm.Confirmation(
                title="Void it?",
                consequences=["It goes."],
                button="Void",
                cancel_url=cancel_url,
                control=control,
                cancel_label="Keep the invoice",
            )
        )
    assert status == 200
    # Marked as the way back (round 62: following it keeps the fields typed).
    found = re.search(
        r'<a class="button secondary" data-way-back href="([^"]*)">Keep the invoice</a>', page
    )
    assert found is not None, page
    return html.unescape(found.group(1))


def test_the_way_back_names_the_button_pressed_on_the_page_it_came_from(app: Flask) -> None:
    assert _cancel_href(app, "/console/invoices/7?organization=3", "void-invoice") == (
        "/console/invoices/7?organization=3#void-invoice"
    )
    # A fragment the page's link had (a section) gives way to the button's.
    assert _cancel_href(app, "/organization?page=2#members", "deactivate-member-5") == (
        "/organization?page=2#deactivate-member-5"
    )
    # A control named with what a fragment may not hold is escaped in it.
    assert _cancel_href(app, "/console/", "mark intent") == "/console/#mark%20intent"


@pytest.mark.parametrize(
    "elsewhere",
    ["https://evil.example/", "//evil.example/x", "/\\evil.example", "/a\r\nSet-Cookie: x=1"],
)
def test_the_way_back_never_leads_off_the_site(app: Flask, elsewhere: str) -> None:
    assert _cancel_href(app, elsewhere, "void-invoice") == "/#void-invoice"


def test_the_way_back_stays_under_the_mount_point(app: Flask) -> None:
    mounted = "http://localhost/licensing"
    assert _cancel_href(app, "/licensing/console/invoices/7", "void-invoice", mounted) == (
        "/licensing/console/invoices/7#void-invoice"
    )
    assert _cancel_href(app, "/other/app", "void-invoice", mounted) == "/licensing/#void-invoice"

"""A confirmation step before a destructive action, that works without JavaScript.

The action's form posts as usual. When the post does not carry `confirmed=yes`,
the view answers with a page that says what will happen and posts the very same
fields again, now with `confirmed=yes` (or offers a way back). Nothing changes
until then, so a stray click or an old form cannot remove, withdraw or void.

    if not confirm.confirmed():
        return confirm.ask(confirm.Confirmation(title=..., consequences=[...], ...))

Round 61: the way back returns the keyboard to where it was. Every confirmation
names the `control` its action was started from (the id of the button pressed, on
the page `cancel_url` leads to), and its Cancel link is `cancel_url#control`: the
browser moves the focus back to that button (`static/js/error-summary.js` makes
sure of it), not to the top of the page. The link passes the checks a sign-in's
`next=` passes (`links.safe_next`): a page of this app, or the app's home.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote

from flask import render_template, request, url_for

from licensing.links import request_full_path, safe_next

FIELD = "confirmed"


class LinkedSentence(Protocol):
    """A consequence that links the list it speaks of ("And 7 more invoices to pay"
    linking them; `accounts.StillOpen`): its sentence is `str()` of it."""

    @property
    def list_url(self) -> str | None: ...
    @property
    def list_label(self) -> str: ...


@dataclass(frozen=True)
class Confirmation:
    title: str  # the question, e.g. "Void invoice INV-2027-000001?"
    consequences: Sequence[str | LinkedSentence]  # what happens, one sentence each
    button: str  # the confirming button, e.g. "Void the invoice"
    cancel_url: str  # where "Keep it" leads (the page the action came from)
    # The id of the control the action was started from, on the cancel_url's page
    # (`void-invoice`, `revoke-token-7`): the way back leads to it (round 61).
    control: str
    cancel_label: str = "Cancel"
    # Fields the confirming post carries besides those received (round 53: what the
    # confirmation was computed from, so a step refuses one made stale meanwhile).
    carried: Sequence[tuple[str, str]] = ()


def way_back(confirmation: Confirmation) -> str:
    """The Cancel link: `cancel_url` with the fragment naming the control the action
    was started from (any fragment it had replaced), once it passes `safe_next`."""
    back = (safe_next(confirmation.cancel_url) or url_for("public.home")).partition("#")[0]
    return f"{back}#{quote(confirmation.control, safe='-_.~')}"


def confirmed() -> bool:
    return request.form.get(FIELD) == "yes"


def ask(confirmation: Confirmation) -> tuple[str, int]:
    """The confirmation page, re-posting the fields just received."""
    carried = {name for name, _ in confirmation.carried}
    fields = [
        (name, value)
        for name, value in request.form.items(multi=True)
        if name != FIELD and name not in carried
    ]
    fields += list(confirmation.carried)
    action = request_full_path()  # escaped, under the mount point (round 49)
    page = render_template(
        "layout/confirm.html",
        confirmation=confirmation,
        action=action,
        fields=fields,
        way_back=way_back(confirmation),
    )
    return page, 200

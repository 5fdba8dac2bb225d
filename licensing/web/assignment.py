"""A staff queue's bulk assignment: the selected records and the person chosen for
them (or nobody, which unassigns them and asks for confirmation first).

The applications' and the permission requests' queues read the same post the same
way; each gives its own ids field, noun and assign use case.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import current_app, get_template_attribute, request
from markupsafe import Markup
from wtforms import SelectChoice

from licensing.limits import record_id
from licensing.web import confirm
from licensing.web.memo import per_app

NOBODY = "nobody"  # the choice that unassigns


def assignee_choices(people: Iterable[tuple[int, str]]) -> list[SelectChoice]:
    """No default: unassigning is a choice of its own, never what an untouched form does."""
    return [
        SelectChoice("", "Choose a person"),
        *(SelectChoice(str(user_id), name) for user_id, name in people),
        SelectChoice(NOBODY, "Nobody: unassign them"),
    ]


def unknown_assignee(value: str, people: Iterable[int]) -> dict[str, list[str]]:
    """A queue's filter errors (`{"assignee": [message]}`) when its Assignee filter
    gives the id (ASCII digits) of nobody it offers (`people`: the ids of those who
    may be assigned), which listed nothing without a word; empty for anyone else
    (empty, one of the queue's words such as "me", or text that is no id, which the
    queue ignores)."""
    if not (value.isascii() and value.isdigit()):
        return {}
    if (user_id := record_id(value)) is not None and user_id in set(people):
        return {}
    shown = value if len(value) <= 20 else f"{value[:20]}…"
    return {
        "assignee": [
            f"No one who may be assigned has the id {shown}: choose an assignee from the list."
        ]
    }


# Bulk-assignment selects kept per app: one per queue and set of reviewers.
_CACHED_SELECTS = 32


def assignee_select(form: Any) -> Markup:
    """`form.assignee_id` (a bulk-assignment form's select) drawn by
    layout/forms.html's `field` macro. Drawn untouched (nothing chosen, no error),
    it depends only on the form's class, which fixes its id, label and flags, and on
    its choices (the reviewers), so it is drawn once per app for each set of them:
    WTForms drew it with a call per option, a twentieth of a queue page. A form
    sent back with a choice or an error, and any page in debug mode (templates may
    change under it), is drawn each time."""
    field = form.assignee_id
    if field.data is not None or field.errors or current_app.debug:
        return _drawn(field)
    if any(choice.render_kw or choice.optgroup for choice in field.choices):
        return _drawn(field)
    key = (type(form), field.name, tuple((c.value, c.label) for c in field.choices))
    return per_app("licensing.assignee_selects", key, lambda: _drawn(field), most=_CACHED_SELECTS)


def _drawn(field: Any) -> Markup:
    drawn = get_template_attribute("layout/forms.html", "field")(field)
    # A macro of an autoescaping template returns Markup, its values escaped.
    if not isinstance(drawn, Markup):
        raise TypeError("layout/forms.html must be autoescaped")
    return drawn


@dataclass(frozen=True)
class BulkAssignment:
    ids: tuple[int, ...]
    choice: str | None  # a user id as text, NOBODY, or None when none was chosen
    valid: bool  # false: the form carries the messages

    @property
    def unassigns(self) -> bool:
        return self.choice == NOBODY

    @property
    def assignee_id(self) -> int | None:
        return None if self.unassigns else record_id(self.choice)

    @property
    def selected(self) -> frozenset[int]:
        return frozenset(self.ids)


def bulk_assignment(form: Any, ids_field: str, noun: str) -> BulkAssignment:
    """The post read; without a selection or a choice, each missing one's message
    is left on `form` (a FlaskForm with an `assignee_id` select) and `valid` is false."""
    ids = tuple(i for i in map(record_id, request.form.getlist(ids_field)) if i is not None)
    choice = form.assignee_id.data if form.validate_on_submit() else None
    if not ids:
        form.form_errors.append(f"Select at least one {noun}.")
    if not choice or (choice != NOBODY and record_id(choice) is None):
        form.assignee_id.errors = [f"Choose who to assign the selected {noun}s to."]
    valid = not (form.form_errors or form.assignee_id.errors)
    return BulkAssignment(ids, choice, valid)


# The queues' button that assigns (or unassigns) the selected records: a
# confirmation's way back returns to it (round 61).
ASSIGN_SELECTED = "assign-selected"


def unassign_confirmation(count: str, nobody_will: str, back: str) -> confirm.Confirmation:
    """What unassigning `count` records means, asked before it is done."""
    return confirm.Confirmation(
        title=f"Unassign {count}?",
        consequences=[
            f"Nobody will be {nobody_will} them until someone is assigned; they stay in "
            "the queue and keep counting against the service level."
        ],
        button="Unassign them",
        cancel_url=back,
        control=ASSIGN_SELECTED,
        cancel_label="Back to the queue",
    )

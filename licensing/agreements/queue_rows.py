"""The staff queue's rows as the page prints them (the pattern: `licensing/web/rows.py`).

A page of the queue is 50 rows of 8 cells (about 19 escaped values a row), printed
by `templates/agreements/queue.html` under `{% autoescape false %}`.

Everything textual in a `QueueRow` is escaped here, once (`_text`); integers are
printed as they are. A field added to `QueueRow` must be escaped the same way:
`tests/integration/agreements/test_queue_rows.py` puts markup in every free text
a row shows (organization, product, assignee); the rest are identifiers, labels
and amounts, escaped all the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import NamedTuple

from licensing.agreements.queries import QueueApplication, ReviewLevel
from licensing.agreements.states import SUBMITTED
from licensing.web.filters import money
from licensing.web.rows import escaped as _text
from licensing.web.rows import isolated
from licensing.web.rows import state_label as _state_label
from licensing.words import in_a_sentence, product_type_words, use_words

DEFAULT_CURRENCY = "USD"  # what the page has always shown for an amount without one


class QueueRow(NamedTuple):
    """One row of the queue, in the order the template unpacks it. Text is escaped."""

    overdue: bool  # the row is marked, and its age says "overdue"
    id: int
    reference: str
    checked: bool  # selected before a bulk assignment the page refused
    href: str  # the application's review page
    organization_href: str | None  # None when the console has no organization page
    organization: str  # in `<bdi>`, as every typed name (round 62)
    uses: tuple[tuple[str, str, str], ...]  # product (or —), use in words, product type
    state: str  # the identifier, for the badge's class
    state_label: str
    running: bool  # the review clock runs: its age is shown against the target
    age_days: int
    target_days: int
    to_be_priced: bool
    amount: str | None  # None: no quote yet (shown as —)
    currency: str
    assignee: str
    renews: str | None  # the renewed agreement's number, escaped (round 53)
    resubmitted: str | None  # round 57: a resubmission not yet taken into review, said


@lru_cache(maxsize=256)
def _use_label(value: str) -> str:
    """The use as the application form and pages say it (`words.use_words`)."""
    return _text(use_words(value))


@lru_cache(maxsize=256)
def _product_type_label(value: str) -> str:
    """After the use, as the application's table of uses says it: "data file"."""
    return _text(in_a_sentence(product_type_words(value)))


def _resubmitted(application: QueueApplication) -> str | None:
    """Under a submitted row's state, that it came back from the vendor after a
    question (round 57: it read "submitted" as a new application did, so the analyst
    who asked learnt of the answer from the email alone). Constant words."""
    if application.state != SUBMITTED or not application.returned:
        return None
    if application.answered:
        return "resubmitted with an answer"
    return "resubmitted, without an answer"


def queue_rows(
    applications: Iterable[QueueApplication],
    levels: Mapping[int, ReviewLevel],
    *,
    selected: frozenset[int],
    application_url: Callable[[int], str],
    organization_url: Callable[[int], str] | None,
) -> list[QueueRow]:
    """The page's rows, each with its review level (`levels`, by application id)."""
    rows = []
    for application in applications:
        level = levels[application.id]
        currency = application.currency or DEFAULT_CURRENCY
        total = application.total
        rows.append(
            QueueRow(
                level.overdue,
                application.id,
                application.reference,  # APP- and digits: nothing to escape
                application.id in selected,
                _text(application_url(application.id)),
                _text(organization_url(application.organization_id)) if organization_url else None,
                isolated(application.organization),
                tuple(
                    (isolated(product or ""), _use_label(use), _product_type_label(product_type))
                    for product, use, product_type in application.uses
                ),
                _text(application.state),
                _state_label(application.state, "application"),
                level.running,
                level.age_days,
                level.target_days,
                application.submitted_at is not None and total is None,
                None if total is None else _text(money(total, currency)),
                _text(currency),
                isolated(application.assignee or ""),
                None if application.renews is None else _text(application.renews),
                _resubmitted(application),
            )
        )
    return rows

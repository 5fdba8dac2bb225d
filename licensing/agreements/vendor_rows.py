"""The vendor's applications list as the page prints it (the pattern:
`licensing/web/rows.py`, as the staff queue's `queue_rows.py`).

A page of the list is 50 rows of 6 cells. Printed from the rows as read, every
cell went through Jinja's attribute lookups, the `state_badge` macro, three
`when` filters, `money` and about a dozen autoescapes a row: 60% of the page's
CPU on PostgreSQL. `vendor_rows` makes each row one `VendorRow` of text escaped
here, once, and the flags the template branches on;
`templates/agreements/applications.html` prints them under
`{% autoescape false %}`.

A field added to `VendorRow` must be escaped the same way:
`tests/integration/agreements/test_vendor_rows.py` puts markup in every text a
row shows (products, the renewed agreement's number, the currency) and holds
the rows to the template's former general path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple

from licensing.agreements.queries import VendorApplication
from licensing.web.filters import money, when
from licensing.web.rows import NO_VALUE, escaped, state_label

DEFAULT_CURRENCY = "USD"  # what the list has always shown for an amount without one


class VendorRow(NamedTuple):
    """One row of the vendor's list, in the order the template unpacks it. Text is
    escaped."""

    href: str  # the application's page in the portal
    reference: str
    renews: str | None  # the number of the agreement it renews, if any
    state: str  # the identifier, for the badge's class
    state_label: str
    products: str  # the named products, or —
    term_start: str
    term_end: str
    to_be_priced: bool
    amount: str | None  # None: no quote yet (shown as —)
    currency: str
    updated: str


def vendor_rows(
    applications: Iterable[VendorApplication], *, application_url: Callable[[int], str]
) -> list[VendorRow]:
    """The page's rows."""
    rows = []
    for application in applications:
        total = application.total
        currency = application.currency or DEFAULT_CURRENCY
        rows.append(
            VendorRow(
                escaped(application_url(application.id)),
                escaped(application.reference),
                escaped(application.renews) if application.renews else None,
                escaped(application.state),
                state_label(application.state, "application"),
                escaped(application.products or NO_VALUE),
                escaped(when(application.term_start)),
                escaped(when(application.term_end)),
                application.to_be_priced,
                None if total is None else escaped(money(total, currency)),
                escaped(currency),
                escaped(when(application.updated_at)),
            )
        )
    return rows

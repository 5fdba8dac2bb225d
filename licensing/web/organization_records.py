"""What the staff console's organization page lists: the organization's
applications, agreements, invoices with the balance it owes, and royalty reports.

A template global (`organization_records(id)`), so the accounts package's view
needs no knowledge of the other features; each list is read only when the viewer
may open its records' pages (billing staff see invoices, and so on).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flask import Flask

from licensing import db
from licensing.web.navigation import may_open

LIMIT = 50  # the newest of each; the feature's own list has the rest


@dataclass
class OrganizationRecords:
    applications: list[Any] | None = None  # None: the viewer may not open them
    agreements: list[Any] | None = None
    invoices: list[Any] | None = None
    balance: dict[str, Decimal] = field(default_factory=dict)  # owed, per currency
    reports: list[Any] | None = None


def organization_records(organization_id: int) -> OrganizationRecords:
    session = db.session()
    found = OrganizationRecords()
    if may_open("agreements_console.application"):
        from licensing.agreements import queries as agreements

        chosen = agreements.QueueFilter(organization_id=organization_id, sort="newest")
        found.applications = agreements.applications(session, queue=chosen)[:LIMIT]
    if may_open("agreements_console.agreement_detail"):
        from licensing.agreements import queries as agreements

        found.agreements = agreements.agreements(session, organization_id=organization_id)[:LIMIT]
    if may_open("billing_console.invoice_detail"):
        from licensing.billing import queries as billing

        found.invoices = list(billing.invoices(session, organization_id=organization_id))[:LIMIT]
        for invoice in billing.outstanding(session, organization_id):
            owed = found.balance.get(invoice.currency, Decimal(0))
            found.balance[invoice.currency] = owed + invoice.balance_due
    if may_open("royalties.console_report"):
        from licensing.royalties import queries as royalties

        found.reports = royalties.reports_of(session, organization_id, LIMIT)
    return found


def register(app: Flask) -> None:
    app.jinja_env.globals["organization_records"] = organization_records

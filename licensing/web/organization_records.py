"""What the staff console's organization page lists: the organization's
applications, agreements, invoices with the balance it owes, and royalty reports.

A template global (`organization_records(id)`), so the accounts package's view
needs no knowledge of the other features. Each feature registers what it lists
(`organization_section`), and a section is read only when the viewer may open its
records' pages (billing staff see invoices, and so on):

    @organization_section("billing_console.invoice_detail")
    def _invoices(session, organization_id, limit):
        return {"invoices": [...], "balance": {...}}
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from licensing import db
from licensing.web.navigation import may_open
from licensing.web.registry import Registry

LIMIT = 50  # the newest of each, read in SQL; the feature's own list pages the rest


@dataclass
class OrganizationRecords:
    applications: list[Any] | None = None  # None: the viewer may not open them
    agreements: list[Any] | None = None
    invoices: list[Any] | None = None
    balance: dict[str, Decimal] = field(default_factory=dict)  # owed, per currency
    reports: list[Any] | None = None
    # How many of each there are in all (round 47: the sections read only the newest
    # `LIMIT`, and link the feature's own list when there are more).
    applications_total: int = 0
    agreements_total: int = 0
    invoices_total: int = 0
    reports_total: int = 0
    statements_sent: list[Any] | None = None  # the monthly statements emailed


# (session, organization id, how many) -> OrganizationRecords fields and their values
SectionProvider = Callable[[Session, int, int], dict[str, Any]]
_SECTIONS: Registry[tuple[str, SectionProvider]] = Registry()


def organization_section(endpoint: str) -> Callable[[SectionProvider], SectionProvider]:
    """Register a section of the organization page, read when the viewer may open
    `endpoint` (see the module's docstring)."""

    def register(provider: SectionProvider) -> SectionProvider:
        _SECTIONS.add((endpoint, provider))
        return provider

    return register


@dataclass(frozen=True)
class HistoryEntry:
    """Another record's event an organization's history shows (round 56: a reminder
    recorded against its invoices), at that event's row: what it concerned, each record
    linked, and how many more there were than `links` names."""

    words: str
    links: list[tuple[str, str]]
    more: int = 0


# (session, organization id) -> {audit event seq: its entry}
HistoryProvider = Callable[[Session, int], dict[int, HistoryEntry]]
_HISTORY: Registry[tuple[str, HistoryProvider]] = Registry()


def organization_history(endpoint: str) -> Callable[[HistoryProvider], HistoryProvider]:
    """Register events of other records an organization's history shows, read when
    the viewer may open `endpoint` (the records' pages)."""

    def register(provider: HistoryProvider) -> HistoryProvider:
        _HISTORY.add((endpoint, provider))
        return provider

    return register


def organization_history_entries(session: Session, organization_id: int) -> dict[int, HistoryEntry]:
    """Every registered feature's events for the organization's history, by seq."""
    found: dict[int, HistoryEntry] = {}
    for endpoint, provider in _HISTORY:
        if may_open(endpoint):
            found.update(provider(session, organization_id))
    return found


def organization_records(organization_id: int) -> OrganizationRecords:
    session = db.session()
    found = OrganizationRecords()
    for endpoint, provider in _SECTIONS:
        if may_open(endpoint):
            for name, value in provider(session, organization_id, LIMIT).items():
                setattr(found, name, value)
    return found


def register(app: Flask) -> None:
    app.jinja_env.globals["organization_records"] = organization_records

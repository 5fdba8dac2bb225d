"""Round 61 (classified61): an invoice line keeps its kind and classification from the
day its invoice is issued, as the Finance page's classifiers find it then, so the lists,
exports and the page's revenue tables choose and sum lines by classification in SQL.
billing_0032 fills the lines issued before it with the same values."""

from __future__ import annotations

import importlib.util
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

from sqlalchemy import select, update

from licensing import db
from licensing.actors import Actor
from licensing.billing import services as billing
from licensing.billing.models import Invoice, InvoiceLine
from licensing.finance import classification
from licensing.finance.classification import AXES, RevenueLine, kind_of
from tests.integration.finance.conftest import at
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture
from tests.integration.royalties.conftest import (  # noqa: F401 - the fixtures
    DEVELOPMENT,
    PAYER,
    active_agreement,
    file_report,
    row,
)
from tests.support.factories import billing_clerk
from tests.support.settings import invoice_terms

STORED = ("kind", *AXES)
MIGRATION = (
    Path(__file__).resolve().parents[3]
    / "migrations/versions/billing_0032_invoice_line_classification.py"
)


def _every_kind_issued(vendor: Any, active_agreement: Any, file_report: Any) -> None:  # noqa: F811
    """Through the services: an agreement's up-front invoice (fee), a royalty report's
    invoice (royalty), a late fee and a manual invoice (other), and a royalty invoice
    whose report there is none of (unclassified); and a manual draft, not issued."""
    agreement = active_agreement(vendor, DEVELOPMENT, PAYER)
    file_report(vendor, agreement, 1, [row(2, "P1", unit="members", quantity=10)])
    session = db.session()
    up_front = session.scalars(
        select(Invoice).where(Invoice.source_type == "agreement", Invoice.source_id == agreement.id)
    ).one()
    with db.transaction() as session:
        for source_type, source_id, through in (
            ("late_fee", up_front.id, 2),
            ("royalty_report", 999_999, None),
        ):
            billing.create_invoice(
                session,
                organization_id=vendor.organization_id,
                currency="USD",
                charges=[billing.Charge(f"{source_type} charge", Decimal("12.34"))],
                source_type=source_type,
                source_id=source_id,
                parent_invoice_id=up_front.id if through else None,
                late_fee_through_month=through,
                payment_terms_days=30,
                late_fee_monthly_percent=Decimal(0),
                now=at(date(2027, 5, 3)),
                actor=Actor.SYSTEM,
            )
    for finalize in (True, False):
        draft = billing.create_draft(
            organization_id=vendor.organization_id,
            currency="USD",
            charges=[billing.Charge("Seats for the workshop", Decimal("75.00"))],
            standard=invoice_terms(),
            actor=billing_clerk(),
        )
        if finalize:
            billing.finalize_invoice(draft.id, actor=billing_clerk())


def _stored() -> dict[int, tuple[str | None, ...]]:
    columns = [getattr(InvoiceLine, name) for name in STORED]
    return {
        line_id: tuple(values)
        for line_id, *values in db.session().execute(select(InvoiceLine.id, *columns))
    }


def _found_in_python() -> dict[int, tuple[str, ...]]:
    """Each issued line's kind and classification as `classification.classify` finds it."""
    rows = (
        db.session()
        .execute(
            select(InvoiceLine.id, Invoice.id, Invoice.source_type, Invoice.source_id)
            .add_columns(InvoiceLine.position, InvoiceLine.amount)
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .where(Invoice.state != "draft")
        )
        .all()
    )
    found = classification.classify(db.session(), [RevenueLine(*each) for each in rows])
    return {
        each[0]: (kind_of(each[2]), *(found[each[0]].value(axis) for axis in AXES)) for each in rows
    }


def _migration() -> ModuleType:
    spec = importlib.util.spec_from_file_location("billing_0032", MIGRATION)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_line_keeps_the_classification_python_finds_for_every_kind_of_line(
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    _every_kind_issued(vendor, active_agreement, file_report)
    stored = _stored()
    python = _found_in_python()
    assert {line_id: stored[line_id] for line_id in python} == python
    kinds = {values[0] for values in python.values()}
    assert kinds == {"fee", "royalty", "other"}
    # The up-front fee and the royalty are their agreement lines', as priced.
    fees = [values for values in python.values() if values[0] == "fee"]
    assert fees
    assert all(values[1] == "development" for values in fees)
    royalties = {values[1:] for values in python.values() if values[0] == "royalty"}
    assert ("distribution", PAYER["product_type"], "payer", "commercial") in royalties
    # The report there is none of, the late fee and the manual invoice: unclassified.
    assert ("royalty", *(classification.UNCLASSIFIED,) * 4) in python.values()
    others = [values for values in python.values() if values[0] == "other"]
    assert len(others) == 2
    assert all(values[1:] == (classification.UNCLASSIFIED,) * 4 for values in others)
    # The draft's line is not issued: nothing stored yet.
    drafts = set(stored) - set(python)
    assert len(drafts) == 1
    assert stored[drafts.pop()] == (None,) * 5


def test_billing_0032_fills_the_lines_issued_before_it_as_python_classifies_them(
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    """The migration's backfill, on both databases, over lines of every kind whose
    stored columns are emptied (as before it): each issued line gets what the Python
    classification gives, a draft's stays empty."""
    _every_kind_issued(vendor, active_agreement, file_report)
    before = _stored()
    with db.transaction() as session:
        session.execute(update(InvoiceLine).values(dict.fromkeys(STORED)))
    assert set(_stored().values()) == {(None,) * 5}
    migration = _migration()
    with db.transaction() as session:
        migration._backfill(session.connection())
    db.session().expire_all()
    assert _stored() == before
    python = _found_in_python()
    assert {line_id: before[line_id] for line_id in python} == python

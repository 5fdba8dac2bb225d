"""Gapless numbering under concurrent finalization, with real commits."""

from __future__ import annotations

import threading
from decimal import Decimal

from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.actors import Actor
from licensing.billing import services
from licensing.billing.models import Invoice
from tests.support import factories
from tests.support.factories import billing_clerk

THREADS = 8
PER_THREAD = 3


def test_invoices_finalized_from_many_threads_get_consecutive_unique_numbers(
    committed_app: Flask,
) -> None:
    with committed_app.app_context():
        organization = factories.make_organization(db.session())
        draft_ids = []
        for index in range(THREADS * PER_THREAD):
            with db.transaction() as session:
                draft = services.create_invoice(
                    session,
                    organization_id=organization.id,
                    currency="USD",
                    charges=[
                        services.Charge(f"Internal use, seat block {index}", Decimal("10.00"))
                    ],
                    source_type="manual",
                    payment_terms_days=30,
                    late_fee_monthly_percent=Decimal("1.5"),
                    finalize=False,
                    actor=Actor.SYSTEM,
                )
                draft_ids.append(draft.id)
        clerk = billing_clerk()
    barrier = threading.Barrier(THREADS)
    failures: list[BaseException] = []

    def finalize(ids: list[int]) -> None:
        try:
            with committed_app.app_context():
                barrier.wait(timeout=30)
                for invoice_id in ids:
                    services.finalize_invoice(invoice_id, actor=clerk)
        except BaseException as exc:  # reported below, with the thread's own error
            failures.append(exc)

    threads = [
        threading.Thread(target=finalize, args=(draft_ids[i::THREADS],)) for i in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []
    with committed_app.app_context():
        numbers = (
            db.session().scalars(select(Invoice.number).where(Invoice.number.is_not(None))).all()
        )
    assert len(numbers) == THREADS * PER_THREAD
    sequence = sorted(int(number.rsplit("-", 1)[1]) for number in numbers if number)
    assert sequence == list(range(1, THREADS * PER_THREAD + 1))

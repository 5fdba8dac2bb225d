"""Royalty lists whose leading key can tie keep a stated order: the id breaks the
tie, so two views of a list, and PostgreSQL and SQLite, agree. SQLite keeps tied rows
in id order whatever the ORDER BY says, so without the id these fail on PostgreSQL
alone (`CI=true`; `tests/support/ties.py`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from licensing import db
from licensing.agreements.models import Agreement
from licensing.royalties import queries
from licensing.royalties.models import RoyaltyReport
from licensing.royalties.services import Filing
from tests.integration.royalties.conftest import SOFTWARE, flagged_report
from tests.support.copies import copy_row
from tests.support.ties import rewritten


def test_reports_flagged_at_the_same_moment_wait_for_review_in_the_order_they_were_filed(
    vendor: Any,
    active_agreement: Callable[..., Agreement],
    file_report: Callable[..., Filing],
) -> None:
    first = flagged_report(file_report, vendor, active_agreement(vendor, SOFTWARE))
    reports = RoyaltyReport.__table__
    second = copy_row(
        reports,  # type: ignore[arg-type]
        reports.c.id == first.id,  # type: ignore[attr-defined]
        period_start=first.period_start - timedelta(days=366),
        period_end=first.period_end - timedelta(days=366),
    )
    rewritten(db.session(), first, through={"period_start": first.period_start - timedelta(days=1)})
    waiting = [report.id for report in queries.flagged_reports(db.session())]
    assert [id for id in waiting if id in (first.id, second)] == [first.id, second]

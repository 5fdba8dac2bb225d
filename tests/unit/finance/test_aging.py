"""One aging rule: the finance dashboard and the receivables export put a
balance in the same bucket at every boundary, each under its own name."""

from __future__ import annotations

import pytest

from licensing.exports.datasets.receivables import bucket
from licensing.finance.queries import aging_bucket


@pytest.mark.parametrize(
    ("days_past_due", "dashboard", "export"),
    [
        (-3, "current", "current"),
        (0, "current", "current"),
        (1, "1_30", "1-30"),
        (30, "1_30", "1-30"),
        (31, "31_60", "31-60"),
        (60, "31_60", "31-60"),
        (61, "61_90", "61-90"),
        (90, "61_90", "61-90"),
        (91, "over_90", "over_90"),
        (400, "over_90", "over_90"),
    ],
)
def test_a_balance_days_past_due_falls_in_the_same_bucket_on_the_dashboard_and_in_the_export(
    days_past_due: int, dashboard: str, export: str
) -> None:
    assert aging_bucket(days_past_due) == dashboard
    assert bucket(days_past_due) == export

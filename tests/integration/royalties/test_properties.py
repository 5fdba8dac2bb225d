"""After any sequence of reports and amendments, everything invoiced for royalties
minus everything credited equals, summed over the lines, `C_last - U` (the
contract's invariant), with C computed here independently of the service."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from licensing import db
from licensing.billing.models import CreditNote, Invoice
from licensing.royalties.models import RoyaltyReport
from tests.integration.royalties.conftest import PAYER, SMALL_SOFTWARE, row

CUSTOMERS = ("north", "south", "east")
CENT = Decimal("0.01")


def software_amount(users: int) -> Decimal:
    """Graduated 100 @ 18.50, 900 @ 15.50, rest @ 12.00; minimum 1000.00."""
    tiers = ((100, Decimal("18.50")), (900, Decimal("15.50")), (None, Decimal("12.00")))
    left, amount = users, Decimal(0)
    for size, price in tiers:
        take = left if size is None else min(left, size)
        amount += take * price
        left -= take
    return max(amount, Decimal("1000.00")).quantize(CENT, ROUND_HALF_UP)


def payer_amount(members: int) -> Decimal:
    """Volume: up to 100,000 @ 0.045, up to 1,000,000 @ 0.030, above @ 0.018; minimum 5000."""
    price = (
        Decimal("0.045")
        if members <= 100000
        else Decimal("0.030")
        if members <= 1000000
        else Decimal("0.018")
    )
    return max(members * price, Decimal("5000.00")).quantize(CENT, ROUND_HALF_UP)


UP_FRONT = {1: Decimal("815.00"), 2: Decimal("0.00")}  # software's minimum lift; payer none
PRICE = {1: software_amount, 2: payer_amount}
UNIT = {1: "end_users", 2: "members"}

usage = st.fixed_dictionaries(
    {
        1: st.dictionaries(st.sampled_from(CUSTOMERS), st.integers(0, 1500), max_size=3),
        2: st.dictionaries(st.sampled_from(CUSTOMERS), st.integers(0, 1_200_000), max_size=3),
    }
)
steps = st.lists(st.tuples(st.booleans(), st.integers(1, 4), usage), min_size=1, max_size=6)


def rows_of(report: dict[int, dict[str, int]]) -> list[dict[str, Any]]:
    return [
        row(line, customer, unit=UNIT[line], quantity=quantity)
        for line, customers in report.items()
        for customer, quantity in customers.items()
    ]


def expected(reports: dict[int, dict[int, dict[str, int]]]) -> Decimal:
    if not reports:
        return Decimal(0)
    total = Decimal(0)
    for line in (1, 2):
        largest: dict[str, int] = {}
        for quarter in sorted(reports):
            for customer, quantity in reports[quarter][line].items():
                largest[customer] = max(largest.get(customer, 0), quantity)
        charged = max(UP_FRONT[line], PRICE[line](sum(largest.values())))
        total += charged - UP_FRONT[line]
    return total


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=steps)
def test_invoiced_minus_credited_is_the_charge_to_date_less_the_up_front_amount(
    vendor: Any, active_agreement: Any, file_report: Any, steps: list[Any]
) -> None:
    agreement = active_agreement(vendor, SMALL_SOFTWARE, PAYER)
    filed: dict[int, dict[int, dict[str, int]]] = {}
    current: dict[int, int] = {}
    for amend, quarter, report in steps:
        if amend and filed:
            quarter = min(quarter, max(filed))
            result = file_report(
                vendor,
                agreement,
                quarter,
                rows_of(report),
                amends=current[quarter],
                reason="restated",
                now=None,
            )
        else:
            quarter = len(filed) + 1
            if quarter > 4:
                continue
            result = file_report(vendor, agreement, quarter, rows_of(report))
        filed[quarter] = report
        current[quarter] = result.report.id
    session = db.session()
    report_ids = select(RoyaltyReport.id).where(RoyaltyReport.agreement_id == agreement.id)
    invoiced = session.scalar(
        select(func.coalesce(func.sum(Invoice.total), 0)).where(
            Invoice.source_type == "royalty_report", Invoice.source_id.in_(report_ids)
        )
    )
    credited = session.scalar(
        select(func.coalesce(func.sum(CreditNote.amount), 0))
        .join(Invoice, Invoice.id == CreditNote.invoice_id)
        .where(Invoice.source_type == "royalty_report", Invoice.source_id.in_(report_ids))
    )
    assert Decimal(invoiced) - Decimal(credited) == expected(filed)

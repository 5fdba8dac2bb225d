"""The statement's running balance, pure: each invoice's balance by the receivables
export's rule (never below zero, void owes nothing), replayed movement by movement."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from licensing.billing.statements import Movement, running_lines
from licensing.finance.queries import Receivable

NOV_1 = date(2027, 11, 1)


def _invoice(invoice_id: int, total: str, issued: date, **changes: object) -> Receivable:
    receivable = Receivable(invoice_id, 7, Decimal(total), issued, date(2027, 12, 31))
    for name, value in changes.items():
        setattr(receivable, name, value)
    return receivable


def _moved(day: date, kind: str, amount: str, invoice_id: int = 1) -> Movement:
    return Movement(day, kind, f"INV-2027-{invoice_id:06d}", kind, Decimal(amount), invoice_id)


def test_the_opening_balance_counts_only_what_happened_before_the_first_day() -> None:
    ledger = [
        _invoice(1, "100.00", date(2027, 10, 5), settlements=[(date(2027, 10, 20), Decimal(30))]),
        _invoice(2, "50.00", date(2027, 11, 3)),
    ]
    opening, lines = running_lines(ledger, [_moved(date(2027, 11, 3), "issued", "50.00", 2)], NOV_1)
    assert opening == Decimal("70.00")
    assert [line.balance for line in lines] == [Decimal("120.00")]


def test_a_credit_beyond_what_the_invoice_owes_lowers_the_balance_only_by_what_it_owed() -> None:
    ledger = [_invoice(1, "100.00", date(2027, 10, 5))]
    movements = [
        _moved(date(2027, 11, 2), "paid", "-90.00"),
        _moved(date(2027, 11, 3), "credited", "-30.00"),
        _moved(date(2027, 11, 4), "refunded", "20.00"),
    ]
    opening, lines = running_lines(ledger, movements, NOV_1)
    assert opening == Decimal("100.00")
    assert [(line.change, line.balance) for line in lines] == [
        (Decimal("-90.00"), Decimal("10.00")),
        (Decimal("-10.00"), Decimal("0.00")),  # 20.00 of it a refund due
        (Decimal(0), Decimal("0.00")),  # a refund sent owes nothing new
    ]
    assert [line.differs for line in lines] == [False, True, True]


def test_a_reversal_owes_the_payment_again_and_a_void_owes_nothing() -> None:
    ledger = [_invoice(1, "100.00", date(2027, 10, 5)), _invoice(2, "40.00", date(2027, 10, 6))]
    movements = [
        _moved(date(2027, 11, 9), "voided", "-40.00", 2),
        _moved(date(2027, 11, 2), "paid", "-100.00"),
        _moved(date(2027, 11, 8), "reversed", "100.00"),
    ]
    _opening, lines = running_lines(ledger, movements, NOV_1)
    # Listed by day, whatever order they were read in.
    assert [(line.movement.kind, line.balance) for line in lines] == [
        ("paid", Decimal("40.00")),
        ("reversed", Decimal("140.00")),
        ("voided", Decimal("100.00")),
    ]


def test_movements_of_one_day_list_the_invoice_before_the_money_on_it() -> None:
    day = date(2027, 11, 5)
    ledger = [_invoice(1, "100.00", day)]
    movements = [_moved(day, "paid", "-100.00"), _moved(day, "issued", "100.00")]
    opening, lines = running_lines(ledger, movements, NOV_1)
    assert opening == 0
    assert [(line.movement.kind, line.balance) for line in lines] == [
        ("issued", Decimal("100.00")),
        ("paid", Decimal("0.00")),
    ]

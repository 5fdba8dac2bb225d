"""Round 57 (creditlist57): the console had no list of credit notes. A credit note
stood on its invoice's page, its own page (round 56) and in the credit-notes export;
"what did we credit in March, and why?" meant the export. `/console/credit-notes`
lists every credit note: its licensee, invoice, reason, amount, what went back of it
and its day, newest first, narrowed by the month issued (or a range of months and a
currency, as the Finance page links it), the reason and the licensee's name, a page at
a time in a fixed number of statements; its totals are the Finance page's *Credited*
and the credit-notes export's rows for the same days."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import User, name_key
from licensing.billing import services
from licensing.billing.models import CreditNote, Payment, Refund
from licensing.finance import queries as finance
from tests.integration.exports.conftest import read_jsonl
from tests.integration.finance.conftest import at, issue
from tests.support import console_lists, factories
from tests.support.billing import credited, paid_offline, refunded_offline
from tests.support.console_lists import words as _words
from tests.support.copies import copy_invoice, copy_row
from tests.support.factories import bearer, billing_clerk
from tests.support.statements import statements_for

SignIn = Callable[..., FlaskClient]
LIST = "/console/credit-notes"


def _rows(markup: str) -> dict[int, str]:
    """The list's rows by credit note id, each in words."""
    return console_lists.rows(markup, "credit-notes-list", "credit-note")


def _totals(markup: str) -> dict[str, list[str]]:
    """The totals table: each currency's count, credited, off balances and owed back."""
    return console_lists.totals(markup, "credit-note-totals")


def _listed(staff: FlaskClient, **filters: str) -> str:
    return console_lists.listed(staff, LIST, **filters)


def _credit_notes() -> dict[str, int]:
    """February to April 2027: Osprey's paid invoice credited 300.00 on 5 February
    ("Seats removed"), all owed back: a wire of 100.00 sent on 20 February and
    returned by the bank on 4 March, one of 150.00 sent on 10 March; Osprey's unpaid
    invoice credited 200.00 on 15 March ("Price correction"), all off its balance;
    Heron's EUR invoice credited 50.00 on 20 March ("Seats removed") and its USD one
    80.00 on 3 April ("Late fee waived")."""
    session = db.session()
    osprey = factories.make_organization(session, legal_name="Osprey Analytics Inc.").id
    heron = factories.make_organization(session, legal_name="Heron Labs LLC").id
    paid = issue(osprey, "500.00", date(2027, 2, 1))
    paid_offline(
        paid.id, "500.00", "W-IN-1", received_on=date(2027, 2, 2), now=at(date(2027, 2, 2))
    )
    ids = {"osprey": osprey, "paid_invoice": paid.id}
    ids["seats"] = credited(paid.id, "300.00", "Seats removed", now=at(date(2027, 2, 5))).id
    bounced = refunded_offline(
        ids["seats"], "100.00", "W-FEB", sent_on=date(2027, 2, 20), now=at(date(2027, 2, 20))
    )
    services.return_offline_refund(
        bounced.id,
        reason="Beneficiary account closed",
        returned_on=date(2027, 3, 4),
        now=at(date(2027, 3, 6)),
        actor=billing_clerk(),
    )
    refunded_offline(
        ids["seats"], "150.00", "W-MAR", sent_on=date(2027, 3, 10), now=at(date(2027, 3, 10))
    )
    unpaid = issue(osprey, "1000.00", date(2027, 3, 1))
    ids["price"] = credited(unpaid.id, "200.00", "Price correction", now=at(date(2027, 3, 15))).id
    euros = issue(heron, "400.00", date(2027, 3, 2), currency="EUR")
    ids["euros"] = credited(euros.id, "50.00", "Seats removed", now=at(date(2027, 3, 20))).id
    april = issue(heron, "600.00", date(2027, 4, 1))
    ids["waived"] = credited(april.id, "80.00", "Late fee waived", now=at(date(2027, 4, 3))).id
    return ids


def test_a_billing_clerk_finds_every_credit_note_with_its_reason_and_what_went_back(
    app: Flask, billing_staff: User, signed_in: SignIn
) -> None:
    ids = _credit_notes()
    staff = signed_in(app.test_client(), billing_staff)
    # The console's navigation leads to it.
    assert f'href="{LIST}"' in staff.get("/console/").get_data(as_text=True)

    page = _listed(staff)
    rows = _rows(page)
    # Newest first, by the day issued.
    assert list(rows) == [ids["waived"], ids["euros"], ids["price"], ids["seats"]]
    seats = rows[ids["seats"]]
    assert "Osprey Analytics Inc." in seats
    assert "Seats removed" in seats
    assert "300.00 USD" in seats
    assert "2027-02-05" in seats
    # What went back: both wires counted sent on their days, the returned one said so,
    # and what is left to send (the returned 100.00 is owed again).
    assert (
        "300.00 USD owed back: 250.00 USD refunded, 100.00 USD of it returned by the bank; "
        "150.00 USD still to send"
    ) in seats
    assert "Nothing: all of it came off the balance due" in rows[ids["price"]]
    assert "50.00 EUR" in rows[ids["euros"]]
    # Each row links the credit note's page, its invoice and its licensee.
    assert f'href="/console/credit-notes/{ids["seats"]}"' in page
    assert f'href="/console/invoices/{ids["paid_invoice"]}"' in page
    assert f'href="/console/organizations/{ids["osprey"]}"' in page

    # Filtered: the month issued, with a currency, a range of months, the reason and
    # the licensee's name (any case).
    assert list(_rows(_listed(staff, month="2027-03"))) == [ids["euros"], ids["price"]]
    assert list(_rows(_listed(staff, month="2027-03", currency="usd"))) == [ids["price"]]
    range_usd = _listed(staff, **{"from": "2027-02", "to": "2027-03", "currency": "USD"})
    assert list(_rows(range_usd)) == [ids["price"], ids["seats"]]
    assert list(_rows(_listed(staff, **{"from": "2027-03"}))) == [
        ids["waived"],
        ids["euros"],
        ids["price"],
    ]
    assert list(_rows(_listed(staff, reason="SEATS"))) == [ids["euros"], ids["seats"]]
    assert list(_rows(_listed(staff, licensee="heron labs"))) == [ids["waived"], ids["euros"]]
    # A wildcard is only a character.
    assert "No credit note matches." in _listed(staff, reason="%")
    assert "No credit note matches." in _listed(staff, licensee="nobody of that name")


def test_the_lists_totals_for_a_month_are_the_finance_pages_credited_and_the_credit_notes_export(
    app: Flask, client: FlaskClient, billing_staff: User, signed_in: SignIn
) -> None:
    """March: 200.00 USD credited (Osprey's price correction) and 50.00 EUR (Heron's
    seats): the list's totals, the Finance page's *Credited* of March in each currency
    and the credit-notes export's rows of March; and February to April in USD, the
    range the Finance page links, 580.00 each way."""
    _credit_notes()
    staff = signed_in(app.test_client(), billing_staff)
    march = _totals(_listed(staff, month="2027-03"))
    assert march == {
        "EUR": ["1", "50.00 EUR", "50.00 EUR", "0.00 EUR"],
        "USD": ["1", "200.00 USD", "200.00 USD", "0.00 USD"],
    }
    months = {"from": "2027-02", "to": "2027-04", "currency": "USD"}
    ranged = _totals(_listed(staff, **months))
    assert ranged == {"USD": ["3", "580.00 USD", "280.00 USD", "300.00 USD"]}

    def export(currency: str, start: str, end: str) -> Decimal:
        answer = client.get(
            "/api/v1/exports/credit_notes",
            query_string={
                "format": "jsonl",
                "currency": currency,
                "by": "issued",
                "from": start,
                "to": end,
            },
            headers=bearer(billing_staff),
        )
        assert answer.status_code == 200, answer.get_data(as_text=True)
        return sum((Decimal(row["amount"]) for row in read_jsonl(answer.get_data())[1]), Decimal(0))

    def credited_figure(currency: str, first: date, last: date) -> Decimal:
        filters = finance.Filters(first, last, currency=currency)
        return sum((row.credited for row in finance.cash_flow(db.session(), filters)), Decimal(0))

    with time_machine.travel(datetime(2027, 5, 3, 15, tzinfo=UTC), tick=False):
        for currency in ("USD", "EUR"):
            figure = credited_figure(currency, date(2027, 3, 1), date(2027, 3, 1))
            assert Decimal(march[currency][1].removesuffix(f" {currency}")) == figure
            assert export(currency, "2027-03-01", "2027-03-31") == figure
        figure = credited_figure("USD", date(2027, 2, 1), date(2027, 4, 1))
        assert figure == export("USD", "2027-02-01", "2027-04-30") == Decimal("580.00")


# --- no query per row -------------------------------------------------------------------


def _many(organization_id: int, count: int, start: int) -> None:
    """`count` invoices, each credited: half paid first (owed back, part refunded).
    One of each kind through the services; the others copies of its rows (the
    invoice and its lines, the payment, the credit note, its refund), which is all
    the list reads of them: making 60 through the services was most of the test's
    time."""
    session = db.session()
    payments, notes, refunds = Payment.__table__, CreditNote.__table__, Refund.__table__
    made: dict[bool, tuple[int, int | None, int]] = {}
    for index in range(start, start + count):
        owed_back = bool(index % 2)
        reason = f"Seats removed {index}"
        if owed_back not in made:
            invoice = issue(organization_id, "100.00", date(2027, 3, 1))
            payment = None
            if owed_back:
                payment = paid_offline(
                    invoice.id,
                    "100.00",
                    f"W-{index}",
                    received_on=date(2027, 3, 2),
                    now=at(date(2027, 3, 2)),
                ).id
            note = credited(invoice.id, "40.00", reason, now=at(date(2027, 3, 3)))
            if owed_back:
                refunded_offline(
                    note.id,
                    "10.00",
                    f"R-{index}",
                    sent_on=date(2027, 3, 4),
                    now=at(date(2027, 3, 4)),
                )
            made[owed_back] = (invoice.id, payment, note.id)
            continue
        invoice_id, payment_id, note_id = made[owed_back]
        copy = copy_invoice(invoice_id, number=f"INV-2027-C{index:05d}")
        paid_copy = None
        if payment_id is not None:
            paid_copy = copy_row(
                payments,  # type: ignore[arg-type]
                payments.c.id == payment_id,  # type: ignore[attr-defined]
                invoice_id=copy,
                reference=f"W-{index}",
            )
        note_copy = copy_row(
            notes,  # type: ignore[arg-type]
            notes.c.id == note_id,  # type: ignore[attr-defined]
            invoice_id=copy,
            number=f"CN-2027-C{index:05d}",
            reason=reason,
            reason_key=name_key(reason),
        )
        if paid_copy is not None:
            copy_row(
                refunds,  # type: ignore[arg-type]
                refunds.c.credit_note_id == note_id,  # type: ignore[attr-defined]
                credit_note_id=note_copy,
                payment_id=paid_copy,
                reference=f"R-{index}",
            )
    session.commit()


def test_the_credit_notes_list_runs_the_same_statements_at_10_and_60_credit_notes(
    app: Flask, vendor: User, billing_staff: User, signed_in: SignIn
) -> None:
    staff = signed_in(app.test_client(), billing_staff)
    _many(vendor.organization_id, 10, 0)
    urls = (LIST, f"{LIST}?month=2027-03&licensee=a", f"{LIST}?from=2027-01&currency=USD")
    at_10 = [statements_for(app, staff, url) for url in urls]
    _many(vendor.organization_id, 50, 10)
    at_60 = [statements_for(app, staff, url) for url in urls]
    assert at_60 == at_10
    assert len(_rows(_listed(staff))) == 50


# --- who may read it, and what it refuses ----------------------------------------------


def test_billing_and_licensing_staff_open_the_credit_notes_list_and_a_vendor_may_not(
    app: Flask,
    vendor: User,
    billing_staff: User,
    licensing_staff: User,
    signed_in: SignIn,
) -> None:
    """The staff who read a credit note's page (billing and licensing staff, and
    admins) read the list; a vendor is refused, and finds no link."""
    for reader in (billing_staff, licensing_staff):
        assert signed_in(app.test_client(), reader).get(LIST).status_code == 200
    refused = signed_in(app.test_client(), vendor)
    assert refused.get(LIST).status_code == 403
    assert f'href="{LIST}"' not in refused.get("/portal/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("query", "status", "field", "said"),
    [
        ("month=2027-13", 422, "month", "Month issued takes a month such as 2027-03"),
        (
            "from=March",
            422,
            "from",
            "From month takes a month such as 2027-03; the link gave “March”",
        ),
        ("from=2027-05&to=2027-03", 422, "to", "To month cannot come before from month."),
        ("month=2027-03&from=2027-01", 422, "month", "give one month, or From month and To month"),
        ("currency=dollars", 422, "currency", "Currency takes a currency's code such as USD"),
        ("reason=a&reason=b", 400, "reason", "Reason takes one value, and the link gave it 2"),
    ],
)
def test_a_filter_the_credit_notes_list_cannot_read_is_refused_beside_its_field(
    app: Flask,
    billing_staff: User,
    signed_in: SignIn,
    query: str,
    status: int,
    field: str,
    said: str,
) -> None:
    _credit_notes()
    answer = signed_in(app.test_client(), billing_staff).get(f"{LIST}?{query}")
    assert answer.status_code == status
    markup = answer.get_data(as_text=True)
    assert f'id="{field}-error"' in markup
    assert said in _words(markup)
    assert "Nothing is listed until the filters above are corrected." in markup
    assert 'id="credit-notes-list"' not in markup


def test_the_reason_search_finds_a_reason_in_any_case_of_any_script_on_both_databases(
    app: Flask, billing_staff: User, signed_in: SignIn
) -> None:
    """Round 58 (financelinks58): the reason was searched with `ILIKE`, which SQLite
    runs as `LIKE`, folding ASCII letters only: "émile" did not find "Émile" there. It
    is compared by its stored key (`reason_key`, `name_key`), as the licensee's name
    is, so every case of every script finds it on both databases, and a search for
    one letter's case of another script finds nothing else."""
    session = db.session()
    osprey = factories.make_organization(session, legal_name="Osprey Analytics Inc.").id
    invoice = issue(osprey, "900.00", date(2027, 3, 1))
    ids = {
        reason: credited(invoice.id, "10.00", reason, now=at(date(2027, 3, day))).id
        for day, reason in enumerate(
            ("Seats for Émile removed", "ΣΟΦΊΑ office closed", "Straße branch sold"), start=2
        )
    }
    staff = signed_in(app.test_client(), billing_staff)
    for search, found in (
        ("émile", "Seats for Émile removed"),
        ("ÉMILE", "Seats for Émile removed"),
        ("σοφία", "ΣΟΦΊΑ office closed"),
        ("STRASSE", "Straße branch sold"),
    ):
        assert list(_rows(_listed(staff, reason=search))) == [ids[found]], search
    assert "No credit note matches." in _listed(staff, reason="emilie")

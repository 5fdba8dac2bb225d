"""Round 51's busy April 2027, made as it happens (docs/journeys.md, round 51), shared
by the month's close (`test_round51_finance_month.py`, whose docstring lists the
records) and the quarter's (round 59, `test_quarter_close_round59.py`): the `april`
fixture and the finance system that pulls every night.

Round 63: the month is made once a module and backend (`prepared_april`, on
`module_connection`, under the audit watch), not once a test; each test reads it
through its own app, in a savepoint rolled back after it, with the month's own people
(`vendor`, `billing_staff`) and its own copy of the finance system's mirror."""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection

from licensing import db
from licensing.accounts.models import User
from licensing.billing.models import CreditNote, Invoice, Payment
from licensing.db import Base
from licensing.ratecards import services as ratecards
from tests.conftest import DatabaseTemplate, app_in_transaction
from tests.integration.agreements.conftest import NOW
from tests.integration.billing.dispute_support import charge_of, dispute_event
from tests.integration.billing.refund_support import deliver, paid_by_card
from tests.integration.billing.stripe_support import (
    charge_refunded_event,
    deliver_event,
    pay_by_card,
    stripe_config,
    succeeded_event,
)
from tests.integration.exports.conftest import read_jsonl
from tests.integration.pricing.conftest import example_document
from tests.integration.royalties.conftest import DATA_FILE, SMALL_SOFTWARE, row
from tests.support import factories
from tests.support.agreements import make_active_agreement
from tests.support.audited import unaudited_state_changes
from tests.support.factories import bearer
from tests.support.servers import LocalStripe

ZERO = Decimal(0)
APRIL = (date(2027, 4, 1), date(2027, 4, 30))
MAY_FIRST = date(2027, 5, 1)
# 23:30 on 30 April at the office (Chicago, UTC-05:00 in summer time): 1 May in UTC.
LAST_EVENING = datetime(2027, 5, 1, 4, 30, tzinfo=UTC)
# 00:30 on 1 May at the office.
FIRST_MORNING = datetime(2027, 5, 1, 5, 30, tzinfo=UTC)
# The key docs/exports.md books each pulled dataset's rows by.
KEYS = {
    "invoices": ("invoice_id",),
    "payments": ("payment_id",),
    "refunds": ("refund_id",),
    "credit_notes": ("credit_note_id",),
    "royalty_report_lines": ("report_id", "line"),
    "revenue_recognition": ("document_type", "document_number", "line_position", "period"),
}
# credit notes are issued on the day they are written and never change: by issue date.
BASIS = {"credit_notes": "issued"}


@pytest.fixture
def config_changes(localstripe: LocalStripe) -> dict[str, Any]:
    return stripe_config(localstripe)


def _on(day: int, hour: int = 15, month: int = 4) -> datetime:
    """`hour` UTC on `day` April 2027 (10:00 at the office at 15:00)."""
    return datetime(2027, month, day, hour, 0, tzinfo=UTC)


class Finance:
    """The finance system: pulls every night after the office's midnight the last two
    office days `by=recorded` and keeps, per key, the last row pulled. Not `pulling`,
    it counts the nights and pulls nothing (round 64: the quarter's close reads no
    night's pull, and the month's 198 pulls were most of its making)."""

    def __init__(self, client: FlaskClient, staff: User, *, pulling: bool = True) -> None:
        self.client = client
        self.staff = staff
        self.pulling = pulling
        self.mirror: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = defaultdict(dict)
        self.pulled_until: date | None = None

    def export(self, dataset: str, **filters: Any) -> list[dict[str, Any]]:
        response = self.client.get(
            f"/api/v1/exports/{dataset}",
            query_string={"format": "jsonl", **filters},
            headers=_headers(self.staff),
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        return read_jsonl(response.get_data())[1]

    def pull(self, dataset: str, **days: str) -> list[dict[str, Any]]:
        return self.export(dataset, by=BASIS.get(dataset, "recorded"), **days)

    def keep(self, dataset: str, rows: Iterable[dict[str, Any]]) -> None:
        for found in rows:
            self.mirror[dataset][tuple(found[name] for name in KEYS[dataset])] = found

    def backfill(self, until: date) -> None:
        """The first night: every row recorded up to `until`."""
        for dataset in KEYS if self.pulling else ():
            self.keep(dataset, self.pull(dataset, to=until.isoformat()))
        self.pulled_until = until

    def nights_before(self, moment: datetime) -> None:
        """Every office night that ended before `moment`, pulled at 06:30 UTC the next
        morning (01:30 at the office), the last two days each night."""
        assert self.pulled_until is not None
        night = self.pulled_until + timedelta(days=1)
        while (
            datetime(night.year, night.month, night.day, 6, 30, tzinfo=UTC) + timedelta(days=1)
            <= moment
        ):
            with time_machine.travel(
                datetime(night.year, night.month, night.day, 6, 30, tzinfo=UTC) + timedelta(days=1),
                tick=False,
            ):
                for dataset in KEYS if self.pulling else ():
                    days = {
                        "from": (night - timedelta(days=1)).isoformat(),
                        "to": night.isoformat(),
                    }
                    self.keep(dataset, self.pull(dataset, **days))
            self.pulled_until = night
            night += timedelta(days=1)


_TOKENS: dict[int, tuple[datetime, dict[str, str]]] = {}


def _headers(user: User) -> dict[str, str]:
    """A token for `user`, made again when the month's clock has passed 60 of its
    90 days (a user holds at most 20 active tokens)."""
    now = datetime.now(UTC)
    made = _TOKENS.get(user.id)
    if made is None or not timedelta(0) <= now - made[0] < timedelta(days=60):
        made = (now, bearer(user))
        _TOKENS[user.id] = made
    return made[1]


def _api(client: FlaskClient, user: User, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/api/v1{path}", json=body, headers=_headers(user))
    assert response.status_code in (200, 201), (path, response.get_json())
    answer: dict[str, Any] = response.get_json()
    return answer


def _paid(
    client: FlaskClient,
    staff: User,
    invoice_id: int,
    amount: str,
    reference: str,
    method: str = "wire",
) -> dict[str, Any]:
    """`amount` received offline on the invoice, recorded by billing staff (the API)."""
    body = {"method": method, "amount": amount, "reference": reference}
    return _api(client, staff, f"/invoices/{invoice_id}/payments", body)


def _credited(client: FlaskClient, staff: User, invoice_id: int, amount: str, reason: str) -> str:
    """A credit note of `amount` on the invoice, issued by billing staff: its number."""
    body = {"amount": amount, "reason": reason}
    return str(_api(client, staff, f"/invoices/{invoice_id}/credit-notes", body)["number"])


def _manual(
    client: FlaskClient,
    staff: User,
    organization_id: int,
    amount: str,
    *,
    currency: str = "USD",
    what: str = "Consulting on a code-set migration",
) -> dict[str, Any]:
    draft = _api(
        client,
        staff,
        "/invoices",
        {
            "organization_id": organization_id,
            "currency": currency,
            "lines": [{"description": what, "amount": amount}],
            "payment_terms_days": 30,
        },
    )
    return _api(client, staff, f"/invoices/{draft['id']}/finalize", {})


def _file(
    client: FlaskClient, vendor: User, agreement: Any, rows: list[dict[str, Any]], **more: Any
) -> dict[str, Any]:
    return _api(
        client,
        vendor,
        f"/agreements/{agreement.id}/royalty-reports/2027-01-01",
        {"attest": True, "rows": rows, **more},
    )


def _invoice(number: str) -> Invoice:
    found = db.session().scalar(db.select(Invoice).where(Invoice.number == number))
    assert found is not None
    db.session().refresh(found)
    return found


def busy_april(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    billing_staff: User,
    localstripe: LocalStripe,
    active_agreement: Callable[..., Any],
    *,
    pulling: bool = True,
) -> tuple[Finance, dict[str, Any]]:
    """The records of the docstring, made in the order they happen, the finance
    system pulling every night in between (unless not `pulling`): (the finance
    system, what was made)."""
    books = Finance(client, billing_staff, pulling=pulling)
    _TOKENS.clear()
    session = db.session()
    other = factories.make_vendor(session)
    late_payer = factories.make_organization(session).id
    euro = factories.make_organization(session).id
    session.commit()
    made: dict[str, Any] = {}
    v_agreement = active_agreement(vendor, SMALL_SOFTWARE)
    w_agreement = active_agreement(other, DATA_FILE)
    last_minute = factories.make_vendor(session)
    x_agreement = active_agreement(last_minute, DATA_FILE)
    # The up-front invoices paid by wire in November, before the month.
    for agreement in (v_agreement, w_agreement, x_agreement):
        for invoice in session.scalars(
            db.select(Invoice).where(
                Invoice.source_type == "agreement", Invoice.source_id == agreement.id
            )
        ):
            if invoice.balance_due:
                with time_machine.travel(datetime(2026, 11, 10, 15, tzinfo=UTC), tick=False):
                    _paid(client, billing_staff, invoice.id, str(invoice.balance_due), "UP")
    with time_machine.travel(datetime(2027, 2, 20, 15, tzinfo=UTC), tick=False):
        made["overdue"] = _manual(client, billing_staff, late_payer, "600.00")
    books.backfill(date(2027, 3, 31))

    def at(moment: datetime) -> Any:
        books.nights_before(moment)
        return time_machine.travel(moment, tick=False)

    with at(_on(2)):
        made["v1"] = _file(client, vendor, v_agreement, [row(1, "A", quantity=3000)])
    with at(_on(3)):
        made["w1"] = _file(client, other, w_agreement, [row(1, "D", unit="", revenue="60000.00")])
    with at(_on(5)):
        made["void"] = _manual(client, billing_staff, late_payer, "80.00")
    with at(_on(6)):
        _api(client, billing_staff, f"/invoices/{made['void']['id']}/void", {"reason": "Twice"})
    royalty = _invoice(made["v1"]["invoice"])
    with at(_on(7)):
        _paid(client, billing_staff, royalty.id, "1000.00", "WIRE-V-0407", "wire")
    with at(_on(8)):
        made["euro"] = _manual(client, billing_staff, euro, "999.00", currency="EUR")
    with at(_on(8, 18)):
        made["check"] = _paid(
            client, billing_staff, made["overdue"]["id"], "200.00", "CHK-0408", "check"
        )
    with at(_on(9)):
        made["card_rest"] = paid_by_card(client, vendor, localstripe, _invoice(royalty.number))
    with at(_on(10)):
        made["v1b"] = _file(
            client,
            vendor,
            v_agreement,
            [row(1, "A", quantity=2900)],
            amends=made["v1"]["id"],
            reason="Clinic A had 2900 users",
        )
    (made["lowered"],) = made["v1b"]["credit_notes"]
    lowered = db.session().scalar(db.select(CreditNote).where(CreditNote.number == made["lowered"]))
    assert lowered is not None
    with at(_on(12)):
        refund = _api(
            client, billing_staff, f"/credit-notes/{lowered.id}/refunds", {"method": "card"}
        )
        if refund["state"] == "pending":
            deliver(client, charge_refunded_event(localstripe, made["card_rest"]))
    disputed: dict[str, tuple[Payment, str]] = {}

    def dispute(key: str, event: str, moved: tuple[datetime, ...], status: str) -> None:
        payment, charge = disputed[key]
        deliver(
            client,
            dispute_event(
                event,
                payment,
                charge,
                status=status,
                moved=moved,
                dispute_id=f"du_{key}",
                created=moved[0],
                told=datetime.now(UTC),
            ),
        )

    def paid_to_dispute(key: str) -> None:
        """A 250.00 invoice of V's paid by card, whose payment the bank will dispute."""
        invoice = _invoice(
            _manual(client, billing_staff, vendor.organization_id, "250.00")["number"]
        )
        made[key] = invoice.number
        payment = paid_by_card(client, vendor, localstripe, invoice)
        disputed[key] = (payment, charge_of(localstripe, payment))

    with at(_on(13)):
        paid_to_dispute("lost")
    with at(_on(14)):
        dispute("lost", "charge.dispute.created", (_on(14),), "needs_response")
    with at(_on(15)):
        made["w1b"] = _file(
            client,
            other,
            w_agreement,
            [row(1, "D", unit="", revenue="70000.00")],
            amends=made["w1"]["id"],
            reason="A late distributor's statement",
        )
    with at(_on(16)):
        paid_to_dispute("won")
    with at(_on(17)):
        dispute("won", "charge.dispute.created", (_on(17),), "needs_response")
    with at(_on(18)):
        short = _invoice(_manual(client, billing_staff, vendor.organization_id, "300.00")["number"])
        made["short"] = short.number
        flagged = pay_by_card(short, vendor, localstripe)
        event = copy.deepcopy(succeeded_event(localstripe, flagged))
        event["data"]["object"]["amount_received"] = 29999
        assert deliver_event(client, event).get_json()["outcome"].startswith("flagged")
    with at(_on(19)):
        accepted = _api(
            client,
            billing_staff,
            f"/payments/{flagged.id}/accept",
            {"reason": "The licensee's bank kept a cent; accepted."},
        )
        assert accepted["invoice_balance_due"] == "0.01"
    with at(_on(20)):
        dispute("lost", "charge.dispute.closed", (_on(14),), "lost")
        _paid(client, billing_staff, made["euro"]["id"], "400.00", "WIRE-EU-0420", "wire")
    with at(_on(21)):
        raised = _invoice(made["w1b"]["invoice"])
        made["staff_credit"] = _credited(
            client, billing_staff, raised.id, "50.00", "Goodwill: the statement came late"
        )
    with at(_on(22)):
        made["yen"] = _manual(client, billing_staff, euro, "123457", currency="JPY")
    with at(_on(23)):
        ran = app.test_cli_runner().invoke(
            args=["invoices", "overdue", "--now", _on(23).isoformat()]
        )
        assert ran.exit_code == 0, ran.output
    late_fee = db.session().scalar(
        db.select(Invoice).where(
            Invoice.source_type == "late_fee", Invoice.organization_id == late_payer
        )
    )
    assert late_fee is not None
    made["late_fee"] = late_fee.number
    with at(_on(24)):
        dispute("won", "charge.dispute.closed", (_on(17), _on(24)), "won")
    with at(_on(26)):
        _api(
            client,
            billing_staff,
            f"/payments/{made['check']['id']}/reversal",
            {"reason": "Check returned: insufficient funds.", "returned_on": "2027-04-26"},
        )
    with at(_on(27)):
        _paid(client, billing_staff, made["yen"]["id"], "100000", "WIRE-JP-0427", "wire")
        made["yen_credit"] = _credited(
            client, billing_staff, made["yen"]["id"], "457", "Rounded down, as agreed"
        )
    with at(_on(28)):
        # Round 53: a credit note beyond the balance (0.01 owed), refunded only in May.
        made["beyond"] = _credited(
            client, billing_staff, short.id, "100.00", "Seats never used: credited"
        )
    with at(LAST_EVENING):
        made["last_evening"] = _manual(client, billing_staff, late_payer, "1234.56")
        made["euro_late"] = _paid(
            client, billing_staff, made["euro"]["id"], "100.00", "WIRE-EU-LATE", "wire"
        )
        made["evening_credit"] = _credited(
            client, billing_staff, late_fee.id, "1.00", "Late fee waived in part"
        )
        # X files its first quarter on the evening it is due.
        made["x1"] = _file(
            client, last_minute, x_agreement, [row(1, "K", unit="", revenue="55000.00")]
        )
        # W pays the rest of its amendment's invoice by card that evening.
        made["evening_card"] = paid_by_card(client, other, localstripe, _invoice(raised.number))
    with at(FIRST_MORNING):
        made["first_morning"] = _manual(client, billing_staff, late_payer, "77.00")
    with at(_on(2, month=5)):
        # Round 53: April's last EUR wire returned by the bank in May, and the credit
        # beyond the balance of 28 April sent back by wire.
        _api(
            client,
            billing_staff,
            f"/payments/{made['euro_late']['id']}/reversal",
            {"reason": "Wire recalled by the sending bank.", "returned_on": "2027-05-02"},
        )
        beyond = db.session().scalar(
            db.select(CreditNote).where(CreditNote.number == made["beyond"])
        )
        assert beyond is not None
        _api(
            client,
            billing_staff,
            f"/credit-notes/{beyond.id}/refunds",
            {"method": "wire", "amount": "99.99", "reference": "RF-0502", "sent_on": "2027-05-02"},
        )
    books.nights_before(datetime(2027, 5, 3, 7, tzinfo=UTC))
    return books, made


# --- made once a module and backend (round 63) -----------------------------------------


@dataclass(frozen=True)
class Stored:
    """A record the module's data made, loaded again by id in each test's session."""

    model: type[Any]
    id: int


def stored(made: dict[str, Any]) -> dict[str, Any]:
    """`made` with each record (a payment) kept by its model and id."""
    return {
        key: Stored(type(value), value.id) if isinstance(value, Base) else value
        for key, value in made.items()
    }


def loaded(made: dict[str, Any]) -> dict[str, Any]:
    """`stored(made)` for one test: each record loaded in the test's session, the rest
    copied (a test may change its copy)."""
    session = db.session()
    return {
        key: (
            session.get(value.model, value.id)
            if isinstance(value, Stored)
            else copy.deepcopy(value)
        )
        for key, value in made.items()
    }


@dataclass(frozen=True)
class PreparedApril:
    """The busy month as the module's data holds it: its people by id, the finance
    system's mirror after the night of 2 May, and what was made."""

    vendor_id: int
    billing_staff_id: int
    mirror: dict[str, dict[tuple[Any, ...], dict[str, Any]]]
    pulled_until: date
    made: dict[str, Any]


@contextmanager
def module_app(
    request: pytest.FixtureRequest,
    database_template: DatabaseTemplate,
    module_connection: Connection,
    localstripe: LocalStripe,
) -> Iterator[Flask]:
    """An app on the module's shared connection (`module_connection`), Stripe's calls
    going to localstripe, whose writes stay for the module's tests. What it makes runs
    under the audit watch, as the `april` fixture's making did in each test's own app."""
    with app_in_transaction(
        database_template.url, stripe_config(localstripe), module_connection, keep=True
    ) as application:
        if request.config.getoption("no_audit_watch"):
            yield application
            return
        with unaudited_state_changes(application) as watch:
            yield application
        assert watch.gaps == [], "state changed with no audit event of the record"


@pytest.fixture(scope="module")
def pulled_nightly() -> bool:
    """Whether the finance system pulls every night of the month (the mirror a test
    reads); a module whose tests read no night's pull overrides it with False."""
    return True


@pytest.fixture(scope="module")
def prepared_april(
    request: pytest.FixtureRequest,
    database_template: DatabaseTemplate,
    module_connection: Connection,
    localstripe: LocalStripe,
    pulled_nightly: bool,
) -> PreparedApril:
    """The busy month, made once a module and backend on the module's connection
    (round 63: each of its tests made it anew, 3 to 8 s of set-up a test); each test
    reads it in a savepoint of its own (`april`). Its nights are pulled only where
    `pulled_nightly` (round 64)."""
    with module_app(request, database_template, module_connection, localstripe) as application:
        session = db.session()
        vendor = factories.make_vendor(session)
        billing_staff = factories.make_staff(session, roles=("billing",))
        ratecards.import_card(example_document(), published_by="tests")
        licensing_staff = factories.make_staff(session, roles=("licensing",))

        def active_agreement(licensee: User, *uses: dict[str, Any]) -> Any:
            return make_active_agreement(licensee, licensing_staff, *uses, now=NOW)

        books, made = busy_april(
            application,
            application.test_client(),
            vendor,
            billing_staff,
            localstripe,
            active_agreement,
            pulling=pulled_nightly,
        )
        _TOKENS.clear()  # made in the module's app: each test makes its own
        return PreparedApril(
            vendor.id, billing_staff.id, books.mirror, books.pulled_until, stored(made)
        )


@pytest.fixture(name="vendor")
def april_vendor(prepared_april: PreparedApril, app: Flask) -> User:
    """`vendor` in a module of the month: V's user, who filed its first quarter at
    3,000 end users."""
    found = db.session().get(User, prepared_april.vendor_id)
    assert found is not None
    return found


@pytest.fixture(name="billing_staff")
def april_billing_staff(prepared_april: PreparedApril, app: Flask) -> User:
    """`billing_staff` in a module of the month: who recorded the month."""
    found = db.session().get(User, prepared_april.billing_staff_id)
    assert found is not None
    return found


@pytest.fixture
def april(
    prepared_april: PreparedApril, app: Flask, client: FlaskClient, billing_staff: User
) -> tuple[Finance, dict[str, Any]]:
    """The module's busy month for one test, whose `app` runs in a savepoint of the
    module's connection: (the finance system, reading through this test's client with
    its own copy of the mirror; what was made)."""
    _TOKENS.clear()
    books = Finance(client, billing_staff)
    books.mirror = copy.deepcopy(prepared_april.mirror)
    books.pulled_until = prepared_april.pulled_until
    return books, loaded(prepared_april.made)

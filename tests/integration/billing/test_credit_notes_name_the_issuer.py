"""Round 58 (decided58): a credit note kept only the address of who issued it
(`issued_by`), and its page and the credit notes' list showed that address bare: an
address changed and given to a newcomer since read as the newcomer's. A note keeps the
account's id (`issued_by_id`, agreements_0011) and both pages name the person by it,
"Name (address)"; a note issued before keeps its address and is named by it."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from licensing import db
from licensing.actors import Actor
from licensing.billing import services
from licensing.billing.models import CreditNote, Invoice
from tests.support.console_lists import words
from tests.support.named_people import address_passed_on, staff_named, users_read_in_words

SignIn = Callable[..., FlaskClient]
LIST = "/console/credit-notes"


def _credit(invoice: Invoice, actor: Actor) -> CreditNote:
    return services.issue_credit_note(
        invoice.id, amount=Decimal("10.00"), reason="Seats removed.", actor=actor
    )


def _read(client: FlaskClient, path: str) -> str:
    answer = client.get(path)
    assert answer.status_code == 200, path
    return words(answer.get_data(as_text=True))


def test_a_credit_note_names_who_issued_it_after_theiraddress_passed_on(
    app: Flask,
    signed_in: SignIn,
    vendor: Any,
    billing_staff: Any,
    invoice_for: Callable[..., Invoice],
) -> None:
    clerk, issuing = staff_named("Tomasz Wren", ("billing",))
    named = f"Tomasz Wren ({clerk.email})"
    credit = _credit(invoice_for(vendor, ("500.00",)), issuing)
    assert (credit.issued_by, credit.issued_by_id) == (clerk.email, clerk.id)
    newcomer = address_passed_on(clerk)
    client = signed_in(app.test_client(), billing_staff)
    page = _read(client, f"/console/credit-notes/{credit.id}")
    assert f"by {named}" in page
    assert "Ines Newcombe" not in page
    listed = _read(client, LIST)
    assert f"by {named}" in listed
    assert "Ines Newcombe" not in listed

    # A note issued before agreements_0011 kept no account: named by its address.
    session = db.session()
    session.execute(update(CreditNote).where(CreditNote.id == credit.id).values(issued_by_id=None))
    session.commit()
    recorded = f"{newcomer.full_name} ({newcomer.email})"
    assert f"by {recorded}" in _read(client, f"/console/credit-notes/{credit.id}")
    assert f"by {recorded}" in _read(client, LIST)


def test_the_credit_notes_list_reads_who_issued_them_in_one_statement(
    app: Flask,
    signed_in: SignIn,
    vendor: Any,
    billing_staff: Any,
    invoice_for: Callable[..., Invoice],
) -> None:
    """However many clerks the page names, one statement reads them."""

    client = signed_in(app.test_client(), billing_staff)
    invoice = invoice_for(vendor, ("500.00",))
    first, issuing = staff_named("Clerk One", ("billing",))
    _credit(invoice, issuing)
    listed, few = users_read_in_words(app, client, LIST)
    assert f"by Clerk One ({first.email})" in listed
    clerks = [staff_named(f"Clerk {n}", ("billing",)) for n in ("Two", "Three", "Four", "Five")]
    for _person, actor in clerks:
        _credit(invoice, actor)
    listed, many = users_read_in_words(app, client, LIST)
    assert many == few
    for person, _actor in clerks:
        assert f"by {person.full_name} ({person.email})" in listed

"""Round 50: a licensing analyst checks every number by hand, with the rate card and a
calculator (docs/journeys.md): each place a figure appears says the step that makes it."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import services as agreements
from licensing.billing.models import CreditNote, Invoice
from tests.integration.agreements.conftest import SMALL_USE, draft
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture
from tests.integration.royalties.conftest import (  # noqa: F401 - the fixtures
    DEVELOPMENT,
    SMALL_SOFTWARE,
    SOFTWARE,
    active_agreement,
    file_report,
    lowered_by_amendment,
    row,
)
from tests.support.agreements import accept, agreement_of, upfront_invoice
from tests.support.documents import pdf_text, stored_pdf
from tests.support.factories import bearer
from tests.support.settings import issuing

SignIn = Callable[..., FlaskClient]

# 2027-03-01 to 2027-05-12: 73 of the 2027.1 card's 365 days, which the working
# multiplies by as 1/5 (the fraction in lowest terms).
FIFTH = (date(2027, 3, 1), date(2027, 5, 12))
SHARE = "the term is 73 of the rate card period's 365 days, 73/365 = 1/5 (20%)"


def _flat(text: str) -> str:
    return " ".join(html.unescape(text).split())


def _issued(vendor: Any, term: tuple[date, date], *uses: dict[str, Any]) -> Any:
    """`uses` over `term`, drafted by `vendor` and approved at submission: the agreement."""
    principal = accounts.principal_for(vendor)
    drafted = agreements.create_draft(Actor.of(principal), draft(*uses, term=term))
    agreements.submit(drafted.id, Actor.of(principal), policy=issuing(), attest=True)
    agreement = agreement_of(drafted)
    assert agreement.state == "issued"
    return agreement


def test_an_estimate_says_the_days_behind_the_fraction_its_working_multiplies_by(
    client: FlaskClient,
    example_card: str,  # noqa: F811
) -> None:
    # The caption said "the term is 20.0% of the rate card period" above "minimum
    # 1,000.00 x 1/5 (prorated)": neither the 73 days nor the card's 365 were on the
    # page, and 20.0% of a minimum is a rounded figure where rounding happened.
    query = urlencode(
        {
            "organization_type": "commercial",
            "term_start": FIFTH[0].isoformat(),
            "term_end": FIFTH[1].isoformat(),
            "rate_card": "",
            "uses-0-use": "distribution",
            "uses-0-product_type": "software",
            "uses-0-user_type": "provider",
            "uses-0-quantity-end_users": "10",
        }
    )
    page = _flat(client.get(f"/estimate?{query}").get_data(as_text=True))
    assert "minimum 1,000.00 x 1/5 (prorated) = 200.00" in page
    assert (
        f"Rate card 2027.1 · {SHARE}: the minimum of use 1 is prorated to it; the royalty "
        "on usage of use 1 is not"
    ) in page
    assert "20.0% of the rate card period" not in page
    # The total's cell wrote "1,000.00" alone, where every other quote's total row
    # (the application's, the agreement's) says its currency.
    assert (
        '<th scope="row" colspan="3">Total</th><td class="num"><strong>200.00 USD</strong>' in page
    )


def test_the_review_page_agreement_page_and_pdf_say_the_share_of_the_period_alike(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    licensing_staff: Any,
    example_card: str,  # noqa: F811
) -> None:
    agreement = _issued(vendor, FIFTH, SMALL_USE)
    signed_in(client, vendor)
    page = _flat(client.get(f"/portal/agreements/{agreement.id}").get_data(as_text=True))
    assert SHARE in page
    # The PDF named the card and its working said "x 1/5 (prorated)": the card's period
    # and the days counted were nowhere in it.
    text = _flat(pdf_text(stored_pdf(agreement)))
    assert (
        "Royalties are computed with rate card 2027.1. Its period is January 1, 2027 to "
        f"December 31, 2027, and {SHARE}: flat fees, minimums and maximums are prorated by it, "
        "royalties on usage are not."
    ) in text
    assert "minimum 1,000.00 x 1/5 (prorated) = 200.00" in text
    client.get("/sign-out")
    signed_in(client, licensing_staff)
    review = _flat(
        client.get(f"/console/applications/{agreement.application_id}").get_data(as_text=True)
    )
    assert SHARE in review


def test_an_agreement_for_the_whole_period_is_drawn_without_the_share(
    vendor: Any,
    example_card: str,  # noqa: F811
) -> None:
    agreement = _issued(vendor, (date(2027, 1, 1), date(2027, 12, 31)), SMALL_USE)
    text = _flat(pdf_text(stored_pdf(agreement)))
    assert "Royalties are computed with rate card 2027.1." in text
    assert "Its period is" not in text
    assert "of the rate card period's" not in text


def test_the_up_front_invoice_subtracts_the_usage_royalties_it_leaves_to_the_reports(
    client: FlaskClient,
    signed_in: SignIn,
    vendor: Any,
    example_card: str,  # noqa: F811
) -> None:
    # "amount: 1,000.00 USD; of this, 185.00 is usage royalties, invoiced on reported
    # usage; charged now ...: 815.00 USD": the analyst did the subtraction themselves.
    agreement = accept(_issued(vendor, (date(2027, 1, 1), date(2027, 12, 31)), SMALL_USE), vendor)
    invoice = upfront_invoice(agreement)
    assert invoice is not None
    (line,) = invoice.lines
    assert line.working.endswith(
        "amount: 1000.00 USD; of this, 185.00 is usage royalties, invoiced on reported usage: "
        "1000.00 - 185.00 = 815.00; charged now (flat fees and the minimum's lift): 815.00 USD"
    )
    signed_in(client, vendor)
    page = _flat(client.get(f"/portal/invoices/{invoice.id}").get_data(as_text=True))
    assert "invoiced on reported usage: 1,000.00 - 185.00 = 815.00; charged now" in page


def test_the_finance_exports_lines_name_the_rule_and_card_of_each_fee_and_royalty(
    client: FlaskClient,
    vendor: Any,
    billing_staff: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # The export's royalty line read "Royalty, line 1 (Scrubber Lite), period ..." and
    # its fee line named the rule alone: the card that priced them was on the invoice's
    # memo and in its working, neither of which the export carries.
    agreement = active_agreement(vendor, SMALL_SOFTWARE, DEVELOPMENT)
    file_report(vendor, agreement, 1, [row(1, "A", quantity=60)])
    answer = client.get(
        "/api/v1/exports/invoice_lines",
        query_string={"format": "csv"},
        headers=bearer(billing_staff),
    )
    assert answer.status_code == 200
    lines = answer.get_data(as_text=True).splitlines()[1:]
    assert [line.rsplit(",", 1)[1] for line in lines] == ["815.00", "2500.00", "295.00"]
    fee, development, royalty = lines
    assert (
        "(Installed, hosted and mobile software, per end user; rule distribution-software of "
        'rate card 2027.1)",815.00'
    ) in fee
    assert '(rule development of rate card 2027.1)",2500.00' in development
    assert (
        ',"Royalty, line 1 (Scrubber Lite; rule distribution-software of rate card 2027.1), '
        'period 2027-01-01 to 2027-03-31",295.00'
    ) in royalty


def test_a_royalty_line_names_its_up_front_amount_as_the_up_front_invoice_does(
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # The up-front line ended "charged now (flat fees and the minimum's lift): 815.00
    # USD", the royalty line said "the larger of the up-front 815.00": one figure, named
    # two ways, and nothing said the minimum's lift was in it.
    agreement = active_agreement(vendor, SMALL_SOFTWARE)
    filing = file_report(vendor, agreement, 1, [row(1, "A", quantity=60)])
    (line,) = filing.lines
    # Its invoice names the term as the up-front invoice does ("term ... (rate card ...)"):
    # a prorated minimum's fraction counts its days.
    invoice = db.session().scalars(select(Invoice).where(Invoice.number == filing.invoice_number))
    assert (
        f"under license agreement {agreement.number}, term January 1, 2027 to "
        "December 31, 2027 (rate " in (invoice.one().memo)
    )
    up_front = upfront_invoice(agreement)
    assert up_front is not None
    assert (
        "charged to date = the larger of the up-front 815.00 (flat fees and the minimum's "
        f"lift, charged on acceptance by invoice {up_front.number}) and the amount to date "
        "1110.00 = 1110.00"
    ) in line.explanation


def test_a_royalty_line_charged_nothing_up_front_says_so_rather_than_the_larger_of_zero(
    client: FlaskClient,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # Round 51's vendor, told on accepting "Nothing is due up front", read on every
    # royalty invoice "the larger of the up-front 0.00 (flat fees and the minimum's
    # lift, charged on acceptance) and the amount to date 1,757.50": a charge on
    # acceptance that never was, and a comparison with nothing.
    agreement = active_agreement(vendor, SOFTWARE)  # 2,500 end users: over the minimum
    assert upfront_invoice(agreement) is None
    filing = file_report(vendor, agreement, 1, [row(1, "A", quantity=60)])
    (line,) = filing.lines
    assert (
        "charged to date = the amount to date 1110.00 (nothing was charged up front on acceptance)"
    ) in line.explanation
    assert not any("the larger of the up-front" in step for step in line.explanation)
    invoice = (
        db.session().scalars(select(Invoice).where(Invoice.number == filing.invoice_number)).one()
    )
    (stored,) = invoice.lines
    assert "charged to date = the amount to date 1110.00 (nothing was charged up front" in (
        stored.working
    )


def test_a_royalty_lines_working_names_the_up_front_invoice_by_its_number(
    client: FlaskClient,
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # "the up-front 815.00 (flat fees and the minimum's lift, charged on acceptance)":
    # the analyst had to look for the invoice that charged it. The working names it,
    # the same on the stored line, the API's line and the invoice's PDF.
    agreement = active_agreement(vendor, SMALL_SOFTWARE)
    up_front = upfront_invoice(agreement)
    assert up_front is not None
    filing = file_report(vendor, agreement, 1, [row(1, "A", quantity=60)])
    invoice = (
        db.session().scalars(select(Invoice).where(Invoice.number == filing.invoice_number)).one()
    )
    words = f"charged on acceptance by invoice {up_front.number})"
    (line,) = invoice.lines
    assert words in line.working
    headers = bearer(vendor)
    answer = client.get(f"/api/v1/invoices/{invoice.id}", headers=headers)
    assert answer.status_code == 200
    (api_line,) = answer.get_json()["lines"]
    assert api_line["working"] == line.working
    pdf = client.get(f"/api/v1/invoices/{invoice.id}/pdf", headers=headers)
    assert pdf.status_code == 200
    assert words in _flat(pdf_text(pdf.get_data()))


def test_an_amendments_credit_note_says_the_whole_it_is_part_of(
    vendor: Any,
    active_agreement: Any,  # noqa: F811
    file_report: Any,  # noqa: F811
) -> None:
    # The reason said "... lowers the royalty of agreement CPT-..." with no figure: a
    # lowering spread over two invoices' credit notes added up to nothing shown.
    agreement = active_agreement(vendor, SOFTWARE)
    lowered_by_amendment(file_report, vendor, agreement)
    credit = db.session().scalars(select(CreditNote)).one()
    assert credit.amount == Decimal("1200.00")
    assert credit.reason.endswith(
        f"lowers the royalty of agreement {agreement.number} by 1,200.00 USD in all"
    )

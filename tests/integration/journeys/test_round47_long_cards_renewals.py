"""Round 47: long cards in the agreement, and renewals of organizations that left. An
agreement priced on a card that runs open-ended or longer than `LONG_CARD_DAYS` says
in Schedule A what the contract's proration made of each prorated amount, as its
quote did, and so does the reminder that an agreement is ending, of the renewal's
price; agreements issued before keep their bytes (docs/journeys.md)."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.agreements import services
from licensing.agreements.models import Agreement
from licensing.mail.models import OutboxMessage
from licensing.ratecards import services as ratecards
from tests.integration.agreements.conftest import (  # noqa: F401 - the fixture
    AUTO_USE,
    DEVELOPMENT_USE,
    NOW,
    apply,
)
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture
from tests.support.agreements import agreement_of
from tests.support.documents import downloaded_pdf, pdf_text
from tests.support.long_cards import agreement_of_2027, card_2028, submitted_on_2028
from tests.support.settings import issuing

# The quote's page sentence (round 44), amounts as pages and documents write them.
FEE_SENTENCE = (
    "Rate card 2028.1 runs to 9999-12-31 (2,911,713 days) and the contract prorates over all "
    "of it: the development flat fee of 5,000.00 USD is 0.63 USD for this term of 366 days."
)
MINIMUM_SENTENCE = (
    "Rate card 2028.1 runs to 9999-12-31 (2,911,713 days) and the contract prorates over all "
    "of it: the distribution-software minimum of 1,000.00 USD is 0.13 USD for this term of "
    "366 days."
)


def flat(text: str) -> str:
    """Text with its line breaks and runs of spaces made one space (a PDF's lines)."""
    return re.sub(r"\s+", " ", text)


def issued_on_2028(vendor: Any, **policy: Any) -> Agreement:
    """The vendor's application for 2028 (Scrubber Pro and its SDK), approved at once
    under the app configuration's issuing policy with `policy`'s fields changed."""
    terms = dataclasses.replace(issuing(), auto_approve=True, **policy)
    return agreement_of(submitted_on_2028(vendor, terms))


# --- item 1: the agreement PDF and the renewal email ---------------------------------------


def test_an_agreement_on_an_open_ended_card_prints_the_quotes_warning_in_schedule_a(
    app: Flask,
    example_card: str,  # noqa: F811
    vendor: Any,
    signed_in: Any,
) -> None:
    # The quote said why the SDK's fee came to 0.63; the agreement printed 0.63 alone.
    ratecards.import_card(card_2028(), published_by="tests")
    agreement = issued_on_2028(vendor)
    portal: FlaskClient = signed_in(app.test_client(), vendor)
    text = flat(
        pdf_text(downloaded_pdf(portal, f"/portal/agreements/{agreement.id}/agreement.pdf"))
    )
    assert FEE_SENTENCE in text
    assert MINIMUM_SENTENCE in text
    assert "Rate card 2028.1 runs open-ended, and these fees are prorated over all of it" in text
    # Each after its own use's working, in Schedule A.
    schedule = text[text.index("Schedule A: licensed uses") : text.index("Schedule B:")]
    sdk = schedule.index("Scrubber Pro SDK (rule development)")
    assert schedule.index(MINIMUM_SENTENCE) < sdk < schedule.index(FEE_SENTENCE)


def test_an_agreement_on_a_yearly_card_says_nothing_of_proration(
    app: Flask,
    example_card: str,  # noqa: F811
    vendor: Any,
    signed_in: Any,
) -> None:
    ratecards.import_card(card_2028("2028-12-31"), published_by="tests")
    agreement = issued_on_2028(vendor)
    text = flat(pdf_text(agreement.pdf))
    assert "prorates over all of it" not in text
    assert "prorated over all of it" not in text


def test_an_agreement_issued_before_keeps_its_bytes_and_a_new_one_says_it(
    app: Flask,
    example_card: str,  # noqa: F811
    vendor: Any,
    signed_in: Any,
) -> None:
    # A card of twelve years is long at the default threshold (3,653 days), not at
    # 36,525: the first agreement is issued under the larger threshold, as one issued
    # before the warning was printed, and is served as issued under the default.
    ratecards.import_card(card_2028("2039-12-31"), published_by="tests")
    before = issued_on_2028(vendor, long_card_days=36525)
    issued_bytes = before.pdf
    assert "prorates over all of it" not in flat(pdf_text(issued_bytes))
    portal: FlaskClient = signed_in(app.test_client(), vendor)
    served = downloaded_pdf(portal, f"/portal/agreements/{before.id}/agreement.pdf")
    assert served == issued_bytes
    assert before.pdf_sha256 == db.session().get(Agreement, before.id).pdf_sha256

    after = issued_on_2028(vendor)
    text = flat(pdf_text(after.pdf))
    assert "Rate card 2028.1 runs longer than ten years, and these fees are prorated" in text
    assert "Rate card 2028.1 runs to 2039-12-31 (4,383 days)" in text


def _reminders(number: str) -> list[OutboxMessage]:
    return [
        message
        for message in db.session().scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        if message.subject.endswith(f"Agreement {number}: ends on 2027-12-31")
    ]


def test_the_ending_reminder_says_what_the_long_card_makes_of_the_renewals_fees(
    apply: Any,  # noqa: F811
    vendor: Any,
) -> None:
    # "The renewal is ... priced on the rate card in effect then" said nothing of the
    # cents an open-ended card's proration would make of its fees.
    agreement = agreement_of_2027(apply, vendor)
    ratecards.import_card(card_2028(), published_by="tests")
    report = services.expire(now=datetime(2027, 11, 1, 15, 0, tzinfo=UTC))
    assert report.ending_reminded == [agreement.number]
    to_renewers, to_contact = _reminders(agreement.number)
    for message in (to_renewers, to_contact):
        body = flat(message.body_text)
        assert "priced on the rate card in effect then" in body
        assert MINIMUM_SENTENCE in body
        assert FEE_SENTENCE in body
    assert (
        f"priced on the rate card in effect then. {MINIMUM_SENTENCE} {FEE_SENTENCE} Royalty "
        "reports for this term"
    ) in flat(to_renewers.body_text)


def test_the_ending_reminder_on_a_yearly_card_is_as_before(
    apply: Any,  # noqa: F811
    vendor: Any,
) -> None:
    agreement = agreement_of_2027(apply, vendor)
    ratecards.import_card(card_2028("2028-12-31"), published_by="tests")
    services.expire(now=datetime(2027, 11, 1, 15, 0, tzinfo=UTC))
    (to_renewers, _to_contact) = _reminders(agreement.number)
    assert "priced on the rate card in effect then. Royalty reports for this term" in flat(
        to_renewers.body_text
    )
    assert "prorates over all of it" not in to_renewers.body_text

"""The agreement PDF, read back with pypdf."""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from pypdf import PdfReader

from licensing.agreements.documents import (
    AgreementDocument,
    Clause,
    LicensedUse,
    Obligation,
    Party,
    render_agreement_pdf,
)
from tests.support.glyphs import CJK_NAMES, EUROPEAN_NAMES, drawn_without_glyph, misdrawn


def _document(**changes: object) -> AgreementDocument:
    values: dict[str, object] = {
        "number": "CPT-2027-000042",
        "issued_on": date(2026, 12, 1),
        "licensor": Party("CPT Licensing Office", ("1 Example Plaza", "Chicago, IL 60601")),
        "licensee": Party("Bluefin Claims Ltd", ("9 Harbour Road",), "a commercial organization"),
        "term_start": date(2027, 1, 1),
        "term_end": date(2027, 12, 31),
        "rate_card": "2027.1",
        "currency": "USD",
        "uses": (
            LicensedUse(
                product="Scrubber Pro",
                description="Claims scrubbing for clinics",
                use="distribution",
                product_type="saas",
                user_type="provider",
                delivery="hosted",
                territories="United States",
                languages="en",
                royalty_terms="Per end user, graduated; minimum 1000.00 a year",
                working=("2500 end_users, graduated: ... = 33800.00",),
                amount=Decimal("33800.00"),
                rule="distribution-software",
            ),
        ),
        "total": Decimal("33800.00"),
        "obligations": (Obligation("Royalty report for Q1 2027", date(2027, 4, 30)),),
        "payment_terms": "Invoices are payable within 30 days.",
        "late_fee_terms": "Late fee: 1.5% a month.",
        "copyright_notice": "CPT © 2026 American Medical Association. All rights reserved.",
        "trademark_notice": "CPT® is a registered trademark of the American Medical Association.",
        "clauses": tuple(
            Clause(f"Heading {n}", tuple(f"Paragraph {n}.{m} " + "words " * 60 for m in range(3)))
            for n in range(1, 9)
        ),
    }
    values.update(changes)
    return AgreementDocument(**values)  # type: ignore[arg-type]


def _text(data: bytes) -> tuple[str, int]:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages), len(reader.pages)


def test_the_agreement_names_parties_uses_fees_and_notices() -> None:
    text, pages = _text(render_agreement_pdf(_document()))
    assert "CPT Content End-User License Agreement" in text
    assert "Bluefin Claims Ltd" in text
    assert "Scrubber Pro" in text
    assert "33,800.00 USD" in text  # grouped as on the agreement's page (round 12)
    assert "Royalty report for Q1 2027" in text
    # Days in words (round 56): the obligation's due day, the issue day, the term.
    assert "April 30, 2027" in text
    assert "2027-04-30" not in text
    assert "issued December 1, 2026" in text
    assert "Term: January 1, 2027 to December 31, 2027 (both days included)" in " ".join(
        text.split()
    )
    assert "CPT © 2026 American Medical Association. All rights reserved." in text
    assert "CPT® is a registered trademark of the American Medical Association." in text
    assert "Acceptance" in text
    assert pages > 1


def test_clauses_are_numbered_and_every_page_is_numbered() -> None:
    data = render_agreement_pdf(_document())
    reader = PdfReader(io.BytesIO(data))
    total = len(reader.pages)
    for number, page in enumerate(reader.pages, start=1):
        page_text = page.extract_text()
        assert f"Page {number} of {total}" in page_text
        assert "Agreement CPT-2027-000042" in page_text
    text, _ = _text(data)
    assert "3. Heading 3" in text
    assert "3.2" in text


def test_a_use_priced_by_staff_and_an_amendment_are_shown() -> None:
    use = _document().uses[0]
    amended = LicensedUse(**{**use.__dict__, "amount": None, "modification_note": "pilot rate"})
    text, _ = _text(render_agreement_pdf(_document(uses=(amended,))))
    assert "Priced by staff" in text
    assert "Amended by the Licensor: pilot rate" in text


def test_the_same_agreement_renders_to_the_same_bytes() -> None:
    assert render_agreement_pdf(_document()) == render_agreement_pdf(_document())


LONG_CARD_SENTENCE = (
    "Rate card 2028.1 runs to 9999-12-31 (2,911,713 days) and the contract prorates over all "
    "of it: the distribution-software minimum of 1,000.00 USD is 0.13 USD for this term of "
    "366 days."
)


def test_a_long_cards_sentences_follow_the_uses_working_under_the_schedules_note() -> None:
    # Round 47: an agreement on an open-ended card printed its cents without a word.
    use = replace(_document().uses[0], proration_warnings=(LONG_CARD_SENTENCE,))
    note = "Rate card 2028.1 runs open-ended, and these fees are prorated over all of it."
    text, _ = _text(render_agreement_pdf(_document(uses=(use,), long_card_note=note)))
    flat = " ".join(text.split())
    assert LONG_CARD_SENTENCE in flat
    assert flat.index(note) < flat.index("= 33800.00") < flat.index(LONG_CARD_SENTENCE)


def test_an_agreement_on_any_other_card_is_drawn_byte_for_byte_as_before() -> None:
    # The digest the renderer of 395aaed3 (before round 47) drew of this document: the
    # note and the sentences add nothing to an agreement without them. An intended
    # change to every agreement's drawing updates it, saying so: round 56 writes its
    # days in words ("issued December 1, 2026", the term, Schedule B's due days);
    # pdffonts59 leaves out the Helvetica object no text was drawn in (the same text
    # and pages, pixel for pixel).
    drawn = render_agreement_pdf(_document())
    assert (
        hashlib.sha256(drawn).hexdigest()
        == "08fba2418a91e9304b62ebacb11c0f867f0f7046f3de2803c4136c2e87399553"
    )


def test_licensee_names_in_any_european_script_are_drawn_letter_for_letter() -> None:
    names = EUROPEAN_NAMES.values()
    licensee = Party("Dvořák s.r.o. & Erdős Kft.", tuple(names), "a commercial organization")
    use = replace(_document().uses[0], product="Łódź Scrubber Ψ", description="Для клиник")
    data = render_agreement_pdf(_document(licensee=licensee, uses=(use,)))
    text, _ = _text(data)
    text = " ".join(text.split())
    for value in (licensee.name, *names, use.product, use.description):
        assert value in text
    drawn = "".join(names) + licensee.name + use.product + use.description
    assert drawn_without_glyph(data, drawn) == []


@pytest.mark.parametrize("language", sorted(CJK_NAMES))
def test_licensee_names_in_chinese_japanese_and_korean_are_drawn_in_their_cid_font(
    language: str,
) -> None:
    name, cid_font = CJK_NAMES[language]
    licensee = Party(f"{name} (Kestrel K.K.)", (f"{name} 1-2-3", "Zoë Tower"), "a company")
    use = replace(_document().uses[0], product=f"{name} Scrubber", description=f"Für {name}")
    data = render_agreement_pdf(_document(licensee=licensee, uses=(use,)))
    text = " ".join(_text(data)[0].split())
    values = (licensee.name, *licensee.address_lines, use.product, use.description)
    for value in values:
        assert value in text
    assert misdrawn(data, "".join(values), cid_font) == []

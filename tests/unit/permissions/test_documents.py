"""Decision letters: what the PDFs say, read back with pypdf."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from pypdf import PdfReader

from licensing.permissions import documents
from tests.support.glyphs import CJK_NAMES, misdrawn

REQUESTER = documents.Requester(
    name="Lena Ortiz",
    email="lena.ortiz@cedar-ridge.example",
    institution="Cedar Ridge Community College",
    role="Faculty",
)


def _text(data: bytes) -> str:
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return " ".join(text.split())


def _grant(**changes: object) -> documents.GrantLetter:
    values: dict[str, object] = {
        "number": "PR-2027-000007-G1",
        "request_reference": "PR-2027-000007",
        "issued_on": date(2027, 2, 3),
        "requester": REQUESTER,
        "permitted_use": "Section guidelines for visit services, in unit 4 slides.",
        "purpose": "Course materials",
        "medium": "Learning-management system",
        "audience_size": 45,
        "conditions": ("Show the notice on every slide.", "Remove the slides after the term."),
        "valid_from": date(2027, 2, 3),
        "valid_until": date(2027, 6, 30),
    }
    values.update(changes)
    return documents.GrantLetter(**values)  # type: ignore[arg-type]


def test_a_grant_letter_names_the_requester_use_conditions_period_and_notices() -> None:
    text = _text(documents.render_grant_letter(_grant()))
    assert "Lena Ortiz" in text
    assert "Section guidelines for visit services" in text
    assert "1. Show the notice on every slide." in text
    assert "2. Remove the slides after the term." in text
    assert "valid from February 3, 2027 until June 30, 2027" in text  # in words (round 56)
    # Valid from 2027: the 2027 release, copyright 2026 (`licensing.notices`).
    assert "CPT © 2026 American Medical Association. All rights reserved." in text
    assert "CPT® is a registered trademark of the American Medical Association." in text
    assert "Page 1 of" in text


def test_a_grant_letter_without_conditions_says_so_in_a_sentence_not_a_numbered_list() -> None:
    # Round 58: it printed "Conditions 1. No conditions beyond those stated in this letter."
    text = _text(documents.render_grant_letter(_grant(conditions=())))
    assert "Conditions The permission has no conditions beyond those stated in this letter." in text
    assert "1. No conditions" not in text
    assert "1." not in text.split("Conditions", 1)[1].split("Validity period", 1)[0]


def test_the_same_letter_renders_to_the_same_bytes() -> None:
    assert documents.render_grant_letter(_grant()) == documents.render_grant_letter(_grant())


def test_a_denial_letter_gives_the_reason_and_how_to_ask_for_reconsideration() -> None:
    letter = documents.DenialLetter(
        number="PR-2027-000008-D1",
        request_reference="PR-2027-000008",
        issued_on=date(2027, 2, 3),
        requester=REQUESTER,
        content_requested="Section guidelines for visit services.",
        reason="The course charges tuition to the general public <b>for profit</b>.",
        reconsideration_until=datetime(2027, 2, 18, 3, 37, tzinfo=UTC),
        status_url="http://example.test/permissions/status/abc",
    )
    text = _text(documents.render_denial_letter(letter))
    assert "charges tuition to the general public <b>for profit</b>." in text
    # It read "until 2027-02-17", where the email says the deadline to the minute.
    assert "until Wednesday, February 17, 2027 at 9:37 PM (US Central time)" in text
    assert "Request reconsideration" in text


def test_a_denial_letter_prints_its_trademark_line_at_the_foot_after_the_signature() -> None:
    letter = documents.DenialLetter(
        number="PR-2027-000009-D1",
        request_reference="PR-2027-000009",
        issued_on=date(2027, 2, 3),
        requester=REQUESTER,
        content_requested="Section guidelines for visit services.",
        reason="A commercial course.",
        reconsideration_until=None,
        status_url="http://example.test/permissions/status/abc",
    )
    text = _text(documents.render_denial_letter(letter))
    # It stood between the last paragraph and "Sincerely,", as if part of the letter.
    signed = text.index("Sincerely, CPT Licensing Office")
    assert text.index("CPT® is a registered trademark") > signed


@pytest.mark.parametrize("language", sorted(CJK_NAMES))
def test_a_letter_to_a_chinese_japanese_or_korean_requester_draws_the_names_in_their_cid_font(
    language: str,
) -> None:
    name, cid_font = CJK_NAMES[language]
    requester = documents.Requester(f"{name} Ortiz", "x@example.test", f"{name} College", "Faculty")
    data = documents.render_grant_letter(_grant(requester=requester, purpose=f"Kurs {name}"))
    text = _text(data)
    for value in (requester.name, requester.institution, f"Kurs {name}"):
        assert value in text
    drawn = requester.name + requester.institution + f"Kurs {name}"
    assert misdrawn(data, drawn, cid_font) == []

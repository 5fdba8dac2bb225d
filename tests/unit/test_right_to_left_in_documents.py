"""Hebrew and Arabic in documents (round 54): a licensee's name prints as written,
right to left, Arabic letters joined, in paragraphs, table cells, bold markup and
the running header and footer; with names at the forms' limits the text stays
inside the margins. Read from the content stream in the order drawn
(`shown_in_order`): pypdf's text extraction gives right-to-left text back in the
order typed, whichever order it was drawn in."""

from __future__ import annotations

import io
import unicodedata
from decimal import Decimal

import pytest
from pypdf import PdfReader

from licensing import pdf
from licensing.accounts.models import LEGAL_NAME_MAX
from licensing.billing import documents as billing
from tests.support import hard_documents
from tests.support.glyphs import LAM_ALEF, RTL_NAMES, drawn_without_glyph, shown_in_order
from tests.support.hard_documents import DOCUMENTS, filled
from tests.support.pdf_pages import outside_the_margins

HEBREW, ARABIC = RTL_NAMES["Hebrew"], RTL_NAMES["Arabic"]


def _document(name: str) -> bytes:
    story = [
        pdf.para(name, "Title"),
        pdf.para(name),
        pdf.table([["Licensee", "Amount"], [name, "1,200.00"]], [300.0, 204.0], right_columns=(1,)),
        pdf.markup(f"<b>{pdf.text(name)}</b>", "Cell"),
    ]
    furniture = pdf.PageFurniture(reference=f"Agreement {name}", issuer=name, footer_note=name)
    return pdf.build(story, furniture, title="Names")


def _letters(value: str) -> str:
    """Each joined form back to the letter typed (lam-alef to its two letters)."""
    return unicodedata.normalize("NFKC", value)


def test_a_hebrew_name_is_drawn_right_to_left_everywhere_a_document_prints_it() -> None:
    shown = shown_in_order(_document(HEBREW))
    # Drawn left to right, so the last letter typed comes first: as a reader sees it.
    assert shown.count(HEBREW[::-1]) == 6  # title, body, cell, bold cell, issuer, footer
    assert f"Agreement {HEBREW[::-1]}" in shown  # a Latin word before it stays first
    assert HEBREW not in shown


def test_an_arabic_name_is_drawn_right_to_left_with_its_letters_joined() -> None:
    shown = shown_in_order(_document(ARABIC))
    drawn = [text for text in shown if _letters(text) == ARABIC[::-1]]
    assert len(drawn) == 6  # title, body, cell, bold cell, header's issuer, footer
    forms = {unicodedata.name(letter).split(" FORM")[0].rsplit(" ", 1)[-1] for letter in drawn[0]}
    assert {"INITIAL", "MEDIAL", "FINAL"} <= forms  # joined, not isolated letters
    assert not any(ARABIC in text or ARABIC[::-1] in text for text in shown)


def test_lam_and_alef_are_drawn_as_their_one_ligature() -> None:
    shown = shown_in_order(_document(LAM_ALEF))
    assert "\ufefc" in shown[0]  # ARABIC LIGATURE LAM WITH ALEF FINAL FORM
    assert _letters(shown[0])[::-1] == "سلام".replace("لا", "ال")  # lam-alef kept in its order


def test_brackets_in_a_right_to_left_name_are_mirrored_to_enclose_it_as_written() -> None:
    shown = shown_in_order(_document("מערכות (ישראל) בע״מ"))
    # "(" typed before ישראל reads as an opening bracket on its right.
    assert "מ״עב (לארשי) תוכרעמ" in shown


@pytest.mark.parametrize("name", [HEBREW, ARABIC], ids=["Hebrew", "Arabic"])
def test_a_name_first_in_an_english_sentence_leaves_the_sentence_left_to_right(name: str) -> None:
    statement = hard_documents.statement_of(3, name, Decimal("1200.00"))
    data = billing.render_statement_pdf(statement, issuer="CPT Licensing Office")
    shown = shown_in_order(data)
    name_shown = pdf.joined(name)[::-1]
    days = "January 1, 2027 to December 31, 2027"  # in words (round 56)
    assert f"{name_shown}, {days} (USD)" in shown  # the subtitle
    assert f"Statement of account {name_shown} {days}" in shown  # the header
    assert any(text.startswith(f"{name_shown}: statement January 1, 2027") for text in shown)


def test_a_licensee_named_in_hebrew_is_named_in_place_in_the_agreements_acceptance_clause() -> None:
    data = hard_documents.agreement(hard=True, name="שמעון בע״מ")
    lines = [text for text in shown_in_order(data) if "accepts it online" in text]
    assert lines == [lines[0]]
    assert "authorised to bind מ״עב ןועמש accepts it online." in lines[0]


@pytest.mark.parametrize("name", [HEBREW, ARABIC], ids=["Hebrew", "Arabic"])
def test_every_letter_of_a_right_to_left_name_is_drawn_with_a_glyph_of_its_own(name: str) -> None:
    data = _document(name)
    assert drawn_without_glyph(data, pdf.joined(name)) == []


def test_latin_text_is_given_back_as_it_is() -> None:
    for value in ("Bluefin Claims Ltd (Boston)", "Łódź Dvořák Γιώργος Дмитрий", "株式会社テスト"):
        assert pdf.displayed(value) == value
        assert pdf.joined(value) == value


@pytest.mark.parametrize("name", [HEBREW, ARABIC], ids=["Hebrew", "Arabic"])
@pytest.mark.parametrize("kind", list(DOCUMENTS))
def test_a_right_to_left_name_at_the_forms_limit_stays_inside_the_margins(
    kind: str, name: str
) -> None:
    data = DOCUMENTS[kind](hard=True, name=filled(name, LEGAL_NAME_MAX))
    assert outside_the_margins(data) == []
    assert drawn_without_glyph(data, pdf.joined(name)) == []


def test_a_right_to_left_paragraph_longer_than_a_page_is_right_to_left_on_every_page() -> None:
    # Each part reportlab splits off over the pages is reordered by its own lines.
    data = pdf.build([pdf.para(" ".join([HEBREW] * 400))], pdf.PageFurniture("X"), title="T")
    pages = PdfReader(io.BytesIO(data)).pages
    assert len(pages) > 2
    body = [text for text in shown_in_order(data) if "ןועמש" in text or "שמעון" in text]
    assert len(body) > 100
    assert all("שמעון" not in text for text in body)  # every line as displayed


def test_a_hebrew_product_heads_its_royalty_terms_after_its_number_and_before_its_rule() -> None:
    from dataclasses import replace

    from licensing.agreements.documents import render_agreement_pdf

    document = hard_documents.agreement_document(hard=False)
    use = replace(document.uses[0], product=HEBREW)
    data = render_agreement_pdf(replace(document, uses=(use,)))
    shown = shown_in_order(data)
    # The number and the rule stay where an English heading has them.
    heading = shown.index(f"1. {HEBREW[::-1]}")
    assert shown[heading + 1] == " (rule distribution-software)"


def test_a_hebrew_product_heading_longer_than_its_line_wraps_in_the_order_typed() -> None:
    from dataclasses import replace

    from licensing.agreements.documents import render_agreement_pdf

    letters = "אלף בית גימל דלת הא וו זין חית טית יוד כף למד מם נון סמך עין פא צדי קוף ריש שין תו"  # noqa: RUF001 (Hebrew letters)
    document = hard_documents.agreement_document(hard=False)
    use = replace(document.uses[0], product=f"{letters} {letters}")
    shown = shown_in_order(render_agreement_pdf(replace(document, uses=(use,))))
    first = next(i for i, text in enumerate(shown) if text.startswith("1. ") and "ףלא" in text)
    # Read right to left, the first line begins with the first letters typed, the
    # second ends with the last, and the rule follows it.
    assert shown[first][3:][::-1].startswith("אלף בית גימל")
    assert shown[first + 1][::-1].endswith("שין תו")
    assert shown[first + 2] == " (rule distribution-software)"

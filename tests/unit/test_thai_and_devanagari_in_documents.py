"""Thai and Devanagari in documents (round 54): DejaVu Sans has no glyph for them, so
their runs are drawn in Noto Sans Thai and Noto Sans Devanagari, embedded and shaped
(conjuncts as one glyph, the vowel sign i before its consonant), in paragraphs, table
cells, bold markup and the running header and footer, and the text copied from the
document is the text typed."""

from __future__ import annotations

import io
import unicodedata

import pytest
from pypdf import PdfReader

from licensing import pdf
from licensing.accounts.models import LEGAL_NAME_MAX
from tests.support.glyphs import SHAPED_NAMES, fonts_drawing, glyphs_drawn, shown_in_order
from tests.support.hard_documents import DOCUMENTS, filled
from tests.support.pdf_pages import outside_the_margins

THAI, DEVANAGARI = SHAPED_NAMES["Thai"], SHAPED_NAMES["Devanagari"]
FONTS = {"Thai": (pdf.THAI, pdf.THAI_BOLD), "Devanagari": (pdf.DEVANAGARI, pdf.DEVANAGARI_BOLD)}


def _document(name: str) -> bytes:
    story = [
        pdf.para(name, "Title"),
        pdf.para(f"Licensee: {name} (Bangkok)"),
        pdf.table([["Licensee", "Amount"], [name, "1,200.00"]], [300.0, 204.0], right_columns=(1,)),
        pdf.markup(f"<b>{pdf.text(name)}</b>", "Cell"),
    ]
    furniture = pdf.PageFurniture(reference=f"Agreement {name}", issuer=name, footer_note=name)
    return pdf.build(story, furniture, title="Names")


def _script(character: str) -> bool:
    return "\u0900" <= character <= "\u097f" or "\u0e00" <= character <= "\u0e7f"


@pytest.mark.parametrize("script", list(SHAPED_NAMES))
def test_every_letter_of_a_thai_or_devanagari_name_is_drawn_with_a_glyph_of_its_own(
    script: str,
) -> None:
    drawn = glyphs_drawn(_document(SHAPED_NAMES[script]))
    # What each glyph drawn stands for: a letter, or (a conjunct) several.
    ours = {text: glyphs for text, glyphs in drawn.items() if any(map(_script, text))}
    assert {text for text, glyphs in ours.items() if glyphs & {".notdef", "empty"}} == set()
    typed = set(unicodedata.normalize("NFKC", SHAPED_NAMES[script])) - {" "}
    assert typed <= set(unicodedata.normalize("NFKC", "".join(ours)))


@pytest.mark.parametrize("script", list(SHAPED_NAMES))
def test_thai_and_devanagari_are_drawn_in_their_noto_faces_and_nothing_else(script: str) -> None:
    drawn = fonts_drawing(_document(SHAPED_NAMES[script]))
    regular, bold = FONTS[script]
    faces = {face for text, fonts in drawn.items() if any(map(_script, text)) for face in fonts}
    assert faces == {f"{regular}-Regular", bold}  # the title and the bold cell in bold


def test_devanagari_is_shaped_conjuncts_as_one_glyph_and_the_vowel_sign_i_first() -> None:
    data = _document(DEVANAGARI)
    assert {"क्ष", "त्र", "प्र"} <= set(glyphs_drawn(data))  # one glyph each
    shown = shown_in_order(data)
    # हि is drawn vowel sign first; typed, it follows the consonant.
    assert any("िह" in text for text in shown)
    assert not any("हि" in text for text in shown)


def test_thai_copied_from_a_document_reads_as_typed() -> None:
    text = PdfReader(io.BytesIO(_document(THAI))).pages[0].extract_text()
    assert unicodedata.normalize("NFKC", THAI) in unicodedata.normalize("NFKC", text)


def test_latin_text_beside_them_stays_in_dejavu_sans() -> None:
    drawn = fonts_drawing(_document(THAI))
    assert all(drawn[letter] == {pdf.FONT} for letter in "(Bk)")  # of "(Bangkok)", after it
    assert drawn["L"] == {pdf.FONT, pdf.FONT_BOLD}  # "Licensee:", and the header's "Licensee"


@pytest.mark.parametrize("script", list(SHAPED_NAMES))
@pytest.mark.parametrize("kind", list(DOCUMENTS))
def test_a_thai_or_devanagari_name_at_the_forms_limit_stays_inside_the_margins(
    kind: str, script: str
) -> None:
    data = DOCUMENTS[kind](hard=True, name=filled(SHAPED_NAMES[script], LEGAL_NAME_MAX))
    assert outside_the_margins(data) == []

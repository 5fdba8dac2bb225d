"""Round 56: text copied (or searched, or extracted) from a document in a shaped
script came out in the order drawn, not typed: Devanagari's vowel sign i before its
consonant ("िहन्दी" for हिन्दी), Bengali's প্র as "পর্", Thai's sara am split in two.
Each word whose glyphs copy as other text than typed now carries the typed text as
its ActualText (a marked-content span), which viewers and pdftotext read instead;
words that copied as typed, and every other script, are drawn as before."""

from __future__ import annotations

import io
import subprocess

import pytest
from pypdf import PdfReader

from licensing import pdf

TYPED = [
    "हिन्दी सॉफ्टवेयर",  # the vowel sign i drawn first
    "क्षत्रिय प्रणाली",  # conjuncts, and the vowel sign i after one
    "প্রযুক্তি কিরণ",  # Bengali: রফলা and the vowel sign i
    "บริษัท ทดสอบ จำกัด",  # Thai: sara am drawn as nikhahit and sara aa
]


def _copied(*story: object, reference: str = "Names") -> str:
    data = pdf.build(list(story), pdf.PageFurniture(reference), title="Names")  # type: ignore[arg-type]
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True
    ).stdout.decode()


@pytest.mark.parametrize("typed", TYPED)
def test_a_paragraph_in_a_shaped_script_copies_as_typed(typed: str) -> None:
    assert typed in _copied(pdf.para(typed))
    assert f"Licensee: {typed} (Pune)" in _copied(pdf.para(f"Licensee: {typed} (Pune)"))


@pytest.mark.parametrize("typed", TYPED)
def test_a_bold_heading_a_table_cell_and_the_running_header_copy_as_typed(typed: str) -> None:
    heading = pdf.markup(f"<b>1. {pdf.text(typed)}</b> (rule development)")
    cell = pdf.table([["Product", typed]], [150.0, 354.0], header=False)
    copied = _copied(heading, cell, reference=f"Statement of account {typed}")
    assert f"1. {typed} (rule development)" in copied
    assert typed in copied.split("Product", 1)[1]
    assert f"Statement of account {typed}" in copied


def test_a_long_paragraph_broken_over_lines_copies_each_word_as_typed() -> None:
    words = ["हिन्दी", "प्रणाली", "किरण", "सॉफ्टवेयर"] * 20
    copied = " ".join(_copied(pdf.para(" ".join(words))).split())
    assert " ".join(words) in copied


def test_text_that_copies_as_typed_is_drawn_without_actual_text() -> None:
    story = [pdf.para("Zoë Łódź GmbH 株式会社テスト חברת בדיקה"), pdf.para("บริษัท ทดสอบ")]
    data = pdf.build(story, pdf.PageFurniture("Names"), title="Names")
    (page,) = PdfReader(io.BytesIO(data)).pages
    assert b"ActualText" not in page.get_contents().get_data()  # type: ignore[union-attr]


def test_a_word_drawn_out_of_typed_order_carries_its_typed_text_once() -> None:
    data = pdf.build([pdf.para("हिन्दी भारत")], pdf.PageFurniture("Names"), title="Names")
    (page,) = PdfReader(io.BytesIO(data)).pages
    content = page.get_contents().get_data()  # type: ignore[union-attr]
    typed = ("\ufeff" + "हिन्दी").encode("utf-16-be").hex().upper().encode()
    assert content.count(b"/ActualText") == 1  # भारत copies as typed already
    assert b"/Span <</ActualText <" + typed + b">>> BDC" in content

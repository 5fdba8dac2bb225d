"""Round 56: hangul was accepted as "the viewer's to draw", but the Korean CID font
is drawn through the encoding the PDF names (`UniKS-UCS2-H`), and a character it does
not map is drawn as the viewer's empty box. It maps all 11,172 precomposed syllables
and the 94 compatibility jamo, and none of the conjoining jamo (old Korean, or
syllables typed decomposed) or the half-width forms: those are refused now, named as
any other character no font draws."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from licensing import printable
from tests.support.printable_table import KOREAN_CMAP, cmap_text, korean_encoded_ranges


def test_the_table_of_encoded_hangul_is_what_the_korean_cmap_maps() -> None:
    # Written out from the CMap file; another encoding or font must write it again.
    assert korean_encoded_ranges() == printable.KOREAN_ENCODED


def test_every_precomposed_syllable_and_compatibility_jamo_prints() -> None:
    syllables = "".join(map(chr, range(0xAC00, 0xD7A4)))
    assert len(syllables) == 11172
    assert printable.unprintable(syllables) == ""
    assert printable.unprintable("ㄱㄴㄷ ㅏㅑ ㆎ") == ""  # compatibility jamo


@pytest.mark.parametrize(
    ("typed", "named"),
    [
        ("\u1112\u1161\u11ab", "U+1112 HANGUL CHOSEONG HIEUH"),  # 한, typed decomposed
        ("\u1100\u119e", "U+119E HANGUL JUNGSEONG ARAEA"),  # old Korean
        ("\ua960", "U+A960 HANGUL CHOSEONG TIKEUT-MIEUM"),  # Jamo Extended-A
        ("\ud7b0", "U+D7B0 HANGUL JUNGSEONG O-YEO"),  # Jamo Extended-B
        ("\uffa1", "U+FFA1 HALFWIDTH HANGUL LETTER KIYEOK"),
    ],
)
def test_hangul_the_encoding_maps_to_no_glyph_is_refused_by_name(typed: str, named: str) -> None:
    problem = printable.unprintable_problem(f"테스트 {typed} 주식회사")
    assert problem is not None
    assert named in problem
    assert "테" not in printable.unprintable(f"테스트 {typed}")


def test_the_documents_name_the_encoding_and_supplement_the_table_was_read_from() -> None:
    from licensing import pdf

    data = pdf.build([pdf.para("테스트 주식회사")], pdf.PageFurniture("Names"), title="Names")
    (font,) = [
        font.get_object()
        for page in PdfReader(io.BytesIO(data)).pages
        for font in page["/Resources"]["/Font"].values()
        if font.get_object()["/Subtype"] == "/Type0"
    ]
    assert (font["/BaseFont"], font["/Encoding"]) == ("/HYGothic-Medium", "/UniKS-UCS2-H")
    system = font["/DescendantFonts"][0].get_object()["/CIDSystemInfo"]
    # The CMap read is Adobe-Korea1's supplement 1, which holds every syllable.
    assert (system["/Ordering"], system["/Supplement"]) == ("Korea1", 1)
    assert "/Supplement 1 def" in cmap_text(KOREAN_CMAP)

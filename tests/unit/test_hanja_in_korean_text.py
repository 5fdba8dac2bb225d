"""Round 57: a Han ideograph (Hanja) in a text with hangul was drawn in the Korean CID
font, whose encoding (`UniKS-UCS2-H`) maps 4,888 ideographs: a rarer one printed the
viewer's empty box, and the forms accepted it. Each encoding's ideographs are now read
from its CMap (`licensing.han_encoded`); an ideograph the text's font does not map is
drawn in the Chinese font (or the Korean or Japanese) whose encoding does, and one no
encoding maps is refused where it is typed, named."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

import pytest
from pypdf import PdfReader

from licensing import han_encoded, pdf, printable
from tests.support import hard_documents, printable_table

RARE = "\u4e8d"  # 亍: in the Chinese and Japanese encodings, not the Korean
COMMON = "\u91d1"  # 金: in the Korean encoding
UNMAPPED = "\u9fa6"  # in Unicode since 4.1, in none of the encodings
KOREAN_NAME = f"{COMMON}{RARE}洙 테스트 주식회사"  # invented


def test_the_tables_of_encoded_ideographs_are_what_the_cmaps_map() -> None:
    # Written out from the CMap files; another encoding or font must write them again.
    assert printable_table.written_out(printable_table.KOREAN_CMAP) == han_encoded.KOREAN
    assert printable_table.written_out(printable_table.JAPANESE_CMAP) == han_encoded.JAPANESE
    assert printable_table.chinese_han_ranges() == han_encoded.CHINESE
    assert printable_table.han_encoded_ranges() == printable.HAN_ENCODED
    assert (len(han_encoded.KOREAN), len(han_encoded.JAPANESE)) == (4888, 7978)


def test_every_ideograph_an_encoding_maps_is_drawn_in_a_font_whose_encoding_maps_it() -> None:
    ideographs = [
        chr(code) for first, last in printable.HAN_ENCODED for code in range(first, last + 1)
    ]
    assert len(ideographs) == 27785
    maps = {
        pdf.CJK_KOREAN: set(han_encoded.KOREAN),
        pdf.CJK_JAPANESE: set(han_encoded.JAPANESE),
        pdf.CJK_SIMPLIFIED_CHINESE: set(printable_table.written_out(printable_table.CHINESE_CMAP)),
    }
    for han in maps:
        for character in ideographs:
            assert character in maps[pdf._han_face(character, han)], (han, character)
    assert printable.unprintable("".join(ideographs)) == ""


def test_a_rare_hanja_in_a_korean_name_is_drawn_in_the_chinese_font_the_rest_in_korean() -> None:
    assert pdf.font_runs(KOREAN_NAME) == [
        (pdf.CJK_KOREAN, COMMON),
        (pdf.CJK_SIMPLIFIED_CHINESE, RARE),
        (pdf.CJK_KOREAN, "洙"),
        (None, " "),
        (pdf.CJK_KOREAN, "테스트"),
        (None, " "),
        (pdf.CJK_KOREAN, "주식회사"),
    ]


def _drawn(data: bytes) -> Iterator[tuple[str, str]]:
    """Each run of text on the pages with the base font it is drawn in."""
    found: list[tuple[str, str]] = []
    for page in PdfReader(io.BytesIO(data)).pages:
        page.extract_text(
            visitor_text=lambda text, cm, tm, font, size: found.append(
                (str(font["/BaseFont"]) if font else "", text)
            )
        )
    yield from found


def test_the_pdf_draws_the_rare_hanja_of_a_korean_name_in_the_font_that_has_it() -> None:
    # In a paragraph, a table cell and the running header: every path that draws CJK.
    data = pdf.build(
        [
            pdf.para(f"Licensee: {KOREAN_NAME}"),
            pdf.table([["Name"], [KOREAN_NAME]], [300], header=True),
        ],
        pdf.PageFurniture(KOREAN_NAME),
        title="Names",
    )
    drawn = list(_drawn(data))
    in_chinese = "".join(text for font, text in drawn if font == "/STSong-Light")
    in_korean = "".join(text for font, text in drawn if font == "/HYGothic-Medium")
    assert in_chinese == RARE * 3
    assert COMMON in in_korean
    assert "테스트" in in_korean
    assert RARE not in in_korean
    assert "".join(text for _, text in drawn).count(KOREAN_NAME) >= 2  # read back as typed


@pytest.mark.parametrize(
    "document",
    [
        hard_documents.agreement,
        hard_documents.invoice,
        hard_documents.statement,
        hard_documents.grant_letter,
    ],
)
def test_each_kind_of_document_draws_a_korean_licensees_rare_hanja_in_the_chinese_font(
    document: Callable[..., bytes],
) -> None:
    drawn = list(_drawn(document(hard=True, name=KOREAN_NAME)))
    assert RARE in "".join(text for font, text in drawn if font == "/STSong-Light")
    assert RARE not in "".join(text for font, text in drawn if font == "/HYGothic-Medium")
    assert "테스트" in "".join(text for font, text in drawn if font == "/HYGothic-Medium")


def test_a_compatibility_ideograph_of_a_korean_reading_is_drawn_in_korean_beside_chinese() -> None:
    # U+F900 (a Korean reading of 豈) only the Korean encoding maps.
    assert pdf.font_runs("北京\uf900") == [
        (pdf.CJK_SIMPLIFIED_CHINESE, "北京"),
        (pdf.CJK_KOREAN, "\uf900"),
    ]


def test_a_common_korean_name_in_hanja_and_hangul_keeps_its_one_font() -> None:
    assert pdf.font_runs("金民秀 김민수") == [
        (pdf.CJK_KOREAN, "金民秀"),
        (None, " "),
        (pdf.CJK_KOREAN, "김민수"),
    ]
    assert printable.unprintable("金民秀 김민수") == ""


@pytest.mark.parametrize(
    "typed",
    [f"테스트 {COMMON}{UNMAPPED}", f"北京{UNMAPPED}", f"テスト{UNMAPPED}", "\u4db6", "\ufa2e"],
)
def test_an_ideograph_no_encoding_maps_is_refused_by_name(typed: str) -> None:
    problem = printable.unprintable_problem(typed)
    assert problem is not None
    assert f"U+{ord(typed[-1]):04X} CJK " in problem
    assert printable.unprintable(typed) == typed[-1]

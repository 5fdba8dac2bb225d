"""pdffonts59: CJK punctuation and the other signs of the CJK blocks (kana, bopomofo,
full- and half-width forms, enclosed and compatibility forms) were drawn in the CID font of
their text whatever that font's encoding maps, and every one was taken to print. No
encoding maps them all: 〜 (the wave dash) and the half-width ｡｢｣､ only the Japanese one
does, 〖〗 not the Japanese, ￦ only the Korean, so "北京测试〜有限公司" drew a box for 〜
(and copied without it); 248 signs (〚〛, 〽, ㇰ, the combining voiced sound marks...)
no encoding maps, and the forms accepted them. Now a sign its text's font does not map is
drawn in a font whose encoding does (`licensing.cjk_signs`), and one none maps is refused
where it is typed, named, as round 57 refused unmapped Hanja."""

from __future__ import annotations

import functools
import subprocess
from collections.abc import Callable

import pytest

from licensing import cjk_signs, pdf, printable
from tests.support import hard_documents, printable_table
from tests.support.glyphs import fonts_drawing

CMAP_OF = {
    pdf.CJK_SIMPLIFIED_CHINESE: printable_table.CHINESE_CMAP,
    pdf.CJK_JAPANESE: printable_table.JAPANESE_CMAP,
    pdf.CJK_KOREAN: printable_table.KOREAN_CMAP,
}
# The last CID of the supplement each font is labelled with (fonts58: GB1 4, Japan1 4,
# Korea1 1; Adobe's technical notes): a glyph past it a viewer's font need not have.
LAST_CID = {
    pdf.CJK_SIMPLIFIED_CHINESE: 29063,
    pdf.CJK_JAPANESE: 15443,
    pdf.CJK_KOREAN: 18154,
}
# A text of each font: Chinese (Han alone), Japanese (kana), Korean (hangul).
TEXT_OF = {
    pdf.CJK_SIMPLIFIED_CHINESE: "北京",
    pdf.CJK_JAPANESE: "テスト",
    pdf.CJK_KOREAN: "테스트",
}

# The punctuation a CJK name or address is typed with, and the signs that some encoding
# lacks: the ideographic comma, full stop and space, corner, angle, lenticular and tortoise
# shell brackets, the middle dots, the wave dash, the full-width ASCII forms, the
# half-width punctuation, the yen and won signs, ㈱ and ㎡.
PUNCTUATION = (
    "、。\u3000「」『』〈〉《》【】〔〕〖〗〝〞〟〃々〆〇・ー〜"  # noqa: RUF001 (CJK punctuation, meant)
    "，．：；！？（）［］｛｝＂＇～－＿／＼＆＠＃％＊＋＝＜＞｜"  # noqa: RUF001 (CJK punctuation, meant)
    "｡｢｣､･ｰ￥￦￠￡￢￣㈱㎡"
)
# Signs no encoding maps: refused where typed.
UNMAPPED = "〚〛｟｠〽゠ㇰ\u3099\u309a￩￭﹅﹇〷〻"  # noqa: RUF001 (CJK punctuation, meant)

# Invented names typed with such signs, and the documents that print a licensee's name.
NAMES = {
    "Chinese with a wave dash": "北京测试〜有限公司（上海）",  # noqa: RUF001 (CJK punctuation, meant)
    "Japanese with lenticular brackets": "株式会社〖テスト〗東京支店",
    "Korean with half-width corner brackets and won": "테스트 주식회사 ｢서울｣ ￦",
    "Latin with half-width punctuation": "Acme｡Systems､Ltd",
}
DOCUMENTS: dict[str, Callable[..., bytes]] = {
    "agreement": hard_documents.agreement,
    "invoice": hard_documents.invoice,
    "statement of account": hard_documents.statement,
    "grant letter": hard_documents.grant_letter,
}


def _signs(ranges: tuple[tuple[int, int], ...]) -> list[str]:
    return [chr(code) for first, last in ranges for code in range(first, last + 1)]


def _copied(data: bytes) -> str:
    """The document's text as poppler's `pdftotext` extracts it (as a viewer copies it),
    its lines joined: a character whose font's encoding does not map it comes out as
    nothing, or a space."""
    done = subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True)
    assert b"Error" not in done.stderr, done.stderr
    return " ".join(done.stdout.decode().split())


@functools.cache
def _cids(font: str) -> dict[int, int]:
    return printable_table.cids(CMAP_OF[font])


def _glyph(font: str, character: str) -> int:
    """The CID the font's encoding gives `character` (0, `.notdef`, when none)."""
    return _cids(font).get(ord(character), 0)


def test_the_tables_of_encoded_signs_are_what_the_cmaps_map() -> None:
    # Written out from the CMap files; another encoding or font must write them again.
    for ranges, cmap in (
        (cjk_signs.CHINESE, printable_table.CHINESE_CMAP),
        (cjk_signs.JAPANESE, printable_table.JAPANESE_CMAP),
        (cjk_signs.KOREAN, printable_table.KOREAN_CMAP),
    ):
        assert printable_table.signs_encoded_ranges(cmap) == ranges
    assert printable_table.any_signs_encoded_ranges() == printable.SIGNS_ENCODED
    assert [len(_signs(ranges)) for ranges in (cjk_signs.CHINESE, cjk_signs.JAPANESE)] == [
        760,
        941,
    ]
    assert (len(_signs(cjk_signs.KOREAN)), len(_signs(printable.SIGNS_ENCODED))) == (448, 1205)


def test_no_one_encoding_maps_every_common_sign() -> None:
    """Why the font is chosen per sign: each encoding lacks some of the punctuation."""
    lacking = {
        font: "".join(sign for sign in PUNCTUATION if not _glyph(font, sign)) for font in CMAP_OF
    }
    assert lacking == {
        pdf.CJK_SIMPLIFIED_CHINESE: "〟〜｡｢｣､･ｰ￦",
        pdf.CJK_JAPANESE: "〖〗〞￦",
        pdf.CJK_KOREAN: "〝々〆〇〜｡｢｣､･ｰ",
    }


def test_every_sign_an_encoding_maps_is_drawn_from_any_text_in_a_font_that_has_its_glyph() -> None:
    signs = _signs(printable.SIGNS_ENCODED)
    for font, text in TEXT_OF.items():
        for sign in signs:
            runs = [run for run in pdf.font_runs(text + sign) if sign in run[1]]
            assert len(runs) == 1, (font, sign, runs)
            drawn_in = runs[0][0]
            assert drawn_in is not None
            cid = _glyph(drawn_in, sign)
            assert 0 < cid <= LAST_CID[drawn_in], (font, sign, drawn_in, cid)
    assert printable.unprintable("".join(signs)) == ""


def test_a_sign_its_texts_font_maps_stays_in_that_font() -> None:
    # Each document's bytes stay the same where nothing was drawn as a box.
    assert pdf.font_runs("北京，上海。") == [(pdf.CJK_SIMPLIFIED_CHINESE, "北京，上海。")]  # noqa: RUF001 (CJK punctuation, meant)
    assert pdf.font_runs("株式会社テスト、東京") == [(pdf.CJK_JAPANESE, "株式会社テスト、東京")]
    assert pdf.font_runs("테스트（서울）") == [(pdf.CJK_KOREAN, "테스트（서울）")]  # noqa: RUF001 (CJK punctuation, meant)


def test_a_sign_its_texts_font_lacks_is_drawn_in_a_font_that_has_it() -> None:
    assert pdf.font_runs("北京〜上海") == [
        (pdf.CJK_SIMPLIFIED_CHINESE, "北京"),
        (pdf.CJK_JAPANESE, "〜"),
        (pdf.CJK_SIMPLIFIED_CHINESE, "上海"),
    ]
    assert pdf.font_runs("テスト〖東京〗") == [
        (pdf.CJK_JAPANESE, "テスト"),
        (pdf.CJK_SIMPLIFIED_CHINESE, "〖"),
        (pdf.CJK_JAPANESE, "東京"),
        (pdf.CJK_SIMPLIFIED_CHINESE, "〗"),
    ]
    assert pdf.font_runs("Acme ￦5") == [(None, "Acme "), (pdf.CJK_KOREAN, "￦"), (None, "5")]
    assert pdf.font_runs("서울｡") == [(pdf.CJK_KOREAN, "서울"), (pdf.CJK_JAPANESE, "｡")]


@pytest.mark.parametrize("name", list(NAMES))
@pytest.mark.parametrize("kind", list(DOCUMENTS))
def test_each_kind_of_document_draws_and_copies_a_name_with_cjk_punctuation_as_typed(
    kind: str, name: str
) -> None:
    typed = NAMES[name]
    data = DOCUMENTS[kind](hard=True, name=typed)
    assert typed in _copied(data)
    drawn = fonts_drawing(data)
    for character in typed:
        if pdf.has_cjk(character):
            fonts = drawn[character]
            assert fonts <= set(CMAP_OF), (character, fonts)
            assert all(_glyph(font, character) for font in fonts), (character, fonts)


@pytest.mark.parametrize("sign", list(UNMAPPED))
def test_a_sign_no_encoding_maps_is_refused_by_name(sign: str) -> None:
    typed = f"北京测试{sign}有限公司"
    assert printable.unprintable(typed) == sign
    problem = printable.unprintable_problem(typed)
    assert problem is not None
    assert f"U+{ord(sign):04X}" in problem
    assert all(not _glyph(font, sign) for font in CMAP_OF)


def test_the_common_punctuation_is_not_refused() -> None:
    assert printable.unprintable(PUNCTUATION) == ""
    for name in NAMES.values():
        assert printable.unprintable(name) == ""

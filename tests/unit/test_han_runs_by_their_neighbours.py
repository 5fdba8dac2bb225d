"""kana60: a kana anywhere in a text made all its ideographs Japanese, so a Chinese
organization's name beside a Japanese product's, in one field or one paragraph, drew
its ideographs in Japanese forms (those the Japanese encoding lacks, 测试, in the
Chinese font: one name in two fonts), and a middle dot ・ made a Chinese name Japanese.
The font is now chosen per run of Han (`pdf._run_fonts`): a run touching a kana letter
is Japanese, one touching hangul Korean, one holding bopomofo Chinese; in a text with
kana elsewhere, a run holding an ideograph the Japanese encoding lacks is Chinese; any
other run takes the text's font as before (docs/pdfs.md, "Which CJK font each run of
Han is drawn in"). Read back from the PDFs with pypdf, `pdffonts` and `pdftotext`."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest

from licensing import pdf
from tests.support import hard_documents
from tests.support.glyphs import fonts_drawing

_JA, _KO, _ZH = pdf.CJK_JAPANESE, pdf.CJK_KOREAN, pdf.CJK_SIMPLIFIED_CHINESE
# Invented: a Chinese company (测, 试 and 软 are Simplified forms the Japanese encoding
# lacks) and a Japanese product, in one field.
CHINESE = "北京测试软件有限公司"
JAPANESE = "テスト製品"
BOTH = f"{CHINESE} {JAPANESE}"


@pytest.mark.parametrize(
    ("value", "runs"),
    [
        (BOTH, [(_ZH, CHINESE), (None, " "), (_JA, JAPANESE)]),
        (f"{JAPANESE}（{CHINESE}）", [(_JA, f"{JAPANESE}（"), (_ZH, f"{CHINESE}）")]),  # noqa: RUF001
        ("北京测试有限公司・テスト", [(_ZH, "北京测试有限公司・"), (_JA, "テスト")]),
        ("北京・上海", [(_ZH, "北京・上海")]),  # the middle dot is no kana
        ("株式会社テスト", [(_JA, "株式会社テスト")]),  # Han touching kana
        ("テスト（株）", [(_JA, "テスト（株）")]),  # noqa: RUF001 (kana elsewhere: the text's)
        (
            "山田 太郎 テスト",
            [(_JA, "山田"), (None, " "), (_JA, "太郎"), (None, " "), (_JA, "テスト")],
        ),
        ("テスト 서울支社", [(_JA, "テスト"), (None, " "), (_KO, "서울支社")]),  # beside hangul
        ("ㄅㄆ臺北 テスト", [(_ZH, "ㄅㄆ臺北"), (None, " "), (_JA, "テスト")]),  # bopomofo
        ("金民秀 김민수", [(_KO, "金民秀"), (None, " "), (_KO, "김민수")]),  # as before
        ("臺灣測試（股）", [(_ZH, "臺灣測試（股）")]),  # noqa: RUF001 (as before)
    ],
)
def test_each_run_of_han_is_drawn_in_the_font_its_neighbours_say(
    value: str, runs: list[tuple[str | None, str]]
) -> None:
    assert pdf.font_runs(value) == runs


def test_an_ideograph_no_font_of_its_run_maps_still_falls_back_alone() -> None:
    # 亍 in a Korean name: the Chinese font for it alone, as round 57 drew it.
    assert pdf.font_runs("金\u4e8d洙 테스트") == [
        (_KO, "金"),
        (_ZH, "\u4e8d"),
        (_KO, "洙"),
        (None, " "),
        (_KO, "테스트"),
    ]


def _copied(data: bytes) -> str:
    """The text as `pdftotext` copies it, its lines joined."""
    done = subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True)
    assert b"Error" not in done.stderr, done.stderr
    return " ".join(done.stdout.decode().split())


def _pdffonts(data: bytes) -> set[str]:
    done = subprocess.run(["pdffonts", "-"], input=data, capture_output=True, check=True)
    assert b"Error" not in done.stderr, done.stderr
    return {line.split()[0] for line in done.stdout.decode().splitlines()[2:]}


def _assert_each_run_in_its_font(data: bytes) -> None:
    drawn = fonts_drawing(data)
    for character in CHINESE:
        assert drawn[character] == {_ZH}, (character, drawn[character])
    for character in "製品":
        assert drawn[character] == {_JA}, (character, drawn[character])
    assert {_ZH, _JA} <= _pdffonts(data)
    assert BOTH in _copied(data)


def test_a_paragraph_a_cell_and_the_header_draw_each_run_in_its_font() -> None:
    data = pdf.build(
        [
            pdf.para(f"Licensee: {BOTH}"),
            pdf.para(f"Licensee: <b>{CHINESE}</b>, product <b>{JAPANESE}</b>", "Body"),
            pdf.table([["Name"], [BOTH]], [300], header=True),
        ],
        pdf.PageFurniture(BOTH),
        title="Names",
    )
    _assert_each_run_in_its_font(data)


@pytest.mark.parametrize(
    "document",
    [
        hard_documents.agreement,
        hard_documents.invoice,
        hard_documents.statement,
        hard_documents.grant_letter,
    ],
)
def test_each_kind_of_document_draws_a_chinese_name_beside_a_japanese_one_each_in_its_font(
    document: Callable[..., bytes],
) -> None:
    _assert_each_run_in_its_font(document(hard=True, name=BOTH))


def test_a_japanese_name_alone_keeps_its_one_font() -> None:
    data = hard_documents.agreement(hard=True, name="株式会社テスト 東京支店")
    drawn = fonts_drawing(data)
    assert all(drawn[character] == {_JA} for character in "株式会社テスト東京支店")
    assert _ZH not in _pdffonts(data)

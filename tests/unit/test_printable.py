"""What the documents can print (`licensing.printable`, round 55): the table of
characters is the fonts' own, and a text a document would print as empty boxes is
named character by character."""

from __future__ import annotations

import pytest

from licensing import printable
from tests.support.printable_table import printed_ranges


def test_the_table_of_printed_characters_is_what_the_embedded_fonts_draw() -> None:
    # Written out from the font files; a font added or changed must write it again.
    assert printed_ranges() == printable.PRINTED


@pytest.mark.parametrize(
    "name",
    [
        "Zoë Łódź Dvořák GmbH",
        "Ελληνική Εταιρεία ООО «Медицина»",  # noqa: RUF001
        "Հայկական ՍՊԸ",  # Armenian
        "საქართველო შპს",  # Georgian
        "חברת בדיקה בע״מ",
        "شركة الاختبار المحدودة",
        "株式会社テスト 北京测试有限公司 테스트 주식회사",
        "บริษัท ทดสอบ จำกัด",
        "क्षत्रिय सॉफ्टवेयर",
        "বাংলা সফটওয়্যার",
        "தமிழ் மென்பொருள்",
        "ශ්\u200dරී ලංකා",
        "Line one\nline two\tand a tab",  # control characters: the fields' own checks
        "\u200bzero-width marks\u200d\ufeff",  # DejaVu Sans draws them as nothing
    ],
)
def test_every_script_the_documents_draw_prints(name: str) -> None:
    assert printable.unprintable(name) == ""
    assert printable.unprintable_problem(name) is None


def test_characters_no_font_draws_are_named_each_once_in_the_order_typed() -> None:
    # Ethiopic, Khmer and a Han character beyond the Basic Multilingual Plane.
    value = "Abebe \u1200\u1308\u1200 \u1781 \U00020bb7"
    assert printable.unprintable(value) == "\u1200\u1308\u1781\U00020bb7"
    problem = printable.unprintable_problem(value)
    assert problem is not None
    assert problem.startswith(
        "Our documents cannot print \u1200 (U+1200 ETHIOPIC SYLLABLE HA), "
        "\u1308 (U+1308 ETHIOPIC SYLLABLE GA), \u1781 (U+1781 KHMER LETTER KHA) or "
        "\U00020bb7 (U+20BB7 CJK UNIFIED IDEOGRAPH-20BB7): the agreement, invoices and "
        "letters would show an empty box."
    )
    assert "Bengali" in problem


def test_a_directional_isolate_is_refused_as_it_prints_a_box_outside_right_to_left_text() -> None:
    assert printable.unprintable("Zoë \u2068Test\u2069") == "\u2068\u2069"


def test_a_long_refusal_names_five_characters_and_counts_the_rest() -> None:
    problem = printable.unprintable_problem("".join(map(chr, range(0x1200, 0x1208))))
    assert problem is not None
    assert "U+1204" in problem
    assert "U+1205" not in problem
    assert " and 3 more:" in problem

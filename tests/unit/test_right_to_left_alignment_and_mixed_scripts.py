"""Round 55: a right-to-left paragraph (its first letter Hebrew or Arabic) was drawn
left-aligned, as the English around it; and a text holding Hebrew or Arabic beside
CJK, Thai or an Indic script drew its right-to-left runs in the order typed. Now such
a paragraph or table cell is aligned right, and the mixed text is drawn in display
order, each run in its font, the shaped runs as shaped."""

from __future__ import annotations

import pytest

from licensing import pdf
from tests.support.glyphs import RTL_NAMES, shown_in_order
from tests.support.pdf_pages import runs

HEBREW, ARABIC = RTL_NAMES["Hebrew"], RTL_NAMES["Arabic"]
# The frame's edges: the 0.75 in margins and reportlab's 6 pt padding.
LEFT, RIGHT = 54 + 6, 612 - 54 - 6


def _drawn(*story: object) -> bytes:
    return pdf.build(list(story), pdf.PageFurniture("Names"), title="Names")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", [HEBREW, ARABIC])
def test_a_right_to_left_paragraph_ends_at_the_right_edge(name: str) -> None:
    data = _drawn(pdf.para(name), pdf.para("Zoë Łódź GmbH"))
    shown = [run for run in runs(data) if 60 < run.baseline < 740]
    rtl, latin = shown[0], shown[-1]
    assert abs(rtl.right - RIGHT) < 1  # aligned right
    assert rtl.left > 300
    assert abs(latin.left - LEFT) < 1  # the Latin paragraph after it, as before


def test_a_right_to_left_paragraph_of_several_lines_aligns_each_line_right() -> None:
    data = _drawn(pdf.para(" ".join([HEBREW] * 12)))
    lines = [run for run in runs(data) if 60 < run.baseline < 740]
    assert len(lines) >= 2
    # (pypdf's text of a line may end with the space the line was broken at: 3 points)
    assert all(-1 < line.right - RIGHT < 4 for line in lines)


def test_an_english_sentence_with_a_hebrew_name_stays_left_aligned() -> None:
    data = _drawn(pdf.para(f"{pdf.isolated(HEBREW)} accepts it online."))
    line = [run for run in runs(data) if 60 < run.baseline < 740]
    assert abs(min(run.left for run in line) - LEFT) < 1


def test_a_right_to_left_cell_of_a_left_aligned_column_is_aligned_right() -> None:
    table = pdf.table(
        [["Licensee", "Amount"], [HEBREW, "1,200.00"], ["Zoë", "3.00"]],
        [300.0, 204.0],
        right_columns=(1,),
    )
    shown = {run.text: run for run in runs(_drawn(table)) if 60 < run.baseline < 740}
    hebrew = next(run for text, run in shown.items() if set(text) & set(HEBREW))
    # The first column spans 300 points from the frame's left, less its 6 pt padding.
    assert abs(hebrew.right - (LEFT - 6 + 300 - 6)) < 1
    assert abs(shown["Zoë"].left - LEFT) < 1


@pytest.mark.parametrize(
    ("typed", "other"),
    [
        ("חברת בדיקה บริษัท ทดสอบ", "บริษัท ทดสอบ"),  # Thai
        ("חברת בדיקה हिन्दी सॉफ्टवेयर", "िहन्दी"),  # Devanagari: its vowel sign i first
        ("חברת בדיקה বাংলা", "বাংলা"),  # Bengali
    ],
)
def test_hebrew_beside_a_shaped_script_is_drawn_right_to_left(typed: str, other: str) -> None:
    for paragraph in (pdf.para(typed), pdf.table([[typed]], [504.0], header=False)):
        shown = "".join(shown_in_order(_drawn(paragraph)))
        # The Hebrew reversed (drawn right to left), to the right of the other run.
        assert "הקידב תרבח" in shown
        assert "חברת" not in shown
        assert shown.index("הקידב") > shown.index(other[:2])


def test_hebrew_beside_chinese_is_drawn_right_to_left() -> None:
    shown = "".join(shown_in_order(_drawn(pdf.para("חברת בדיקה 北京测试"))))
    assert "הקידב תרבח" in shown  # (the CID font's run is not read: the viewer's)

"""The shared PDF furniture: page numbers, references, deterministic bytes."""

from __future__ import annotations

import io
import itertools
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader
from reportlab.lib import colors
from reportlab.lib.rl_accel import fp_str
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont, TTFontFace
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, KeepTogether, PageBreak, Paragraph, Table, TableStyle

from licensing import pdf
from tests.support.glyphs import (
    CJK_NAMES,
    EUROPEAN_NAMES,
    drawn_without_glyph,
    fonts_drawing,
    glyphs_drawn,
    standard_cid_fonts,
)


def _story(pages: int) -> list:  # type: ignore[type-arg]
    story = []
    for number in range(pages):
        story.append(pdf.para(f"Section {number + 1}: Façade & Co. <b>not bold</b> © ®", "Heading"))
        if number < pages - 1:
            story.append(PageBreak())
    return story


def test_every_page_says_page_n_of_m_and_carries_the_reference() -> None:
    data = pdf.build(_story(3), pdf.PageFurniture("Agreement CPT-2027-000001"), title="Test")
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 3
    for number, page in enumerate(reader.pages, start=1):
        text = page.extract_text()
        assert f"Page {number} of 3" in text
        assert "Agreement CPT-2027-000001" in text


def test_user_text_is_escaped_not_interpreted_as_markup() -> None:
    data = pdf.build(_story(1), pdf.PageFurniture("X"), title="Test")
    text = PdfReader(io.BytesIO(data)).pages[0].extract_text()
    assert "Façade & Co. <b>not bold</b> © ®" in text


def test_the_same_content_gives_the_same_bytes() -> None:
    first = pdf.build(_story(2), pdf.PageFurniture("X"), title="Test")
    second = pdf.build(_story(2), pdf.PageFurniture("X"), title="Test")
    assert first == second


# Plain text that skips reportlab's markup parser must come out exactly as parsed.
_PLAIN = st.text(
    alphabet=st.sampled_from(list("abcXYZ019 .,;:-'\"()/·—©®éÅŁčß\n\t\xa0<>&")), max_size=80
)


def _but_text(fragment: Any) -> dict[str, Any]:
    return {name: value for name, value in fragment.__dict__.items() if name != "text"}


@given(value=_PLAIN, style=st.sampled_from(["Body", "Cell", "CellRight", "Heading", "Small"]))
@settings(max_examples=300, deadline=None)
def test_a_plain_paragraph_has_the_fragments_reportlabs_parser_gives(
    value: str, style: str
) -> None:
    fast = pdf.para(value, style)
    parsed = Paragraph(pdf.text(value), pdf.STYLES[style])
    if not any(character in value for character in "<>&"):
        assert [f.__dict__ for f in fast.frags] == [f.__dict__ for f in parsed.frags]
        assert fast.text == parsed.text
        return
    # The parser splits the text at each escaped character into fragments of the
    # same style; ours is their text in one fragment of that style.
    [fragment] = fast.frags
    assert fragment.text == "".join(f.text for f in parsed.frags)
    assert all(_but_text(f) == _but_text(fragment) for f in parsed.frags)


_ESCAPED = st.text(alphabet=st.sampled_from(list("ab Xy 019.,-@©é<>&")), min_size=1, max_size=80)


@given(value=_ESCAPED, width=st.floats(40, 500))
@settings(max_examples=120, deadline=None)
def test_text_with_characters_markup_escapes_is_laid_out_and_read_as_the_parser_gives(
    value: str, width: float
) -> None:
    def document(paragraph: Flowable) -> list[list[str]]:
        """Each page's lines, less the space that may end a line (drawing nothing)
        where reportlab splits a word longer than the cell."""
        story = [pdf.table([[paragraph]], [width], header=False)]
        data = pdf.build(story, pdf.PageFurniture("X"), title="T")
        pages = PdfReader(io.BytesIO(data)).pages
        return [[line.rstrip() for line in page.extract_text().split("\n")] for page in pages]

    ours, theirs = pdf.para(value, "Cell"), Paragraph(pdf.text(value), pdf.STYLES["Cell"])
    assert ours.wrap(width - 12, 10**6) == theirs.wrap(width - 12, 10**6)  # the same lines
    assert document(pdf.para(value, "Cell")) == document(theirs)


def _clauses(make: Callable[[str, str], Flowable]) -> list[Flowable]:
    words = "Zoë Łódź licensee «royalty» © ® " * 40
    story: list[Flowable] = []
    for number in range(12):
        heading = "Façade and Co. (kept)" if number % 2 else "Łódź and Zoë"
        story.append(make(f"{number}. {heading}", "Heading"))
        story.append(make(f"{number}.1  {words} {number}", "Clause"))
    rows = [["Product", "Fee"]] + [[f"Product {n} of Zoë", f"{n}.00 USD"] for n in range(40)]
    story.append(pdf.table(rows, [4 * inch, 2 * inch], right_columns=(1,)))
    return story


def test_a_document_of_plain_paragraphs_has_the_bytes_reportlabs_parser_gives() -> None:
    def parsed(value: str, style: str) -> Flowable:
        return Paragraph(pdf.text(value), pdf.STYLES[style])

    furniture = pdf.PageFurniture("Agreement CPT-2027-000001")
    fast = pdf.build(_clauses(pdf.para), furniture, title="T")
    assert len(PdfReader(io.BytesIO(fast)).pages) > 2  # paragraphs and the table split
    assert fast == pdf.build(_clauses(parsed), furniture, title="T")


def test_a_paragraph_wrapped_again_at_another_width_breaks_its_lines_again() -> None:
    paragraph = pdf.para("words " * 60)
    _, narrow = paragraph.wrap(100, 1000)
    _, wide = paragraph.wrap(400, 1000)
    assert wide < narrow
    assert paragraph.wrap(100, 1000) == (100, narrow)
    assert len(paragraph.blPara.lines) == narrow / pdf.STYLES["Body"].leading


class _Document:
    """What reportlab keys a font's subsets by: any document object."""


# Characters of the embedded face (more than one subset of 256 holds), and some it lacks.
pdf.register_fonts()
_FACE = "".join(map(chr, sorted(pdfmetrics.getFont(pdf.FONT).face.charToGlyph)))
_DRAWN = st.text(
    alphabet=st.sampled_from(list(_FACE[:400] + _FACE[-200:] + "\xa0中가")), max_size=30
)


# Parsed once (a face of 6,000 characters); each example maps into its own document.
_OURS = pdf._EmbeddedFont("FaceOurs", str(pdf._FONT_DIR / f"{pdf.FONT}.ttf"))
_THEIRS = TTFont("FaceTheirs", str(pdf._FONT_DIR / f"{pdf.FONT}.ttf"))


@given(texts=st.lists(_DRAWN, min_size=1, max_size=40))
@example(texts=[_FACE[:150], _FACE[150:300] + "中", "\xa0 " + _FACE[300::-1]])  # a second subset
# Printable ASCII, at its own codes, and control characters, given codes 1-31 as met.
@example(texts=["Plain ASCII: 0-9, ~ {}", "\x01\x1f\x7f and ASCII", "é then ASCII", "\x02"])
@settings(max_examples=200, deadline=None)
def test_text_is_mapped_into_the_font_subset_as_reportlab_maps_it(texts: list[str]) -> None:
    ours, theirs = _OURS, _THEIRS
    our_document, their_document = _Document(), _Document()
    for value in texts * 2:  # the second time round every character is known
        assert ours.splitString(value, our_document) == theirs.splitString(value, their_document)
    assert ours.state[our_document].subsets == theirs.state[their_document].subsets


def _placed_text(content: bytes) -> list[tuple[str, float, float, str, float]]:
    """Every run of text on the first page: where it starts, in points, its font and size."""
    placed: list[tuple[str, float, float, str, float]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        if text.strip():
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            name = str(font["/BaseFont"]).partition("+")[2]  # without the subset's tag
            placed.append((text.strip(), round(x, 3), round(y, 3), name, size))

    PdfReader(io.BytesIO(content)).pages[0].extract_text(visitor_text=visit)
    return sorted(placed)


def test_plain_table_cells_are_drawn_where_paragraphs_would_be() -> None:
    rows = [
        ["#", "Product", "Fee"],
        ["1", "Zoë's Scrubber", "33,800.00 USD"],
        ["2", "A product whose name is far too long for its column " * 2, "822.50 USD"],
        ["", "", ""],  # an empty row has no height, as with empty paragraphs
        ["", "Total", "34,622.50 USD"],
    ]
    widths = [0.4 * inch, 3 * inch, 1.5 * inch]

    def as_paragraphs(index: int, column: int, cell: str) -> Flowable:
        style = "CellRight" if column == 2 else "CellBold" if index == 0 else "Cell"
        return pdf.para(cell, style)

    paragraphs = [
        [as_paragraphs(i, c, cell) for c, cell in enumerate(r)] for i, r in enumerate(rows)
    ]
    plain = pdf.table(rows, widths, right_columns=(2,), total_rows=1)
    assert any(isinstance(cell, str) for row in plain._cellvalues for cell in row)  # type: ignore[attr-defined]
    drawn = [
        pdf.build([table], pdf.PageFurniture("X"), title="T")
        for table in (plain, pdf.table(paragraphs, widths, right_columns=(2,), total_rows=1))
    ]
    assert _placed_text(drawn[0]) == _placed_text(drawn[1])
    assert plain.wrap(pdf.CONTENT_WIDTH, 600) == pdf.table(
        paragraphs, widths, right_columns=(2,), total_rows=1
    ).wrap(pdf.CONTENT_WIDTH, 600)


def test_names_beyond_latin_1_are_drawn_with_their_own_letters() -> None:
    # Ł, Č, Đ, ć and Ş are beyond WinAnsi (reportlab's built-in fonts).
    names = "Łukasz Čapek & Đurđević, Şahin, Œuvre Zoë"
    story = [
        pdf.para(names),
        pdf.table([["Licensee", names]], [1.5 * inch, 5 * inch], header=False),
    ]
    data = pdf.build(story, pdf.PageFurniture("X"), title="T")
    assert PdfReader(io.BytesIO(data)).pages[0].extract_text().count(names) == 2
    # Read back is not drawn: Vera had Đ in its map, drawn as its empty box.
    assert drawn_without_glyph(data, names) == []


@pytest.mark.parametrize("language", sorted(EUROPEAN_NAMES))
def test_european_names_are_drawn_with_a_glyph_for_every_letter(language: str) -> None:
    name = EUROPEAN_NAMES[language]
    story = [
        pdf.para(name, "Title"),
        pdf.para(f"Licensee: {name}"),
        pdf.markup(f"<b>{pdf.text(name)}</b> <i>{pdf.text(name)}</i>"),
        pdf.markup(f"<b><i>{pdf.text(name)}</i></b>"),
        pdf.table([["Organization", name]], [1.5 * inch, 5 * inch], header=False),
    ]
    data = pdf.build(story, pdf.PageFurniture(f"Agreement for {name}"), title=name)
    text = " ".join(PdfReader(io.BytesIO(data)).pages[0].extract_text().split())
    assert text.count(name) == 7  # title, body, bold, italic, both, cell, running header
    assert drawn_without_glyph(data, name) == []
    # in each face: regular, bold (the title, <b>), oblique (<i>) and bold oblique
    faces = {str(font["/BaseFont"]).partition("+")[2] for font in _embedded(data)}
    assert faces == {
        "DejaVuSans",
        "DejaVuSans-Bold",
        "DejaVuSans-Oblique",
        "DejaVuSans-BoldOblique",
    }


def test_a_character_no_font_has_is_reported_as_drawn_without_a_glyph() -> None:
    # The check itself can fail: no font here has Ethiopic (round 54 drew Thai, round
    # 55 Bengali), so U+1200 is the empty box (and the forms refuse it: licensing.printable).
    data = pdf.build([pdf.para("Zoë \u1200")], pdf.PageFurniture("X"), title="T")
    assert drawn_without_glyph(data, "Zoë \u1200") == ["\u1200"]


_DEJAVU = {pdf.FONT, pdf.FONT_BOLD, pdf.FONT_ITALIC, pdf.FONT_BOLD_ITALIC}
_COLLECTION = {"HeiseiKakuGo-W5": "Japan1", "STSong-Light": "GB1", "HYGothic-Medium": "Korea1"}


@pytest.mark.parametrize("language", sorted(CJK_NAMES))
def test_cjk_names_are_drawn_in_the_cid_font_of_their_script_everywhere_text_is_drawn(
    language: str,
) -> None:
    name, cid_font = CJK_NAMES[language]
    mixed = f"{name} (Zoë Łódź K.K.)"
    story = [
        pdf.para(mixed, "Title"),
        pdf.para(f"Licensee: {mixed} & <Partners>"),
        pdf.markup(f"<b>{pdf.text(mixed)}</b> for <i>{pdf.text(name)}</i>"),
        pdf.table(
            [["Organization", mixed, "Fee"], ["Licensee", mixed, name]],
            [1.2 * inch, 4 * inch, 1.5 * inch],
            right_columns=(2,),
        ),
    ]
    furniture = pdf.PageFurniture(f"Agreement for {name}", issuer=mixed, footer_note=f"© {name}")
    data = pdf.build(story, furniture, title=mixed)
    text = " ".join(PdfReader(io.BytesIO(data)).pages[0].extract_text().split())
    # title, body, bold, header cell, cell and issuer; italics, cell, reference, footer
    assert text.count(mixed) == 6
    assert text.count(name) == 10
    drawn = fonts_drawing(data)
    cjk = {character for character in name if pdf.has_cjk(character)}
    assert {character: drawn[character] for character in cjk} == {c: {cid_font} for c in cjk}
    others = set(mixed + "Licensee: &<Partners>©") - cjk - {" "}
    assert set().union(*(drawn[character] for character in others)) <= _DEJAVU
    assert drawn_without_glyph(data, "".join(others)) == []
    assert cjk.isdisjoint(glyphs_drawn(data))  # nothing CJK in the DejaVu subsets
    assert standard_cid_fonts(data) == {cid_font: _COLLECTION[cid_font]}


_MIXED = st.text(
    alphabet=st.sampled_from(list("ab Zoë&<>·—株テ東한ㄅ（ｶ、กক\u1200𠮷\xa0")),  # noqa: RUF001
    max_size=40,
)


@given(value=_MIXED)
@settings(max_examples=300, deadline=None)
def test_runs_give_back_the_text_and_only_cjk_thai_and_devanagari_leave_dejavu(value: str) -> None:
    # (ก and ক alone are shaped to themselves; Ethiopic's U+1200 no font here has, so it stays.)
    runs = pdf.font_runs(value)
    assert "".join(run for _, run in runs) == value
    assert all(first[0] != second[0] for first, second in itertools.pairwise(runs))
    for font, run in runs:
        assert all(pdf.has_other_script(character) == (font is not None) for character in run)


_JA, _KO = pdf.CJK_JAPANESE, pdf.CJK_KOREAN
_ZH = pdf.CJK_SIMPLIFIED_CHINESE


@pytest.mark.parametrize(
    ("value", "runs"),
    [
        ("Zoë Łódź GmbH", [(None, "Zoë Łódź GmbH")]),
        ("東京支店 テスト", [(_JA, "東京支店"), (None, " "), (_JA, "テスト")]),
        ("東京支店", [(_ZH, "東京支店")]),  # Han alone: the Simplified Chinese font
        ("臺灣測試（股）", [(_ZH, "臺灣測試（股）")]),  # noqa: RUF001 (traditional forms too)
        ("三星 전자 Ltd", [(_KO, "三星"), (None, " "), (_KO, "전자"), (None, " Ltd")]),
        ("ㄅㄆ 臺北", [(_ZH, "ㄅㄆ"), (None, " "), (_ZH, "臺北")]),  # bopomofo: Chinese (fonts58)
        ("ｶﾌﾞｼｷ 中 한", [(_JA, "ｶﾌﾞｼｷ"), (None, " "), (_JA, "中"), (None, " "), (_KO, "한")]),
        ("ก 中", [(pdf.THAI, "ก"), (None, " "), (_ZH, "中")]),  # Thai: Noto Sans Thai (round 54)
        ("ক 中", [("NotoSansBengali", "ক"), (None, " "), (_ZH, "中")]),  # Bengali (round 55)
        ("\u1200 中", [(None, "\u1200 "), (_ZH, "中")]),  # a script no font here has: as it was
    ],
)
def test_text_is_split_into_runs_of_dejavu_and_of_the_cid_font_its_script_asks_for(
    value: str, runs: list[tuple[str | None, str]]
) -> None:
    assert pdf.font_runs(value) == runs


def _embedded(data: bytes) -> list[Any]:
    return [
        font.get_object()
        for page in PdfReader(io.BytesIO(data)).pages
        for font in page["/Resources"]["/Font"].values()
        if "/FontDescriptor" in font.get_object()
    ]


_WORDS = st.lists(
    st.text(alphabet=st.sampled_from(list("aeilmwWM019.,-'©é")), min_size=1, max_size=25),
    min_size=1,
    max_size=60,
)


@given(
    words=_WORDS,
    spaces=st.sampled_from([" ", "  ", "\n", " \t"]),
    first=st.floats(20, 400),
    later=st.floats(20, 400),
    style=st.sampled_from(["Body", "Clause", "Cell", "CellRight", "Heading", "Title"]),
)
@settings(max_examples=300, deadline=None)
def test_lines_are_broken_as_reportlab_breaks_them(
    words: list[str], spaces: str, first: float, later: float, style: str
) -> None:
    value = spaces.join(words)
    ours, theirs = pdf.para(value, style), Paragraph(pdf.text(value), pdf.STYLES[style])
    assert ours.breakLines([first, later]).__dict__ == theirs.breakLines([first, later]).__dict__
    assert ours._width_max == theirs._width_max  # type: ignore[attr-defined]


@pytest.mark.parametrize("seed", range(3))
def test_long_paragraphs_are_broken_as_reportlab_breaks_them(seed: int) -> None:
    # `_break_plainly` gives reportlab's lines and floats over many lines, with
    # the spaces shrunk or not (a line found by summing its words' widths in C,
    # as two rounds tried, must add them in the loop's order). Paragraphs of up to 240 words, which
    # generated examples seldom reach; 100 a seed, the same each run.
    generated = random.Random(seed)
    for _ in range(100):
        words = [
            "".join(generated.choices("aeilmwWM019.,-'©é", k=generated.randint(1, 12)))
            for _ in range(generated.randint(1, 240))
        ]
        first, later = generated.uniform(40, 600), generated.uniform(40, 600)
        style = ParagraphStyle(
            "Shrunk", parent=pdf.STYLES["Clause"], spaceShrinkage=generated.choice([0, 0.05, 0.3])
        )
        value = " ".join(words)
        ours = pdf.para(value, "Clause")
        ours.style = style
        theirs = Paragraph(pdf.text(value), style)
        widths = [first, later]
        assert ours.breakLines(widths).__dict__ == theirs.breakLines(widths).__dict__
        assert ours._width_max == theirs._width_max  # type: ignore[attr-defined]


def test_the_remembered_word_widths_are_emptied_past_their_bound(monkeypatch: Any) -> None:
    monkeypatch.setattr(pdf, "_WORD_WIDTHS", {})
    monkeypatch.setattr(pdf, "_WORD_WIDTHS_BOUND", 5)
    paragraph = pdf.para("one two three four five six seven eight nine ten eleven")
    paragraph.wrap(60, 1000)
    assert 0 < len(pdf._WORD_WIDTHS[pdf.FONT, 9.5]) <= 5
    reference = Paragraph(paragraph.text, pdf.STYLES["Body"])
    reference.wrap(60, 1000)
    assert paragraph.blPara.lines == reference.blPara.lines


def _letter(name: str) -> bytes:
    story = [
        pdf.para("Letter", "Title"),
        pdf.para(f"Dear {name},"),
        pdf.para("Sincerely.", "Small"),
    ]
    return pdf.build(story, pdf.PageFurniture(f"Letter to {name}"), title="T")


def _forget_subsets() -> None:
    for remembered in (pdf._SUBSETS, pdf._COMPRESSED, pdf._FORMATTED_OBJECTS):
        remembered.clear()


def _alone(name: str) -> bytes:
    """The letter built with no subset remembered."""
    _forget_subsets()
    return _letter(name)


@pytest.mark.parametrize("bound", [64, 1])
def test_documents_reusing_a_font_subset_have_the_bytes_of_one_built_alone(
    bound: int, monkeypatch: Any
) -> None:
    monkeypatch.setattr(pdf, "_SUBSETS_BOUND", bound)
    names = ["Kestrel Coding Ltd", "Harbor Health", "Zoë Fjord AS", "Łukasz Čapek", "Zoë Fjord AS"]
    alone = [_alone(name) for name in names]
    _forget_subsets()
    in_turn = [_letter(name) for name in names]
    assert in_turn == alone
    # ASCII text shares one subset of each font; each new character makes another.
    assert len(pdf._SUBSETS) == (4 if bound == 64 else 1)
    for font in (pdf.FONT, pdf.FONT_BOLD):  # and reportlab's own fonts build the same
        monkeypatch.setattr(pdfmetrics.getFont(font), "__class__", TTFont)
        monkeypatch.setattr(pdfmetrics.getFont(font).face, "__class__", TTFontFace)
    assert [_letter(name) for name in names] == alone


def _pages_for(name: str, pages: int) -> bytes:
    """A document of about `pages` pages naming `name` in both faces."""
    story: list[Flowable] = [pdf.para(f"Letter to {name}", "Title")]
    story += [pdf.para(f"{number}. Dear {name}, a line.") for number in range(52 * pages - 10)]
    return pdf.build(story, pdf.PageFurniture(f"Letter to {name}"), title=name)


@pytest.mark.parametrize("bound", [256, 1])
def test_font_objects_formatted_once_have_the_bytes_reportlab_formats(
    bound: int, monkeypatch: Any
) -> None:
    # Other page counts give the font objects other numbers, other names other subsets.
    monkeypatch.setattr(pdf, "_FORMATTED_OBJECTS_BOUND", bound)
    shapes = [("Kestrel", 1), ("Harbor", 3), ("Zoë Fjord", 2), ("Kestrel", 1), ("Łukasz", 3)]
    _forget_subsets()
    ours = [_pages_for(name, pages) for name, pages in shapes]
    assert [len(PdfReader(io.BytesIO(data)).pages) for data in ours] == [1, 3, 2, 1, 3]
    for font in (pdf.FONT, pdf.FONT_BOLD):
        monkeypatch.setattr(pdfmetrics.getFont(font), "__class__", TTFont)
        monkeypatch.setattr(pdfmetrics.getFont(font).face, "__class__", TTFontFace)
    assert ours == [_pages_for(name, pages) for name, pages in shapes]


def test_a_second_document_of_the_same_fonts_and_pages_formats_no_font_object(
    monkeypatch: Any,
) -> None:
    # Nothing remembered: an earlier test on this worker may have formatted Zoë's subset.
    _forget_subsets()
    _letter("Kestrel Coding Ltd")
    made: list[str] = []

    def counted(name: str) -> Callable[..., Any]:
        original = getattr(pdf, name)

        def making(*args: Any) -> Any:
            made.append(name)
            return original(*args)

        return making

    for name in ("_cmap_stream", "_font_file_stream", "_font_descriptor"):
        monkeypatch.setattr(pdf, name, counted(name))
    _letter("Harbor Health")
    assert made == []
    _letter("Zoë Fjord AS")  # a new subset: its objects are made
    assert sorted(made) == ["_cmap_stream", "_font_descriptor", "_font_file_stream"]


def _translucent_letter(name: str) -> bytes:
    """A letter whose text is translucent: its page has an extended graphics state."""
    style = ParagraphStyle("Faint", parent=pdf.STYLES["Body"], textColor=colors.Color(0, 0, 0, 0.5))
    story = [pdf.para(f"Letter to {name}", "Title"), Paragraph(f"Dear {name},", style)]
    return pdf.build(story, pdf.PageFurniture(f"Letter to {name}"), title=name)


@pytest.mark.parametrize("bound", [256, 1])
def test_pages_catalogue_and_font_dictionary_formatted_once_have_reportlabs_bytes(
    bound: int, monkeypatch: Any
) -> None:
    monkeypatch.setattr(pdf, "_FORMATTED_OBJECTS_BOUND", bound)
    pdf._FORMATTED_OBJECTS.clear()
    made = [
        _pages_for("Kestrel", 1),
        _pages_for("Harbor", 3),
        _translucent_letter("Kestrel"),
        _pages_for("Kestrel", 1),
        _pages_for("Łukasz", 2),
        _letter("Harbor Health"),
    ]
    assert [len(PdfReader(io.BytesIO(data)).pages) for data in made] == [1, 3, 1, 1, 2, 1]
    monkeypatch.setattr(pdf, "_FORMATTED_ONCE", {})  # reportlab's own objects, formatted by it
    assert made == [
        _pages_for("Kestrel", 1),
        _pages_for("Harbor", 3),
        _translucent_letter("Kestrel"),
        _pages_for("Kestrel", 1),
        _pages_for("Łukasz", 2),
        _letter("Harbor Health"),
    ]


def _page_streams(data: bytes) -> list[tuple[Any, bytes]]:
    """Each page's content stream: its filters and its decompressed operators."""
    pages = PdfReader(io.BytesIO(data)).pages
    return [
        (page["/Contents"].get_object()["/Filter"], page.get_contents().get_data())
        for page in pages
    ]


def test_page_streams_are_compressed_at_the_one_level_without_ascii85_and_draw_the_same(
    monkeypatch: Any,
) -> None:
    """Every page, ours or reportlab's (a translucent one), is Flate alone at
    `PAGE_COMPRESSION_LEVEL`: the same operators as reportlab's ASCII85 and
    level 6 gave, so the same text and look, in fewer bytes."""
    documents = [lambda: _pages_for("Kestrel", 3), lambda: _translucent_letter("Harbor")]
    ours = [make() for make in documents]
    monkeypatch.setattr(pdf, "PAGE_COMPRESSION_LEVEL", 9)
    tighter = [make() for make in documents]
    monkeypatch.setattr(pdf, "_page_contents", _reportlabs_page_contents)
    reportlabs = [make() for make in documents]
    for data, at_nine, theirs in zip(ours, tighter, reportlabs, strict=True):
        streams = _page_streams(data)
        assert [filters for filters, _ in streams] == [["/FlateDecode"]] * len(streams)
        assert data != at_nine  # the level is the one setting
        assert _page_streams(at_nine) == streams
        operators = [content for _, content in _page_streams(theirs)]
        assert operators == [content for _, content in streams]
        assert len(data) < len(theirs)


def _reportlabs_page_contents(stream: str) -> Any:
    """A page stream with reportlab's default filters: ASCII85 over zlib's level 6."""
    contents = pdfdoc.PDFStream(content=stream)
    contents.filters = [pdfdoc.PDFBase85Encode, pdfdoc.PDFZCompress]
    return contents


def test_only_plain_pages_and_the_catalogue_and_fonts_of_ours_are_formatted_once() -> None:
    pdf._FORMATTED_OBJECTS.clear()
    _pages_for("Kestrel", 2)
    kinds = sorted(key[0] for key in pdf._FORMATTED_OBJECTS if isinstance(key[0], str))
    assert kinds == ["catalog", "fonts", "page", "page", "pages"]  # no standard font (pdffonts59)
    pdf._FORMATTED_OBJECTS.clear()
    _translucent_letter("Kestrel")  # its page has an extended graphics state: reportlab's
    assert "page" not in {key[0] for key in pdf._FORMATTED_OBJECTS}


def _titled(title: str, subject: str, pages: int = 2) -> bytes:
    """A document of `pages` pages with this title and subject in its information."""
    story: list[Flowable] = [pdf.para(f"Letter about {title}", "Title")]
    story += [pdf.para(f"{number}. A line about {subject}.") for number in range(52 * pages - 10)]
    return pdf.build(story, pdf.PageFurniture(title), title=title, subject=subject)


_TITLES = [  # title, subject, pages
    ("Agreement CPT-2026-0001", "License for Harbor Health", 1),
    ("Parentheses (and a \\ backslash) in it", "An unbalanced ( and )) too", 3),
    ("Łukasz's Zürich agreement", "Ærøskøbing, 東京", 2),  # beyond ASCII: reportlab's
    ("A tab\tand a control \x1b character", "", 1),  # not printable: reportlab's
]


def test_a_document_made_after_one_laid_out_on_several_lines_is_on_one_line_again(
    monkeypatch: Any,
) -> None:
    """The page, catalogue, page tree and font objects kept once per process were
    kept by their numbers alone: a document made while reportlab's `pdfMultiLine`
    was on (this file's tests turn it on) left its multi-line layout to the next
    document made with it off, which then differed from reportlab's own bytes (a
    CI run's order found it, round 41)."""
    title, subject, pages = _TITLES[0]
    monkeypatch.setattr(pdf, "_FORMATTED_OBJECTS", {})
    monkeypatch.setattr(pdf, "_FORMATTED_WIDTHS", {})
    with monkeypatch.context() as multiline:
        multiline.setattr(pdf.rl_config, "pdfMultiLine", 1)
        laid_out = _titled(title, subject, pages)
    one_line = _titled(title, subject, pages)
    monkeypatch.setattr(pdf, "_FORMATTED_OBJECTS", {})
    monkeypatch.setattr(pdf, "_FORMATTED_WIDTHS", {})
    assert laid_out != one_line
    assert one_line == _titled(title, subject, pages)  # as made with nothing kept


@pytest.mark.parametrize("multiline", [0, 1])
def test_the_file_is_put_together_with_the_bytes_reportlab_gives(
    multiline: int, monkeypatch: Any
) -> None:
    """The objects' headers, the cross-reference table, the trailer and the
    information dictionary are written as ASCII bytes (`_Document`, `_Info`);
    reportlab's own `PDFDocument.format` and `PDFInfo.format` give every byte the same."""
    monkeypatch.setattr(pdf.rl_config, "pdfMultiLine", multiline)
    formatted: list[str] = []
    original = pdf._Info.format

    def counted(self: Any, document: Any) -> bytes:
        formatted.append(self.title)
        return original(self, document)

    monkeypatch.setattr(pdf._Info, "format", counted)
    made = [_titled(*each) for each in _TITLES]
    made.append(_translucent_letter("Harbor"))  # a page of reportlab's among the objects
    assert formatted == [title for title, _, _ in _TITLES] + ["Harbor"]  # ours did it
    monkeypatch.setattr(pdf._Document, "format", pdfdoc.PDFDocument.format)
    monkeypatch.setattr(pdf._Info, "format", pdfdoc.PDFInfo.format)
    theirs = [_titled(*each) for each in _TITLES]
    theirs.append(_translucent_letter("Harbor"))
    assert made == theirs
    reader = PdfReader(io.BytesIO(made[2]))
    assert reader.metadata is not None
    assert reader.metadata.title == _TITLES[2][0]
    assert len(reader.pages) == 2


def test_a_document_with_comments_is_put_together_by_reportlab(monkeypatch: Any) -> None:
    """Not invariant, with reportlab's comments on, the file is reportlab's own."""
    monkeypatch.setattr(pdf.rl_config, "invariant", 0)
    monkeypatch.setattr(pdf.rl_config, "pdfComments", 1)
    monkeypatch.setattr(pdf._Info, "format", None)  # would fail if ours were asked
    data = _titled("Commented", "A subject", 1)
    assert b"% page stream" in data
    assert len(PdfReader(io.BytesIO(data)).pages) == 1


@given(st.text(max_size=40) | st.sampled_from(["", "()", "\\(x)", "a\x18b", "\x7f", "é"]))
@settings(max_examples=300)
def test_a_string_is_written_as_reportlabs_pdf_string_writes_it(value: str) -> None:
    """Printable ASCII is written without the PDFDocEncoding codec: the same bytes
    as reportlab's `PDFString`, which the codec would change for characters 24-31."""
    document = pdfdoc.PDFDocument(invariant=1)
    assert pdf._pdf_string(value, document) == pdfdoc.PDFString(value).format(document)


_FONTS_ON_FIRST_USE = """
import sys
from reportlab.pdfbase import pdfmetrics
import wsgi  # the whole app, every feature's documents module with it
from licensing import pdf

def registered():
    names = pdfmetrics.getRegisteredFontNames()
    return "".join("1" if face in names else "0" for face in (
        pdf.FONT, pdf.FONT_BOLD, pdf.FONT_ITALIC, pdf.FONT_BOLD_ITALIC))

seen = [registered()]
cell = pdf.table([["Name"], ["Dvořák s.r.o."]], [200])
seen.append(registered())
plain = pdf.build([cell, pdf.markup("<b>Erdős</b> Kft.")], pdf.PageFurniture("T"), title="t")
seen.append(registered())
italics = pdf.markup("<i>Łódź</i> and <b><i>Ankara</i></b>")
slanted = pdf.build([italics], pdf.PageFurniture("T"), title="t")
seen.append(registered())
sys.stdout.write(" ".join([*seen, plain[:5].decode(), slanted[:5].decode()]))
"""


def _in_a_fresh_interpreter(script: str, tmp_path: Any) -> str:
    """What `script` writes, run by a fresh interpreter: this test session has
    drawn documents already."""
    root = Path(__file__).resolve().parents[2]
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}",
        "SECRET_KEY": "s" * 40,
        "AUDIT_HMAC_KEY": "a" * 40,
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_the_fonts_are_parsed_by_the_first_document_and_the_oblique_faces_by_italics(
    tmp_path: Any,
) -> None:
    output = _in_a_fresh_interpreter(_FONTS_ON_FIRST_USE, tmp_path)
    assert output == "0000 1100 1100 1111 %PDF- %PDF-"


_CID_FONTS_ON_FIRST_USE = """
import sys
from reportlab.pdfbase import pdfmetrics
import wsgi
from licensing import pdf

def registered():
    names = pdfmetrics.getRegisteredFontNames()
    fonts = (pdf.CJK_JAPANESE, pdf.CJK_SIMPLIFIED_CHINESE, pdf.CJK_KOREAN)
    module = "reportlab.pdfbase.cidfonts" in sys.modules
    return "".join("1" if font in names else "0" for font in fonts) + ("+" if module else "-")

seen = [registered()]
latin = [pdf.para("Łódź Zoë"), pdf.table([["Erdős Kft."]], [200])]
pdf.build(latin, pdf.PageFurniture("T"), title="t")
seen.append(registered())
pdf.build([pdf.para("株式会社テスト")], pdf.PageFurniture("Ltd"), title="t")
seen.append(registered())
pdf.build([pdf.table([["北京测试有限公司"]], [200])], pdf.PageFurniture("테스트"), title="t")
seen.append(registered())
sys.stdout.write(" ".join(seen))
"""


def test_a_cid_font_is_registered_by_the_first_text_drawn_in_it(tmp_path: Any) -> None:
    output = _in_a_fresh_interpreter(_CID_FONTS_ON_FIRST_USE, tmp_path)
    assert output == "000- 000- 100+ 111+"


def test_a_paragraph_of_text_broken_before_takes_the_remembered_lines(monkeypatch: Any) -> None:
    monkeypatch.setattr(pdf, "_BROKEN_LINES", {})
    first, second = (
        pdf.para("the same clause " * 20, "Clause"),
        pdf.para("the same clause " * 20, "Clause"),
    )
    first.wrap(300, 1000)
    breaking = monkeypatch.setattr  # the second wrap must not break the lines again
    breaking(pdf._Paragraph, "_break_plainly", staticmethod(lambda *_: pytest.fail("broken again")))
    assert second.wrap(300, 1000) == first.wrap(300, 1000)
    assert second.blPara.lines == first.blPara.lines
    assert second._width_max == first._width_max  # type: ignore[attr-defined]


def test_the_remembered_lines_are_emptied_past_their_bound(monkeypatch: Any) -> None:
    monkeypatch.setattr(pdf, "_BROKEN_LINES", {})
    monkeypatch.setattr(pdf, "_BROKEN_LINES_BOUND", 3)
    for number in range(10):
        pdf.para(f"clause {number} of the agreement").wrap(300, 1000)
        assert 0 < len(pdf._BROKEN_LINES) <= 3
    paragraph = pdf.para("clause 9 of the agreement " * 9)
    paragraph.wrap(120, 1000)
    reference = Paragraph(paragraph.text, pdf.STYLES["Body"])
    reference.wrap(120, 1000)
    assert paragraph.blPara.lines == reference.blPara.lines


def test_the_same_text_at_another_width_or_in_another_style_is_broken_for_it() -> None:
    value = "royalty terms for the licensed product " * 6
    narrow, wide, small = pdf.para(value), pdf.para(value), pdf.para(value, "Small")
    narrow.wrap(150, 1000), wide.wrap(400, 1000), small.wrap(150, 1000)
    for paragraph, width in ((narrow, 150), (wide, 400), (small, 150)):
        reference = Paragraph(value, paragraph.style)
        reference.wrap(width, 1000)
        assert paragraph.blPara.lines == reference.blPara.lines
    assert len(narrow.blPara.lines) > len(wide.blPara.lines)
    assert narrow.blPara.lines != small.blPara.lines  # the same words, room left differs


def test_only_left_aligned_plain_paragraphs_take_the_short_drawing() -> None:
    def wrapped(paragraph: Paragraph) -> Paragraph:
        paragraph.wrap(200, 1000)
        return paragraph

    assert pdf._draws_plainly(wrapped(pdf.para("Licensed use and fee", "Clause")))
    assert not pdf._draws_plainly(wrapped(pdf.para("1,250.00 USD", "CellRight")))
    assert not pdf._draws_plainly(wrapped(pdf.markup("<b>Licensee</b> name")))
    overflowing = wrapped(pdf.para("Licensed use and fee", "Clause"))
    overflowing.blPara = overflowing.blPara.clone(lines=[(-3.0, ["Licensed", "use"])])
    assert pdf._draws_plainly(overflowing)  # its word spacing narrowed as reportlab narrows it


def test_lines_wider_than_their_width_are_drawn_narrowed_with_the_bytes_reportlab_draws() -> None:
    # Words of every length, so that some lines fit only with their spaces shrunk
    # (reportlab's spaceShrinkage) and are drawn with a narrower word spacing.
    words = [("x" * (1 + (n * 7) % 11)) + ("," if n % 5 == 0 else "") for n in range(400)]
    texts = [" ".join(words[n : n + 25 + n % 40]) for n in range(0, 360, 9)]
    texts.append("Amounts owed: Łódź © " + " ".join(words[:60]))
    narrowed = 0
    for text in texts:
        paragraph = pdf.para(text, "Clause")
        paragraph.wrap(pdf.CONTENT_WIDTH - 12, 1000)
        narrowed += any(extra <= -1e-8 for extra, _ in paragraph.blPara.lines)
    assert narrowed >= 3
    furniture = pdf.PageFurniture("Agreement CPT-2027-000001")
    ours = pdf.build([pdf.para(text, "Clause") for text in texts] * 2, furniture, title="T")
    theirs = [Paragraph(pdf.text(text), pdf.STYLES["Clause"]) for text in texts] * 2
    assert ours == pdf.build(theirs, furniture, title="T")


_DRAWN_PLAIN = st.text(
    alphabet=st.sampled_from(list("abcXYZ019 .,;:-'\"()/·—©®éÅŁčßřő\\ΩЖ")), min_size=1, max_size=120
)


@given(
    texts=st.lists(_DRAWN_PLAIN, min_size=1, max_size=6),
    style=st.sampled_from(["Body", "Clause", "Cell", "CellRight", "Heading", "Small", "Title"]),
)
@settings(max_examples=60, deadline=None)
def test_plain_paragraphs_are_drawn_with_the_bytes_reportlab_draws(
    texts: list[str], style: str
) -> None:
    furniture = pdf.PageFurniture("Agreement CPT-2027-000001")
    ours = [pdf.para(value, style) for value in texts]
    theirs = [Paragraph(pdf.text(value), pdf.STYLES[style]) for value in texts]
    assert pdf.build(ours, furniture, title="T") == pdf.build(theirs, furniture, title="T")


def test_a_paragraph_split_across_pages_is_drawn_with_the_bytes_reportlab_draws() -> None:
    clause = "The Licensee shall report every use of the content, Łódź © ®, each quarter. " * 60
    furniture = pdf.PageFurniture("Agreement CPT-2027-000001")
    ours = pdf.build([pdf.para(clause, "Clause")] * 3, furniture, title="T")
    theirs = [Paragraph(pdf.text(clause), pdf.STYLES["Clause"])] * 3
    assert len(PdfReader(io.BytesIO(ours)).pages) >= 3
    assert ours == pdf.build(theirs, furniture, title="T")


def _canvas_after(draw: Callable[[Canvas], None], transparent_before: bool) -> tuple[Any, ...]:
    canvas = Canvas(io.BytesIO(), invariant=True)
    if transparent_before:
        canvas.setFillAlpha(0.5)
    draw(canvas)
    state = {
        name: getattr(canvas, name)
        for name in canvas.STATE_ATTRIBUTES  # type: ignore[attr-defined]
        if name != "_extgstate"
    }
    extended: Any = canvas._extgstate  # type: ignore[attr-defined]
    document: Any = canvas._doc  # type: ignore[attr-defined]
    return (
        canvas._code,  # type: ignore[attr-defined]
        state,
        extended._d,
        extended._c,
        document._pdfVersion,
    )


@pytest.mark.parametrize("transparent_before", [False, True])
@pytest.mark.parametrize(
    "colour",
    [
        pdf.INK,
        pdf.MUTED,
        colors.Color(0.1, 0.2, 0.3, alpha=0.5),
        colors.Color(0.1, 0.2, 0.3, alpha=None),
        colors.CMYKColor(0.1, 0.2, 0.3, 0.4),
    ],
)
def test_text_in_a_colour_leaves_what_reportlabs_saved_state_leaves(
    colour: Any, transparent_before: bool
) -> None:
    def theirs(canvas: Canvas) -> None:
        canvas.saveState()
        canvas.setFillColor(colour)
        canvas._code.append("BT ET")  # type: ignore[attr-defined]
        canvas.restoreState()

    ours = _canvas_after(
        lambda canvas: pdf._draw_in_colour(canvas, colour, "BT ET"), transparent_before
    )
    assert ours == _canvas_after(theirs, transparent_before)


# Our own markup, as the documents write it (bold headings, a stamp's colour,
# a use's title with its rule), some of it long enough to split over pages.
_MARKUP = [
    ("<b>Licensee</b>", "Cell"),
    ("<b>From</b>", "Small"),
    ('<font color="#1d7a3a">PAID</font> on 2027-01-02', "Stamp"),
    ("<b>1. Łódź Claims Desk</b> (rule R-7 &amp; R-8)", "Body"),
    ("<b>Licensor</b> " + "royalty terms, Zoë © ® " * 400, "Clause"),
]


def _markup_story(make: Callable[[str, str], Flowable]) -> list[Flowable]:
    story = [make(value, style) for value, style in _MARKUP]
    cells = [[make(value, style), make("Łódź & Co.", "Cell")] for value, style in _MARKUP[:3]]
    return [*story, pdf.table(cells, [4 * inch, 2 * inch], header=False)]


def test_markup_parsed_before_is_drawn_with_the_bytes_reportlab_draws(monkeypatch: Any) -> None:
    monkeypatch.setattr(pdf, "_PARSED", {})
    furniture = pdf.PageFurniture("Invoice INV-2027-000001")
    first = pdf.build(_markup_story(pdf.markup), furniture, title="T")
    again = pdf.build(_markup_story(pdf.markup), furniture, title="T")  # all remembered
    assert len(PdfReader(io.BytesIO(first)).pages) > 1
    theirs = pdf.build(
        _markup_story(lambda value, style: Paragraph(value, pdf.STYLES[style])),
        furniture,
        title="T",
    )
    assert first == again == theirs


def test_markup_is_parsed_once_and_each_paragraph_has_fragments_of_its_own(
    monkeypatch: Any,
) -> None:
    monkeypatch.setattr(pdf, "_PARSED", {})
    first = pdf.markup("<b>Bill to</b> the licensee", "Small")
    monkeypatch.setattr(pdf, "_Paragraph", _NotParsing)  # the second must not parse
    second = pdf.markup("<b>Bill to</b> the licensee", "Small")
    parsed = Paragraph("<b>Bill to</b> the licensee", pdf.STYLES["Small"])
    assert [f.__dict__ for f in second.frags] == [f.__dict__ for f in parsed.frags]
    assert (second.text, second.style) == (parsed.text, parsed.style)
    assert not {id(f) for f in first.frags} & {id(f) for f in second.frags}
    first.frags[0].text = "changed"
    assert second.frags[0].text == "Bill to"


class _NotParsing(pdf._Paragraph):
    def __init__(self, text: str, style: Any, frags: Any = None, **kwargs: Any) -> None:
        assert frags is not None, "markup parsed again"
        super().__init__(text, style, frags=frags, **kwargs)


def test_text_with_characters_markup_escapes_is_not_parsed(monkeypatch: Any) -> None:
    monkeypatch.setattr(pdf, "_PARSED", {})
    paragraph = pdf.para("Smith & Sons  <Ltd>", "Cell")
    assert pdf._PARSED == {}
    assert [fragment.text for fragment in paragraph.frags] == ["Smith & Sons <Ltd>"]


def test_the_remembered_markup_is_emptied_past_its_bound(monkeypatch: Any) -> None:
    monkeypatch.setattr(pdf, "_PARSED", {})
    monkeypatch.setattr(pdf, "_PARSED_BOUND", 3)
    for number in range(10):
        value = f"<b>{number}.</b> Product <b>R-{number}</b>"  # markup the parser reads
        paragraph = pdf.markup(value)
        assert 0 < len(pdf._PARSED) <= 3
        parsed = Paragraph(value, pdf.STYLES["Body"])
        assert [f.__dict__ for f in paragraph.frags] == [f.__dict__ for f in parsed.frags]


@given(value=_PLAIN)
@settings(max_examples=200, deadline=None)
def test_text_is_cleaned_as_reportlab_cleans_it_first_time_or_remembered(value: str) -> None:
    from reportlab.platypus.paragraph import cleanBlockQuotedText

    assert pdf._clean(value) == pdf._clean(value) == cleanBlockQuotedText(value)


# Every character reportlab's cleaning treats as whitespace (its `_wsc`: Python's
# but the no-break space, plus the zero-width space), the no-break space, letters.
_WHITESPACED = st.text(
    alphabet=st.sampled_from(
        list("\t\n\x0b\x0c\r\x1c\x1f \x85\u1680\u2000\u2007\u200a")
        + list("\u200b\u2028\u2029\u202f\u205f\u3000\xa0abéŁ")
    ),
    max_size=40,
)


@given(value=_WHITESPACED)
@settings(max_examples=300, deadline=None)
def test_text_of_every_kind_of_whitespace_is_cleaned_as_reportlab_cleans_it(value: str) -> None:
    from reportlab.platypus.paragraph import cleanBlockQuotedText

    assert pdf._clean(value) == cleanBlockQuotedText(value)


def test_the_remembered_cleaned_text_is_emptied_past_its_bound(monkeypatch: Any) -> None:
    monkeypatch.setattr(pdf, "_CLEANED", {})
    monkeypatch.setattr(pdf, "_CLEANED_BOUND", 3)
    for number in range(10):
        assert pdf._clean(f"  clause\n {number}  ") == f"clause {number}"
        assert 0 < len(pdf._CLEANED) <= 3


def test_paragraphs_in_table_cells_and_kept_together_are_drawn_as_reportlab_draws() -> None:
    def story(make: Callable[[str, str], Flowable]) -> list[Flowable]:
        address = [make(line, "Body") for line in ("Łódź Claims Desk", "1 Main St", "Zoë ©")]
        block = [make("1. Product", "Heading"), make("Royalty terms " * 30, "Clause")]
        return [
            pdf.table([[address, list(address)]], [3 * inch, 3 * inch], header=False),
            KeepTogether(block * 2),
            make("A closing line", "Small"),
        ]

    furniture = pdf.PageFurniture("Agreement CPT-2027-000001")
    ours = pdf.build(story(pdf.para), furniture, title="T")
    theirs = story(lambda value, style: Paragraph(pdf.text(value), pdf.STYLES[style]))
    assert ours == pdf.build(theirs, furniture, title="T")


def _reportlabs_tables_and_lines(monkeypatch: Any) -> None:
    """Tables styled by reportlab's setStyle alone, lines drawn by its canvas."""
    every_command = {command[0] for command in pdf._table_commands(True, (1, 2), 1)}
    monkeypatch.setattr(pdf, "_cell_styles", lambda shape, commands: None)
    monkeypatch.setattr(pdf, "_RULING", tuple(every_command))
    monkeypatch.setattr(pdf._NumberedCanvas, "drawString", Canvas.drawString)
    monkeypatch.setattr(pdf._NumberedCanvas, "drawRightString", Canvas.drawRightString)
    monkeypatch.setattr(pdf._NumberedCanvas, "line", Canvas.line)  # the rules too
    monkeypatch.setattr(pdf._RuledTable, "_calc", Table._calc)  # reportlab measures
    monkeypatch.setattr(pdf._RuledTable, "draw", Table.draw)  # and draws


_CELL_TEXT = st.text(
    alphabet=st.sampled_from(list("abcXYZ019 .,;:-'\"()/\\·—©®éÅŁčßřΩЖ")), max_size=25
)


@given(cells=st.lists(st.tuples(_CELL_TEXT, _CELL_TEXT, _CELL_TEXT), min_size=1, max_size=70))
@settings(max_examples=40, deadline=None)
def test_tables_and_running_lines_are_drawn_with_the_bytes_reportlab_draws(
    cells: list[tuple[str, str, str]],
) -> None:
    def document() -> bytes:
        rows = [["Product", "Use", "Fee"], *[list(row) for row in cells]]
        story: list[Flowable] = [
            pdf.table(rows, [2.5 * inch, 2.5 * inch, 2 * inch], right_columns=(2,), total_rows=1),
            pdf.table(rows[:4], [3 * inch, 2 * inch, 2 * inch], header=False),
        ]
        reference = f"Invoice {cells[0][0]}"  # the running header, right-aligned
        return pdf.build(story, pdf.PageFurniture(reference, footer_note=cells[-1][1]), title="T")

    ours = document()
    with pytest.MonkeyPatch.context() as monkeypatch:
        _reportlabs_tables_and_lines(monkeypatch)
        theirs = document()
    assert ours == theirs


def _tables_of_every_kind() -> list[Flowable]:
    """Tables as our documents make them: empty cells, wrapped text, stacked
    paragraphs, CJK, a header repeated on each page, a row taller than a page."""
    address = [pdf.para(line, "Cell") for line in ("Łódź Claims Desk", "1 Main St", "Zoë ©")]
    rows: list[list[Any]] = [["#", "Description and working", "Amount (USD)"]]
    for number in range(1, 60):
        working = "Rate 0.05 \u00d7 1,000 units " * (number % 7)
        rows.append([str(number), working or "", f"{number * 3}.00"])
    rows.append(["", "Total", "9,999.00"])
    return [
        pdf.table([[address, "To", list(address)]], [2 * inch, inch, 3 * inch], header=False),
        pdf.table(rows, [0.5 * inch, 4.5 * inch, 2 * inch], right_columns=(2,), total_rows=1),
        pdf.table(
            [["品目", "数量"], ["ライセンス", "12"]], [3 * inch, 3 * inch], right_columns=(1,)
        ),
        pdf.table([["Note", "Royalty terms " * 700]], [inch, 6 * inch], header=False),
    ]


def test_tables_of_every_kind_are_measured_and_drawn_with_reportlabs_bytes(
    monkeypatch: Any,
) -> None:
    furniture = pdf.PageFurniture("Invoice INV-2026-000001")
    ours = pdf.build(_tables_of_every_kind(), furniture, title="T")
    assert len(PdfReader(io.BytesIO(ours)).pages) >= 4  # split, with the header repeated
    monkeypatch.setattr(pdf._RuledTable, "_calc", Table._calc)
    monkeypatch.setattr(pdf._RuledTable, "draw", Table.draw)
    assert ours == pdf.build(_tables_of_every_kind(), furniture, title="T")


def test_a_table_with_more_than_ours_is_measured_and_drawn_by_reportlab(monkeypatch: Any) -> None:
    def story() -> list[Flowable]:
        spanned = pdf.table([["Product", "Fee"], ["Merged", ""]], [3 * inch, 2 * inch])
        spanned.setStyle(TableStyle([("SPAN", (0, 1), (1, 1))]))
        centred = pdf.table([["Product", "Fee"], ["Centred", "1.00"]], [3 * inch, 2 * inch])
        centred.setStyle(TableStyle([("ALIGN", (0, 1), (0, 1), "CENTRE")]))
        boxed = pdf.table([["Product", "Fee"], ["Boxed", "2.00"]], [3 * inch, 2 * inch])
        boxed.setStyle(TableStyle([("BOX", (0, 0), (-1, -1), 1, colors.black)]))
        return [spanned, centred, boxed]

    tables = story()
    assert not tables[0]._measures_plainly()  # type: ignore[attr-defined]
    assert not any(table._draws_plainly() for table in tables)  # type: ignore[attr-defined]
    furniture = pdf.PageFurniture("Grant letter")
    ours = pdf.build(tables, furniture, title="T")
    monkeypatch.setattr(pdf._RuledTable, "_calc", Table._calc)
    monkeypatch.setattr(pdf._RuledTable, "draw", Table.draw)
    assert ours == pdf.build(story(), furniture, title="T")


@pytest.mark.parametrize(
    ("rows", "columns", "options"),
    [
        (1, 2, {"header": False}),
        (5, 2, {"header": False}),
        (7, 3, {"right_columns": (2,), "total_rows": 4}),
        (5, 6, {"right_columns": (5,), "total_rows": 1}),
        (4, 3, {"right_columns": (1, 2)}),
    ],
)
def test_each_cell_has_the_style_reportlabs_set_style_gives_it_and_its_own(
    rows: int, columns: int, options: dict[str, Any], monkeypatch: Any
) -> None:
    monkeypatch.setattr(pdf, "_CELL_STYLES", {})
    values = [[f"cell {row} {column}" for column in range(columns)] for row in range(rows)]
    ours = [pdf.table(values, [60] * columns, **options) for _ in range(2)]  # then remembered
    _reportlabs_tables_and_lines(monkeypatch)
    theirs = pdf.table(values, [60] * columns, **options)
    expected = [[style.__dict__ for style in row] for row in theirs._cellStyles]  # type: ignore[attr-defined]
    for table in ours:
        assert [[style.__dict__ for style in row] for row in table._cellStyles] == expected  # type: ignore[attr-defined]
        assert table._linecmds == theirs._linecmds  # type: ignore[attr-defined]
        assert table._bkgrndcmds == theirs._bkgrndcmds  # type: ignore[attr-defined]
    styles = [id(style) for table in ours for row in table._cellStyles for style in row]  # type: ignore[attr-defined]
    assert len(set(styles)) == len(styles) == 2 * rows * columns  # reportlab changes them in place


def test_the_remembered_cell_styles_are_emptied_past_their_bound(monkeypatch: Any) -> None:
    monkeypatch.setattr(pdf, "_CELL_STYLES", {})
    monkeypatch.setattr(pdf, "_CELL_STYLES_BOUND", 3)
    for rows in range(1, 10):
        table = pdf.table([["a", "b"]] * rows, [100, 100], right_columns=(1,))
        assert 0 < len(pdf._CELL_STYLES) <= 3
        assert table._cellStyles[-1][1].alignment == "RIGHT"  # type: ignore[attr-defined]
        assert table._cellStyles[0][0].fontname == pdf.FONT_BOLD  # type: ignore[attr-defined]


def test_a_fragment_is_cloned_as_reportlab_clones_it() -> None:
    fragment = Paragraph("<b>x</b> y", pdf.STYLES["Body"]).frags[1]
    ours = pdf._clone(fragment, text="changed", lines=[])
    theirs = fragment.clone(text="changed", lines=[])
    assert type(ours) is type(theirs)
    assert list(ours.__dict__.items()) == list(theirs.__dict__.items())  # order too
    ours.text = "again"
    assert fragment.text == " y"  # the original is untouched


def test_a_paragraphs_space_before_and_after_are_reportlabs() -> None:
    for name in pdf.STYLES.byName:
        paragraph = pdf.para("Some words", name)
        assert paragraph.getSpaceBefore() == Flowable.getSpaceBefore(paragraph)
        assert paragraph.getSpaceAfter() == Flowable.getSpaceAfter(paragraph)
    given_its_own = pdf.para("Some words")
    given_its_own.spaceBefore, given_its_own.spaceAfter = 17, 23  # type: ignore[attr-defined]
    assert given_its_own.getSpaceBefore() == Flowable.getSpaceBefore(given_its_own) == 17
    assert given_its_own.getSpaceAfter() == Flowable.getSpaceAfter(given_its_own) == 23


@given(content=st.text(max_size=300))
@settings(max_examples=50, deadline=None)
def test_a_page_stream_is_formatted_as_reportlab_formats_it(content: str) -> None:
    document = pdfdoc.PDFDocument(invariant=1)
    ours = pdf._page_contents(content)
    theirs = pdfdoc.PDFStream(content=content, filters=[pdf._PAGE_FLATE])
    assert type(ours) is pdf._PageStream
    assert ours.format(document) == pdfdoc.PDFStream.format(theirs, document)


_NUMBER = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6),
    st.integers(-100_000, 100_000),
    st.sampled_from([0, 0.0, -0.0, 1, 1.0, True, 1e-7, -1e-7, 1.5e-7, 0.5, 612, 612.0]),
)


@given(numbers=st.lists(st.tuples(_NUMBER, _NUMBER), min_size=1, max_size=20))
@settings(max_examples=200, deadline=None)
def test_numbers_are_formatted_as_fp_str_formats_them_first_time_or_remembered(
    numbers: list[tuple[float, float]],
) -> None:
    for pair in numbers * 2:  # the second time from what the process kept
        assert pdf._fp(*pair) == fp_str(*pair)
        assert pdf._fp(pair[0]) == fp_str(pair[0])
        # An equal number of another type (1 and 1.0, 0.0 and -0.0) kept first formats alike.
        assert pdf._fp(float(pair[0]), pair[1]) == fp_str(*pair)


def test_the_remembered_numbers_are_emptied_past_their_bound(monkeypatch: Any) -> None:
    monkeypatch.setattr(pdf, "_FORMATTED_NUMBERS", {})
    monkeypatch.setattr(pdf, "_FORMATTED_NUMBERS_BOUND", 3)
    for number in range(10):
        assert pdf._fp(number + 0.25, 1) == fp_str(number + 0.25, 1)
        assert len(pdf._FORMATTED_NUMBERS) <= 3


def test_a_line_is_written_as_reportlabs_canvas_writes_it() -> None:
    ours = pdf._NumberedCanvas(io.BytesIO(), invariant=True)
    theirs = Canvas(io.BytesIO(), invariant=True)
    for x1, y1, x2, y2 in [(54, 720.3, 558, 720.3), (0.0, -0.0, 1e-9, 123.4567891), (1, 2, 3, 4)]:
        ours.line(x1, y1, x2, y2)
        theirs.line(x1, y1, x2, y2)
    assert ours._code == theirs._code  # type: ignore[attr-defined]


@pytest.mark.parametrize("style", sorted(pdf.STYLES.byName))
def test_a_plain_paragraph_is_made_as_reportlabs_init_makes_it(style: str) -> None:
    """`para()` sets a paragraph's attributes itself, from a template per style:
    the same as reportlab's `Paragraph.__init__` sets them, and the per-style
    answer to whether its lines break the simple way is `_plain_breaking`'s."""
    ours = pdf.para("Licensed  use\nand fee", style)
    fragment = ours.frags[0]
    theirs = pdf._Paragraph(ours.text, pdf.STYLES[style], frags=[fragment])
    theirs._plain_text = True
    fields = dict(ours.__dict__)
    assert fields.pop("_breaks_plainly", False) == pdf._plain_breaking(theirs, theirs.style)
    assert fields == theirs.__dict__
    assert fragment.__dict__ == {
        **pdf._plain_fragment(style)[0].__dict__,
        "text": "Licensed use and fee",
        "link": [],
        "us_lines": [],
    }
    assert pdf.para("Licensed use", style).frags[0] is not fragment  # never shared


def test_a_plain_paragraph_is_not_asked_at_each_wrap_whether_it_breaks_plainly(
    monkeypatch: Any,
) -> None:
    value = "royalty terms for the licensed product " * 6
    paragraph = pdf.para(value, "Clause")
    monkeypatch.setattr(pdf, "_plain_breaking", lambda *_: pytest.fail("asked again"))
    assert paragraph.wrap(300, 1000) == paragraph.wrap(300, 1000)
    monkeypatch.undo()
    reference = Paragraph(pdf.text(value), pdf.STYLES["Clause"])
    assert reference.wrap(300, 1000) == (300, paragraph.height)
    assert paragraph.blPara.lines == reference.blPara.lines


def test_whether_a_text_is_printable_is_kept_with_its_lines(monkeypatch: Any) -> None:
    """A text's lines carry whether it is printable; a paragraph whose text is
    not (a DEL character) is drawn each time, never taken from `_DRAWN`."""
    monkeypatch.setattr(pdf, "_BROKEN_LINES", {})
    monkeypatch.setattr(pdf, "_DRAWN", {})
    printable, unprintable = pdf.para("Licensed use and fee"), pdf.para("Licensed use\x7f fee")
    story = [printable, unprintable]
    pdf.build(story, pdf.PageFurniture("T"), title="t")
    assert sorted(known[-1] for known in pdf._BROKEN_LINES.values()) == [False, True]
    assert [key[0][0] for key in pdf._DRAWN] == ["Licensed use and fee"]
    again = [pdf.para("Licensed use and fee"), pdf.para("Licensed use\x7f fee")]
    drawing = pdf._Paragraph._draw_plainly
    drawn: list[str] = []

    def counted(paragraph: Any, key: Any = None) -> None:
        drawn.append(paragraph.text)
        drawing(paragraph, key)

    monkeypatch.setattr(pdf._Paragraph, "_draw_plainly", counted)
    assert pdf.build(again, pdf.PageFurniture("T"), title="t") == pdf.build(
        story, pdf.PageFurniture("T"), title="t"
    )
    assert drawn == ["Licensed use\x7f fee"] * 2  # the printable one came from `_DRAWN`


def test_a_colour_drawn_is_written_as_its_own_fill_even_where_an_id_is_reused() -> None:
    """The fill operator is kept by the colour object; a colour made later at
    a freed colour's id (the same id) writes its own fill, not the first's."""
    canvas = Canvas(io.BytesIO())
    first = colors.Color(0.1, 0.2, 0.3)
    pdf._draw_in_colour(canvas, first, "X")
    pdf._COLOUR_FILLS[id(first)] = (colors.Color(0.9, 0.9, 0.9), 1, "0 0 0 rg")  # another's
    pdf._draw_in_colour(canvas, first, "Y")
    code = canvas._code  # type: ignore[attr-defined]
    assert code[-4:] == ["q", f"{fp_str(0.1, 0.2, 0.3)} rg", "Y", "Q"]


def _furniture_story(pages: int) -> list[Flowable]:
    """`pages` pages of body text that leaves out some of the furniture's characters."""
    story: list[Flowable] = []
    for number in range(pages):
        story.append(pdf.para(f"Section {number + 1}: plain words", "Heading"))
        if number < pages - 1:
            story.append(PageBreak())
    return story


def test_the_running_header_and_footer_are_drawn_once_a_document_and_then_repeated(
    monkeypatch: Any,
) -> None:
    # Round 39: the issuer, the reference and the footer's note are mapped and
    # measured on the first page they are drawn by `_draw_line`; later pages
    # write the same operators again, so only the page number is drawn a page.
    drawn: list[str] = []
    draw_line = pdf._NumberedCanvas._draw_line

    def counting(canvas: Any, x: float, y: float, text: str) -> bool:
        written = draw_line(canvas, x, y, text)
        if written:  # False: reportlab draws it (characters not yet in the first subset)
            drawn.append(text)
        return written

    monkeypatch.setattr(pdf._NumberedCanvas, "_draw_line", counting)
    furniture = pdf.PageFurniture("Agreement CPT-2027-000001", footer_note="© Section")
    data = pdf.build(_furniture_story(4), furniture, title="T")
    assert drawn.count("Agreement CPT-2027-000001") == 1
    assert drawn.count("CPT Licensing Office") == 1
    assert drawn.count("© Section") == 1
    assert [text for text in drawn if text.startswith("Page ")] == [
        f"Page {number} of 4" for number in range(1, 5)
    ]
    for number, page in enumerate(PdfReader(io.BytesIO(data)).pages, start=1):
        text = page.extract_text()
        assert "Agreement CPT-2027-000001" in text
        assert "CPT Licensing Office" in text
        assert "© Section" in text
        assert f"Page {number} of 4" in text
    # A second document keeps nothing of the first's: its own lines, drawn again.
    drawn.clear()
    pdf.build(_furniture_story(2), pdf.PageFurniture("Invoice INV-1"), title="T")
    assert drawn.count("Invoice INV-1") == 1
    assert drawn.count("CPT Licensing Office") == 1


@pytest.mark.parametrize("issuer", ["CPT Licensing Office", "Ωmega Жук Łódź Office", "東京 Office"])
def test_the_repeated_furniture_is_the_bytes_reportlab_draws_on_every_page(issuer: str) -> None:
    # Characters the body never uses (Greek, Cyrillic) are first drawn by reportlab,
    # which assigns their codes; such a line is not kept, and the next page's is.
    # CJK takes its own path (CID fonts), never kept.
    def document() -> bytes:
        furniture = pdf.PageFurniture(f"Agreement {issuer}", issuer=issuer, footer_note="© ®")
        return pdf.build(_furniture_story(5), furniture, title="T")

    ours = document()
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(pdf._NumberedCanvas, "drawString", Canvas.drawString)
        monkeypatch.setattr(pdf._NumberedCanvas, "drawRightString", Canvas.drawRightString)
        theirs = document()
    assert ours == theirs
    assert len(PdfReader(io.BytesIO(ours)).pages) == 5

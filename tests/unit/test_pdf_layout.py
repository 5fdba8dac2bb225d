"""Our own layout loop (`licensing.pdf._Layout`) against reportlab's frames.

Agreements, invoices, credit notes and letters are placed on their pages by our
loop; every decision it takes (where a page breaks, a table split over pages with
its header repeated, a KeepTogether moved to the next page, a conditional page
break) must be the one reportlab's SimpleDocTemplate takes, so the documents
have the same bytes either way. These tests build each document with both.
"""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from reportlab.platypus import KeepTogether, Spacer, Table

from licensing import notices, pdf
from licensing.agreements.documents import (
    AgreementDocument,
    Clause,
    LicensedUse,
    Obligation,
    Party,
    render_agreement_pdf,
)
from licensing.billing import documents as billing
from licensing.finance.documents import render_monthly_report_pdf
from tests.support.finance import sample_report
from tests.support.glyphs import CJK_NAMES, EUROPEAN_NAMES, drawn_without_glyph
from tests.support.hard_documents import invoice_of_lines


def _with_reportlab(render: Callable[[], bytes], monkeypatch: Any) -> bytes:
    """The document laid out by reportlab's frames, its tables measured and drawn by reportlab."""
    with monkeypatch.context() as patch:
        patch.setattr(pdf, "_LAYOUT_ENABLED", False)
        patch.setattr(pdf._RuledTable, "_calc", Table._calc)  # tables measured by reportlab
        patch.setattr(pdf._RuledTable, "draw", Table.draw)  # and drawn by it
        return render()


def _laid_out_by_us(render: Callable[[], bytes], monkeypatch: Any) -> bytes:
    """The document, failing if our loop was not the one to lay it out."""
    calls: list[int] = []
    original = pdf._Layout.run

    def run(self: Any, story: Any) -> None:
        calls.append(1)
        original(self, story)

    with monkeypatch.context() as patch:
        patch.setattr(pdf._Layout, "run", run)
        data = render()
    assert calls, "reportlab laid this document out, not our loop"
    return data


def _use(index: int, steps: int = 1, **changes: Any) -> LicensedUse:
    use = LicensedUse(
        product=f"Scrubber {index}",
        description="Claims scrubbing for clinics and billing offices",
        use="distribution",
        product_type="saas",
        user_type="provider",
        delivery="hosted",
        territories="United States",
        languages="en",
        royalty_terms="Per end user, graduated; minimum 1000.00 a year",
        working=tuple(
            f"step {n}: 2500 end users at the tier's rate = 33800.00" for n in range(steps)
        ),
        amount=Decimal("33800.00"),
        rule="distribution-software",
    )
    return replace(use, **changes)


def _agreement(**changes: Any) -> AgreementDocument:
    values: dict[str, Any] = {
        "number": "CPT-2027-000042",
        "issued_on": date(2026, 12, 1),
        "licensor": Party("CPT Licensing Office", ("1 Example Plaza", "Chicago, IL 60601")),
        "licensee": Party("Bluefin Claims Ltd", ("9 Harbour Road",), "a commercial organization"),
        "term_start": date(2027, 1, 1),
        "term_end": date(2027, 12, 31),
        "rate_card": "2027.1",
        "currency": "USD",
        "uses": (_use(1),),
        "total": Decimal("33800.00"),
        "obligations": (Obligation("Royalty report for Q1 2027", date(2027, 4, 30)),),
        "payment_terms": "Invoices are payable within 30 days.",
        "late_fee_terms": "Late fee: 1.5% a month.",
        "copyright_notice": "CPT © 2026 American Medical Association. All rights reserved.",
        "trademark_notice": "CPT® is a registered trademark of the American Medical Association.",
        "clauses": tuple(
            Clause(f"Heading {n}", tuple(f"Paragraph {n}.{m} " + "words " * 60 for m in range(3)))
            for n in range(1, 9)
        ),
    }
    values.update(changes)
    return AgreementDocument(**values)


def _invoice(lines: int = 1, **changes: Any) -> billing.InvoiceDocument:
    return invoice_of_lines(lines, **changes)


def _pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


# Shapes that make the frames decide: many pages, clauses of every length (so a
# clause's conditional page break fires at different heights), a schedule of
# many uses (a table split over pages, its header repeated), royalty blocks
# moved whole to the next page, long and non-Latin names that wrap in cells.
AGREEMENTS: dict[str, Callable[[], AgreementDocument]] = {
    "the standard shape": _agreement,
    "no clauses": lambda: _agreement(clauses=()),
    "clauses of every length": lambda: _agreement(
        clauses=tuple(
            Clause(f"Heading {n}", tuple("word " * (7 * n + 13 * m) for m in range(n % 4 + 1)))
            for n in range(1, 23)
        )
    ),
    "forty uses: the schedule over pages": lambda: _agreement(
        uses=tuple(_use(n, steps=n % 4) for n in range(1, 41))
    ),
    "royalty blocks taller than what is left of a page": lambda: _agreement(
        uses=tuple(_use(n, steps=12) for n in range(1, 6))
    ),
    "long and European names": lambda: _agreement(
        licensee=Party(
            "Dvořák s.r.o. & Erdős Kft. " * 4,
            tuple(EUROPEAN_NAMES.values()),
            "a commercial organization",
        ),
        uses=(_use(1, product="Łódź Scrubber Ψ " * 5, description="Для клиник " * 12),),
    ),
    "CJK names": lambda: _agreement(
        licensee=Party(CJK_NAMES["Japanese"][0], (CJK_NAMES["Chinese"][0],), "a company"),
        uses=(_use(1, product=CJK_NAMES["Korean"][0]),),
    ),
    "many obligations": lambda: _agreement(
        obligations=tuple(
            Obligation(
                f"Royalty report {n} " + "with its terms " * (n % 5),
                date(2027, 1, 1) + timedelta(days=30 * n),
            )
            for n in range(60)
        )
    ),
    "notes and a renewal": lambda: _agreement(
        renewal_of="CPT-2026-000007", notes=tuple("A changed term. " * n for n in range(1, 9))
    ),
}


@pytest.mark.parametrize("shape", sorted(AGREEMENTS))
def test_an_agreement_laid_out_by_our_loop_has_the_bytes_reportlab_gives(
    shape: str, monkeypatch: Any
) -> None:
    document = AGREEMENTS[shape]()
    ours = _laid_out_by_us(lambda: render_agreement_pdf(document), monkeypatch)
    assert ours == _with_reportlab(lambda: render_agreement_pdf(document), monkeypatch)


INVOICES: dict[str, Callable[[], billing.InvoiceDocument]] = {
    "one line": _invoice,
    "paid": lambda: _invoice(state="paid", paid_on=date(2027, 1, 20)),
    "void": lambda: _invoice(state="void"),
    "a memo and long addresses": lambda: _invoice(
        memo="Adjusted after the audit. " * 12,
        bill_to=(
            "Meadowlark Practice Systems Incorporated of the Great Lakes " * 3,
            "12 Elm Street",
        ),
    ),
    # 86: over pages with room for the closing after them (79 to 84 carry their last
    # rows to the closing's page, round 62: `test_invoice_closing_kept_with_its_totals.py`).
    "eighty-six lines: the charges over pages": lambda: _invoice(lines=86),
    "European and CJK names": lambda: _invoice(
        bill_to=(EUROPEAN_NAMES["Czech"], CJK_NAMES["Chinese"][0]), lines=3
    ),
}


@pytest.mark.parametrize("shape", sorted(INVOICES))
def test_an_invoice_laid_out_by_our_loop_has_the_bytes_reportlab_gives(
    shape: str, monkeypatch: Any
) -> None:
    document = INVOICES[shape]()
    ours = _laid_out_by_us(lambda: billing.render_invoice_pdf(document), monkeypatch)
    assert ours == _with_reportlab(lambda: billing.render_invoice_pdf(document), monkeypatch)


def test_a_credit_note_laid_out_by_our_loop_has_the_bytes_reportlab_gives(monkeypatch: Any) -> None:
    note = billing.CreditNoteDocument(
        number="CN-2027-000001",
        invoice_number="INV-2027-000007",
        issuer=("CPT Licensing Office",),
        bill_to=("Meadowlark Practice Systems Inc.",),
        issue_date=date(2027, 2, 1),
        currency="USD",
        reason="Billed twice",
        amount="900.00 USD",
        applied_to_balance="0.00 USD",
        refund_due="900.00 USD",
        refund_note="Refunded to the card.",
        copyright_notice=billing.copyright_notice(date(2027, 1, 1)),
        footer_notice=notices.copyright_notice(date(2027, 1, 1)),
    )
    ours = _laid_out_by_us(lambda: billing.render_credit_note_pdf(note), monkeypatch)
    assert ours == _with_reportlab(lambda: billing.render_credit_note_pdf(note), monkeypatch)


@pytest.mark.parametrize("scale", [1, 0, 10**9])
def test_the_monthly_report_with_its_charts_laid_out_by_our_loop_has_the_bytes_reportlab_gives(
    scale: int, monkeypatch: Any
) -> None:
    # The report's charts (reportlab drawings) once sent it to reportlab's frames.
    report = sample_report(scale)
    ours = _laid_out_by_us(lambda: render_monthly_report_pdf(report), monkeypatch)
    assert ours == _with_reportlab(lambda: render_monthly_report_pdf(report), monkeypatch)


def test_a_table_over_pages_repeats_its_header_and_keeps_each_row_whole() -> None:
    data = billing.render_invoice_pdf(_invoice(lines=80))
    pages = _pages(data)
    assert len(pages) > 2
    for number, text in enumerate(pages[:-1], start=1):
        assert "Description and working" in text, f"page {number} lost the header"
    for n in range(1, 81):
        holding = [i for i, text in enumerate(pages) if f"(line {n})" in " ".join(text.split())]
        described = [i for i, text in enumerate(pages) if f"Distribution, use {n}\n" in text + "\n"]
        assert len(holding) == 1, f"line {n}'s working is on pages {holding}"
        assert described == holding, f"line {n} is split over pages {described} and {holding}"


def test_a_royalty_block_too_tall_for_what_is_left_starts_the_next_page() -> None:
    data = render_agreement_pdf(AGREEMENTS["royalty blocks taller than what is left of a page"]())
    pages = [" ".join(text.split()) for text in _pages(data)]
    for n in range(1, 6):
        first = f"{n}. Scrubber {n} (rule distribution-software)"
        last = "step 11: 2500 end users at the tier's rate = 33800.00"
        holding = [i for i, text in enumerate(pages) if first in text]
        assert len(holding) == 1
        assert last in pages[holding[0]], f"use {n}'s working was split from its title"


def test_long_and_non_latin_names_wrap_in_their_cells_with_every_letter_drawn() -> None:
    document = AGREEMENTS["long and European names"]()
    data = render_agreement_pdf(document)
    text = " ".join(" ".join(_pages(data)).split())
    assert " ".join(document.licensee.name.split()) in text
    for name in EUROPEAN_NAMES.values():
        assert name in text
    drawn = "".join(EUROPEAN_NAMES.values()) + document.licensee.name
    assert drawn_without_glyph(data, drawn) == []


def test_a_flowable_taller_than_a_page_is_an_error_not_an_endless_document() -> None:
    with pytest.raises(pdf.LayoutError):
        pdf.build([pdf.para("Before"), Spacer(1, 2000)], pdf.PageFurniture("X"), title="X")


def test_a_paragraph_drawn_before_is_drawn_from_its_remembered_operators(monkeypatch: Any) -> None:
    document = AGREEMENTS["clauses of every length"]()
    first = render_agreement_pdf(document)
    remembered = dict(pdf._DRAWN)
    assert remembered, "no paragraph's operators were remembered"
    drawn_anew: list[int] = []
    original = pdf._Paragraph._draw_plainly

    def draw_plainly(self: Any, key: Any = None) -> None:
        drawn_anew.append(1)
        original(self, key)

    with monkeypatch.context() as patch:
        patch.setattr(pdf._Paragraph, "_draw_plainly", draw_plainly)
        again = render_agreement_pdf(document)
    assert again == first
    assert len(drawn_anew) < len(remembered) / 4  # the clauses came from the table


def test_only_plain_printable_ascii_paragraphs_are_remembered_as_operators(
    monkeypatch: Any,
) -> None:
    monkeypatch.setattr(pdf, "_DRAWN", {})
    names = "Łódź Dvořák & Erdős, 株式会社テスト"
    story = [
        pdf.para("Plain words that are the same in every document."),
        pdf.para(names),
        pdf.markup("<b>Bold</b> words"),
        pdf.para("Café au lait"),
    ]
    data = pdf.build(story, pdf.PageFurniture("X"), title="X")
    texts = {key[0][0] for key in pdf._DRAWN}
    assert texts == {"Plain words that are the same in every document."}
    with monkeypatch.context() as patch:
        patch.setattr(pdf, "_LAYOUT_ENABLED", False)
        rebuilt = [
            pdf.para("Plain words that are the same in every document."),
            pdf.para(names),
            pdf.markup("<b>Bold</b> words"),
            pdf.para("Café au lait"),
        ]
        assert pdf.build(rebuilt, pdf.PageFurniture("X"), title="X") == data


def test_a_paragraph_of_other_characters_is_remembered_by_the_codes_its_document_gave_them(
    monkeypatch: Any,
) -> None:
    monkeypatch.setattr(pdf, "_DRAWN", {})
    shared = [
        "Ærø · Łódź © ® €",
        "· no adjustment applies",
        "CPT © 2026 Example ® All rights reserved.",
    ]
    # The characters first drawn in two orders, so the same paragraphs have other codes.
    firsts = ["€ ® © Ł ó ź Æ ø · first", "· Æ ø Ł ó ź © ® € first"]

    def build(first: str) -> bytes:
        story = [pdf.para(first), *(pdf.para(text, "Clause") for text in shared)]
        return pdf.build(story, pdf.PageFurniture("X"), title="X")

    drawn = {first: build(first) for first in firsts}
    coded = [key for key in pdf._DRAWN if key[4] is not None]
    assert {key[0][0] for key in coded} == set(shared)
    assert len(coded) == 2 * len(shared)  # each text once per order of codes
    for first in firsts:
        again = build(first)  # from the remembered operators
        with monkeypatch.context() as patch:
            patch.setattr(pdf._Paragraph, "_drawing_key", lambda self, canvas: None)
            fresh = build(first)  # every paragraph drawn anew
        assert again == drawn[first] == fresh
    assert drawn[firsts[0]] != drawn[firsts[1]]


def test_the_remembered_operators_are_emptied_past_their_bound(monkeypatch: Any) -> None:
    monkeypatch.setattr(pdf, "_DRAWN", {})
    monkeypatch.setattr(pdf, "_DRAWN_BOUND", 3)
    story = [pdf.para(f"Paragraph number {n} of plain words.") for n in range(8)]
    data = pdf.build(story, pdf.PageFurniture("X"), title="X")
    assert len(pdf._DRAWN) <= 3
    again = [pdf.para(f"Paragraph number {n} of plain words.") for n in range(8)]
    assert pdf.build(again, pdf.PageFurniture("X"), title="X") == data


def _heading_near_the_foot(following: Any) -> list[Any]:
    """A heading with room for itself at the foot of page 1, not for what follows."""
    page = pdf._Layout(None).page_height  # type: ignore[arg-type]
    return [Spacer(1, page - 40), pdf.para("The heading", "Heading"), following]


def _page_of(data: bytes, text: str) -> list[int]:
    return [n for n, page in enumerate(_pages(data), start=1) if text in page]


FOLLOWING: dict[str, Callable[[], Any]] = {
    "a table": lambda: pdf.table(
        [["Column", "Other"], ["First row", "x"], ["Second row", "y"]], [200, 200]
    ),
    "a paragraph": lambda: pdf.para("First row " + "of words " * 40),
    "a KeepTogether": lambda: KeepTogether([pdf.para("First row"), pdf.para("and the next")]),
}


@pytest.mark.parametrize("following", sorted(FOLLOWING))
def test_a_heading_is_never_left_alone_at_the_foot_of_a_page(
    following: str, monkeypatch: Any
) -> None:
    def build() -> bytes:
        story = _heading_near_the_foot(FOLLOWING[following]())
        return pdf.build(story, pdf.PageFurniture("X"), title="X")

    ours = _laid_out_by_us(build, monkeypatch)
    assert _page_of(ours, "The heading") == _page_of(ours, "First row") == [2]
    # reportlab's frames left it alone on page 1: the one decision taken differently.
    theirs = _with_reportlab(build, monkeypatch)
    assert _page_of(theirs, "The heading") == [1]
    assert _page_of(theirs, "First row") == [2]


def test_a_heading_with_room_for_what_follows_stays_where_reportlab_puts_it(
    monkeypatch: Any,
) -> None:
    def build() -> bytes:
        page = pdf._Layout(None).page_height  # type: ignore[arg-type]
        story = [Spacer(1, page - 80), pdf.para("The heading", "Heading"), FOLLOWING["a table"]()]
        return pdf.build(story, pdf.PageFurniture("X"), title="X")

    ours = _laid_out_by_us(build, monkeypatch)
    assert _page_of(ours, "The heading") == _page_of(ours, "First row") == [1]
    assert ours == _with_reportlab(build, monkeypatch)


def test_a_heading_before_a_block_taller_than_a_page_is_not_given_a_page_of_its_own(
    monkeypatch: Any,
) -> None:
    # A use whose royalty working is longer than a page: its block is kept together
    # in vain, so moving the heading would leave it alone on a page of its own.
    document = _agreement(uses=(_use(1, steps=40),))
    ours = _laid_out_by_us(lambda: render_agreement_pdf(document), monkeypatch)
    heading = "Royalty terms, and how each fee was reached"
    for number, page in enumerate(_pages(ours), start=1):
        if heading in page:
            assert "Schedule A" in page, f"the heading stands alone on page {number}"
    assert ours == _with_reportlab(lambda: render_agreement_pdf(document), monkeypatch)


def test_an_invoice_line_whose_working_is_taller_than_a_page_is_split_within_its_row(
    monkeypatch: Any,
) -> None:
    # The API takes a line's description up to 500 characters and its working up
    # to 4000: one word of them wraps into a cell taller than a page, which
    # reportlab's frames refused (LayoutError, a 500 for the invoice's PDF).
    line = billing.DocumentLine("Distribution " * 38, "x" * 4000, "1.00")
    document = replace(_invoice(), lines=(line,))
    data = _laid_out_by_us(lambda: billing.render_invoice_pdf(document), monkeypatch)
    pages = _pages(data)
    assert len(pages) >= 2
    assert sum(page.count("x") for page in pages) == 4000


_AGREEMENTS_IN_TURN = """
import hashlib, sys
from tests.unit.test_pdf_layout import AGREEMENTS
from licensing.agreements.documents import render_agreement_pdf

for shape in sys.argv[1:]:
    data = render_agreement_pdf(AGREEMENTS[shape]())
    sys.stdout.write(hashlib.sha256(data).hexdigest() + " ")
"""


def test_agreements_rendered_in_turn_have_the_bytes_each_has_in_a_fresh_process(
    tmp_path: Any,
) -> None:
    # What the process remembers (lines, operators, subsets, formatted objects)
    # must be keyed by all the bytes depend on: another agreement drawn before
    # changes nothing of this one's.
    root = Path(__file__).resolve().parents[2]
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}",
        "SECRET_KEY": "s" * 40,
        "AUDIT_HMAC_KEY": "a" * 40,
    }

    def digests(*shapes: str) -> list[str]:
        done = subprocess.run(
            [sys.executable, "-c", _AGREEMENTS_IN_TURN, *shapes],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.split()

    shapes = ("the standard shape", "clauses of every length", "long and European names")
    in_turn = digests(*shapes, *shapes)
    alone = [digests(shape)[0] for shape in shapes]
    assert in_turn == alone + alone
    assert len(set(alone)) == 3


def _parsed_by_reportlab(render: Callable[[], bytes], monkeypatch: Any) -> bytes:
    """The document with every markup paragraph made by reportlab's parser."""
    with monkeypatch.context() as patch:
        patch.setattr(pdf, "_bold_run", lambda value, style: None)
        return _with_reportlab(render, monkeypatch)


HEADINGS: dict[str, Callable[[], AgreementDocument]] = {
    "rules on one line": lambda: _agreement(uses=tuple(_use(n) for n in range(1, 4))),
    "no rule: one bold run": lambda: _agreement(uses=(_use(1, rule=None), _use(2))),
    "a name that wraps the heading": lambda: _agreement(
        uses=(_use(1, product="Claims Scrubber for clinics and billing offices " * 2),)
    ),
    "a name nearly as wide as the line": lambda: _agreement(
        uses=tuple(_use(n, product="W" * n) for n in range(30, 40))
    ),
    "names beyond Latin-1, coded afresh": lambda: _agreement(
        uses=(_use(1, product="Łódź Scrubber Ψ"), _use(2, product="Łódź Scrubber Ψ"))
    ),
    "names with & and <": lambda: _agreement(uses=(_use(1, product="Smith & Sons <Scrubber>"),)),
    "CJK names": lambda: _agreement(uses=(_use(1, product=CJK_NAMES["Korean"][0]),)),
    "the headings over pages": lambda: _agreement(
        uses=tuple(_use(n, steps=n % 7) for n in range(1, 30))
    ),
}


@pytest.mark.parametrize("shape", sorted(HEADINGS))
def test_each_uses_heading_made_without_the_parser_has_the_bytes_of_the_parsed_markup(
    shape: str, monkeypatch: Any
) -> None:
    document = HEADINGS[shape]()
    ours = _laid_out_by_us(lambda: render_agreement_pdf(document), monkeypatch)
    assert ours == _parsed_by_reportlab(lambda: render_agreement_pdf(document), monkeypatch)


def test_a_heading_of_a_bold_and_a_plain_run_on_one_line_is_drawn_our_way(
    monkeypatch: Any,
) -> None:
    drawn: list[bool] = []
    original = pdf._RunsLine._line_code

    def line_code(self: Any, canvas: Any) -> str | None:
        code = original(self, canvas)
        drawn.append(code is not None)
        return code

    monkeypatch.setattr(pdf._RunsLine, "_line_code", line_code)
    render_agreement_pdf(HEADINGS["rules on one line"]())
    assert drawn == [True, True, True]


@pytest.mark.parametrize(
    "value",
    [
        "<b>Licensor</b>",
        "<b>1. Scrubber</b> (rule distribution)",
        "<b>2. Two  spaces</b>  (rule x)",
        "<b> 3. Padded </b> (rule y)",
        "<b>4. Smith &amp; Sons</b> (rule z)",
        "<b>5. Tail</b>(rule glued)",
    ],
)
def test_markup_of_a_bold_run_has_the_fragments_the_parser_gives(value: str) -> None:
    ours = pdf.markup(value, "Body")
    parsed = pdf.Paragraph(value, pdf.STYLES["Body"])
    assert [f.__dict__ for f in ours.frags] == [f.__dict__ for f in parsed.frags]
    assert ours.text == parsed.text


def test_a_one_line_headings_lines_read_by_reportlab_are_the_lines_it_breaks() -> None:
    value = "<b>1. Scrubber</b> (rule distribution)"
    ours = pdf.markup(value)
    assert ours.wrap(300, 1000) == (300, 13)
    assert "blPara" not in ours.__dict__  # measured without reportlab's lines
    parsed = pdf.Paragraph(value, pdf.STYLES["Body"])
    parsed.wrap(300, 1000)
    ours_lines, their_lines = ours.blPara, parsed.blPara  # broken when read
    assert ours_lines.kind == their_lines.kind == 1
    assert [line.words[0].__dict__ for line in ours_lines.lines] == [
        line.words[0].__dict__ for line in their_lines.lines
    ]
    assert ours.split(300, 5) == []

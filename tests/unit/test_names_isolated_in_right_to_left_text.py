"""Round 56: a name our documents put into a line is displayed in its own direction,
as one unit of the line (Unicode's isolates, FSI ... PDI): a Hebrew or Arabic name
was, but only where the line had one font. In a line holding CJK, Thai or an Indic
script too, and in our markup, the marks were taken out, so a date after a Hebrew
name joined its run ("2027-01-01 ,םולש"); and a Latin name with digits was not
marked at all, so in a right-to-left line the number after it joined it ("Acme 2, 3").
Now every name with a digit, bracket or punctuation is isolated, the isolates hold in
every path, and where a line has no right-to-left character the marks are taken out
before it is drawn (the same bytes as before)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from licensing import pdf
from licensing.billing import documents as billing
from licensing.billing.models import Invoice, InvoiceLine
from licensing.billing.states import AGREEMENT, MANUAL, ROYALTY_REPORT
from tests.support import hard_documents
from tests.support.glyphs import shown_in_order

HEBREW = "חברת בדיקה"  # shown right to left: "הקידב תרבח"
YEARS = "שנים"  # shown: "םינש"
THAI = "บริษัท ทดสอบ"


def _shown(*story: object) -> str:
    data = pdf.build(list(story), pdf.PageFurniture("Names"), title="Names")  # type: ignore[arg-type]
    return "".join(shown_in_order(data))


def test_a_latin_name_with_digits_stays_whole_in_a_hebrew_line() -> None:
    line = f"{HEBREW} {pdf.isolated('Acme 2')}, 3 {YEARS}"
    # Read right to left: the Hebrew, the name, the comma, 3, the years.
    assert _shown(pdf.para(line)).startswith("םינש 3 ,Acme 2 הקידב תרבח")


def test_a_latin_name_with_digits_stays_whole_in_a_hebrew_line_beside_thai() -> None:
    line = f"{HEBREW} {pdf.isolated('Acme 2')}, 3 {YEARS} {THAI}"
    shown = _shown(pdf.para(line), pdf.table([[line]], [504.0], header=False))
    assert shown.count("םינש 3 ,Acme 2 הקידב תרבח") == 2  # the paragraph and the cell


@pytest.mark.parametrize("kind", ["paragraph", "markup"])
def test_a_date_after_a_hebrew_name_in_a_line_of_several_scripts_stays_after_it(
    kind: str,
) -> None:
    name = pdf.isolated(f"{THAI} שלום")
    line = f"{name}, 2027-01-01 to 2027-01-31 (USD)"
    paragraph = pdf.para(line) if kind == "paragraph" else pdf.markup(f"<b>{pdf.text(line)}</b>")
    assert _shown(paragraph).startswith(f"{THAI} םולש, 2027-01-01 to 2027-01-31 (USD)")


def test_a_name_isolated_over_two_lines_of_several_scripts_is_displayed_in_each() -> None:
    name = pdf.isolated(" ".join([f"{THAI} שלום"] * 12))
    shown = _shown(pdf.para(f"Licensee {name}, 2027-01-01 to 2027-01-31"))
    assert "םולש, 2027-01-01 to 2027-01-31" in shown
    assert ",םולש" not in shown


def test_only_names_a_line_could_reorder_are_marked() -> None:
    assert pdf.isolated("Acme Health") == "Acme Health"
    assert pdf.isolated("Zoë Łódź") == "Zoë Łódź"
    for name in ("Acme 3000", "Acme (UK) Ltd", "Smith & Sons", "3M", HEBREW):
        assert pdf.isolated(name) == f"\u2068{name}\u2069"


def test_marks_of_a_name_in_a_line_without_hebrew_or_arabic_are_not_drawn() -> None:
    def drawn(*story: object) -> bytes:
        return pdf.build(list(story), pdf.PageFurniture("Names"), title="Names")  # type: ignore[arg-type]

    marked = drawn(
        pdf.para(f"Dear {pdf.isolated('Acme 3000')},"),
        pdf.markup(f"<b>1. {pdf.text(pdf.isolated('Acme (UK) 2'))}</b> (rule r-1)"),
        pdf.para(f"{pdf.isolated('株式会社 3')} accepts it online."),
    )
    plain = drawn(
        pdf.para("Dear Acme 3000,"),
        pdf.markup("<b>1. Acme (UK) 2</b> (rule r-1)"),
        pdf.para("株式会社 3 accepts it online."),
    )
    assert marked == plain


def test_the_statement_of_an_organization_named_in_thai_and_hebrew_keeps_its_period_after_it() -> (
    None
):
    statement = hard_documents.statement_of(3, f"{THAI} שלום", Decimal("1200.00"))
    data = billing.render_statement_pdf(statement, issuer="CPT Licensing Office|1 Example Plaza")
    shown = "".join(shown_in_order(data))
    # The subtitle, and the running footer: the name, then the period.
    assert f"{THAI} םולש, January 1, 2027 to December 31, 2027 (USD)" in shown
    assert f"{THAI} םולש: statement January 1, 2027 to December 31, 2027" in shown
    assert ",םולש" not in shown


UP_FRONT = (
    "מוצר: Distribute a product to others; SaaS for provider users "
    "(rule development of rate card 2027.1)"
)


def _invoice_line(description: str, *, ours: bool) -> str:
    line = billing.DocumentLine(description, "flat 900.00", "900.00", ours=ours)
    document = replace(hard_documents._invoice_document(hard=False), lines=(line,))
    return "".join(shown_in_order(billing.render_invoice_pdf(document)))


def test_an_invoice_line_of_our_words_led_by_a_hebrew_product_reads_left_to_right() -> None:
    # Stored as "{product}: {use} (rule ...)": the product first made the line right
    # to left, "Distribute ... rate :רצומ" with "card 2027.1)" on the next line.
    shown = _invoice_line(UP_FRONT, ours=True)
    assert "רצומ: Distribute a product to others; SaaS for provider users" in shown
    assert ":רצומ" not in shown


def test_a_line_billing_staff_wrote_in_hebrew_keeps_its_own_direction() -> None:
    shown = _invoice_line("דמי רישיון 2027", ours=False)
    assert "2027 ןוישיר ימד" in shown


def test_an_invoice_line_says_its_words_are_ours_unless_billing_staff_wrote_it() -> None:
    invoice = Invoice(
        number="INV-2027-000009",
        issue_date=date(2027, 1, 15),
        due_date=date(2027, 2, 14),
        currency="USD",
        source_type=MANUAL,
        payment_terms_days=30,
        late_fee_monthly_percent=Decimal("1.5"),
        total=Decimal("900.00"),
        amount_paid=Decimal(0),
        amount_credited=Decimal(0),
        amount_refunded=Decimal(0),
    )
    invoice.lines = [InvoiceLine(position=0, description=UP_FRONT, amount=Decimal("900.00"))]
    for source, ours in ((MANUAL, False), (AGREEMENT, True), (ROYALTY_REPORT, True)):
        invoice.source_type = source
        document = billing.invoice_document(
            invoice, issuer="CPT Licensing Office", remit_to="", period_start=date(2027, 1, 1)
        )
        assert [line.ours for line in document.lines] == [ours]

"""Round 61: a translation vendor's year, walked in Chromium (docs/journeys.md,
"Round 61: a translation vendor's year").

株式会社翻訳工房, a Japanese localization house whose first user writes her name in
Arabic and whose billing contact writes hers in Devanagari, signs up, applies for a
derivative work (a Greek handbook, 12% of revenue, a 2,500.00 minimum) and a
translation (an Arabic-named coding assistant localized into four languages, 2,000.00
a language plus 5% of revenue), is approved by a licensing officer, accepts the
agreement, reads its PDF, reports the first quarter's usage from the template with
customers named in four scripts, is invoiced, pays by wire (billing staff record it)
and reads the statement. At each step the sums are done again here, by hand, from
the rate card; each name is read back as typed from the pages, the PDFs' text
(pdftotext, as a viewer copies it) and the emails; a name typed in Arabic runs right
to left in its field.

The card has one currency (USD), so the year is reported in one: an agreement is
priced and invoiced in its card's currency.

On any day: the licence is next year's card's whole year (`ReportingYear`), and the
walk only travels forward (Chromium keeps the real clock for its cookies)."""

from __future__ import annotations

import re
import subprocess
import unicodedata
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import time_machine

from licensing import db
from licensing.calendar import day_text, office_date
from licensing.db import utcnow
from licensing.ratecards import services as ratecards
from tests.browser.conftest import (
    NewVendor,
    card_of_a_year,
    newest_mail,
    one_line,
    signed_in_tab,
)
from tests.support import factories
from tests.support.card_years import CardYears
from tests.support.navigation import arrive
from tests.support.reporting_year import ReportingYear
from tests.support.servers import LiveServer, SMTPServer
from tests.support.wires import wired_by_service

pytestmark = pytest.mark.xdist_group("localization_vendor_year")

VENDOR = "layla@honyaku.example"
BILLING = "ananya@honyaku.example"
LAYLA = "ليلى منصور"
ANANYA = "अनन्या शर्मा"
KOBO = NewVendor(
    legal_name="株式会社翻訳工房",
    street="1-2-3 Jingumae",
    city="Tokyo",
    region="Tokyo",
    postal_code="150-0001",
    billing_name=ANANYA,
    billing_email=BILLING,
    full_name=LAYLA,
    email=VENDOR,
    password="indigo-lantern-harbor-61",
)
HANDBOOK = "Μεταφραστής Κωδικών"  # Greek: the derivative work
ASSISTANT = "مترجم الرموز"  # Arabic: the localized product
CUSTOMERS = (
    "1,GR-1,Εκδόσεις Αθηνά,GR,,,20000.00\n"
    "2,JP-1,東京医療センター,JP,languages,2,10000.00\n"
    "2,SA-1,مستشفى الملك فهد,SA,languages,1,5000.00\n"
    "2,IN-1,अपोलो क्लिनिक,IN,languages,1,3000.00\n"
)


def _main(page: Any) -> str:
    return one_line(page.inner_text("main"))


def _pdf_text(page: Any, href: str, tmp_path: Path) -> str:
    """The PDF at `href`, fetched in the page's session, as pdftotext lays it out, in
    one line: in Unicode's compatibility form (Arabic is drawn in its joined forms),
    without the embedding marks pdftotext puts round a right-to-left run and the
    direction marks (LRM, RLM) the documents draw beside one (round 61)."""
    response = page.request.get(href)
    assert response.status == 200, href
    pdf = tmp_path / "document.pdf"
    pdf.write_bytes(response.body())
    text = subprocess.run(
        ["pdftotext", "-layout", "-enc", "UTF-8", str(pdf), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return one_line(re.sub("[\u200e\u200f\u202a-\u202e]", "", unicodedata.normalize("NFKC", text)))


def _runs_right_to_left(page: Any, selector: str) -> bool:
    return bool(page.locator(selector).evaluate("field => field.matches(':dir(rtl)')"))


ARROW = 20  # Chromium's select arrow, in CSS pixels
# A select's option text's width, and the room it has: the select less its padding.
_FITS = """select => {
  const style = getComputedStyle(select);
  const context = document.createElement("canvas").getContext("2d");
  context.font = style.font;
  const text = context.measureText(select.options[select.selectedIndex].text).width;
  const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return [text, room];
}"""


def _money(amount: Decimal) -> str:
    return f"{amount:,.2f}"


def test_a_translation_vendor_named_in_four_scripts_lives_its_first_quarter(
    browser: Any,
    page: Any,
    live_server: LiveServer,
    mailbox: SMTPServer,
    tmp_path: Path,
    card_years: CardYears,
) -> None:
    started = utcnow()
    year = ReportingYear.around(office_date(started))
    start, end = year.term
    q1 = year.period(1)
    agreement = f"CPT-{start.year}-000001"
    with live_server.app.app_context():
        ratecards.import_card(
            card_of_a_year(card_years.next_version, start, end), published_by="tests"
        )
        officer = factories.make_staff(db.session(), roles=("licensing",)).email
        clerk = factories.make_staff(db.session(), roles=("billing",)).email
        db.session().commit()

    # 0. A price without an account: the two uses on the estimator. By hand: 12% of
    # 50,000.00 is over the 2,500.00 minimum; 4 languages at 2,000.00 (volume) plus
    # 5% of 40,000.00; the whole card period, no proration.
    derivative = Decimal("50000") * 12 / 100
    translation = 4 * Decimal("2000.00") + Decimal("40000") * 5 / 100
    quoted = derivative + translation
    page.goto("/estimate")
    page.get_by_label("Your organization is").select_option("commercial")
    page.get_by_label("License term starts").fill(start.isoformat())
    page.get_by_label("License term ends").fill(end.isoformat())
    for i, (use, product, revenue, languages) in enumerate(
        (
            ("derivative_work", "print", "50000", ""),
            ("translation", "software", "40000", "ja, ar, el, hi"),
        )
    ):
        if i:
            page.get_by_role("button", name="Add another use").click()
        page.locator(f"#uses-{i}-use").select_option(use)
        page.locator(f"#uses-{i}-product_type").select_option(product)
        page.locator(f"#uses-{i}-user_type").select_option("provider")
        page.locator(f"#uses-{i}-revenue").fill(revenue)
        if languages:
            page.locator(f"#uses-{i}-languages").fill(languages)
    page.get_by_role("button", name="Estimate the price").click()
    page.get_by_text("Estimated total:").wait_for()
    estimate = _main(page)
    assert f"Estimated total: {_money(quoted)} USD" in estimate
    assert f"12% of revenue 50,000.00 = {_money(derivative)}" in estimate
    assert f"sum of the parts: 8,000.00 + 2,000.00 = {_money(translation)}" in estimate

    # 1. Sign-up: each name keeps its script, and the Arabic one runs right to left.
    page.goto("/sign-up")
    KOBO.sign_up(page)
    page.wait_for_url("**/sign-in**")
    page.goto(mailbox.link_to(VENDOR, "/verify-email"))
    KOBO.sign_in_again(page)
    page.goto("/portal/")
    KOBO.sign_in_again(page)
    assert f"Billing contact {ANANYA} <{BILLING}>" in _main(page)
    page.goto("/account/")
    assert _runs_right_to_left(page, "#full_name")  # round 61: was left to right

    # 2. The application: a derivative work and a translation, priced by the card.
    page.goto("/portal/applications/new")
    page.fill("#term_start", start.isoformat())
    page.fill("#term_end", end.isoformat())
    page.fill("#uses-0-product_name", HANDBOOK)
    page.fill("#uses-0-description", "Greek coding handbook, a derivative work")
    page.select_option("#uses-0-use", "derivative_work")
    page.select_option("#uses-0-product_type", "print")
    page.select_option("#uses-0-user_type", "provider")
    page.fill("#uses-0-revenue", "50000")
    page.get_by_role("button", name="Add another use").click()
    page.locator("#uses-1-product_name").fill(ASSISTANT)
    assert _runs_right_to_left(page, "#uses-1-product_name")  # round 61
    assert not _runs_right_to_left(page, "#uses-0-product_name")
    page.fill("#uses-1-description", "Localized versions of the coding assistant")
    page.select_option("#uses-1-use", "translation")
    page.select_option("#uses-1-product_type", "software")
    page.select_option("#uses-1-user_type", "provider")
    page.fill("#uses-1-languages", "ja, ar, el, hi")
    page.fill("#uses-1-revenue", "40000")
    page.get_by_role("button", name="Save the draft").click()
    page.get_by_text("The price if you submit now").wait_for()
    draft = _main(page)
    assert f"The price if you submit now: {_money(quoted)} USD" in draft
    for step in (
        f"1. {HANDBOOK} Create a derivative work Derivative works of CPT content "
        "rule derivative-work Staff review 6,000.00",
        f"12% of revenue 50,000.00 = {_money(derivative)} no adjustment applies "
        f"minimum 2,500.00 (the term is the whole card period): {_money(derivative)} "
        "is not below it",
        f"2. {ASSISTANT} Translate or localize",
        "no languages quantity given: counted 4 distinct languages listed (ja, ar, el, hi) "
        "part 1: 4 languages, volume: 4 x 2,000.00 = 8,000.00 "
        "part 2: 5% of revenue 40,000.00 = 2,000.00 "
        f"sum of the parts: 8,000.00 + 2,000.00 = {_money(translation)}",
        f"Total {_money(quoted)} USD",
    ):
        assert step in draft, step
    page.check("#attest")
    page.get_by_role("button", name="Submit for pricing and review").click()
    assert "Licensing staff review it before it is approved" in page.inner_text(".flashes")
    application_url = page.url

    # 3. The licensing officer reads the same working and approves.
    console = signed_in_tab(browser, live_server, officer)
    console.goto("/console/applications")
    console.get_by_role("link", name="APP-000001").click()
    review = _main(console)
    assert f"Organization {KOBO.legal_name} (Commercial company, applying)" in review
    assert f"by {LAYLA} ({VENDOR})" in review
    console.get_by_role("button", name="Approve and issue the agreement").click()
    assert f"agreement is issued as {agreement}" in console.inner_text(".flashes")
    console.context.close()
    approved = newest_mail(mailbox, VENDOR, f"APP-000001: approved: agreement {agreement}")
    assert f"application APP-000001 of {KOBO.legal_name}." in approved
    assert f"total {_money(quoted)} USD as estimated from the application" in approved

    # 4. Accepted by the vendor, her name and title typed in Arabic.
    page.goto(application_url)
    page.get_by_role("link", name="Read and accept the agreement").click()
    page.fill("#signer_name", LAYLA)
    page.fill("#signer_title", "المديرة")
    assert _runs_right_to_left(page, "#signer_name")  # round 61
    assert _runs_right_to_left(page, "#signer_title")
    page.check("#authority_confirmed")
    page.get_by_role("button", name="Accept the agreement").click()
    assert "Nothing is due up front" in page.inner_text(".flashes")
    assert f"Accepted by {LAYLA}, المديرة" in _main(page)
    accepted = newest_mail(mailbox, VENDOR, f"Agreement {agreement}: accepted and active")
    assert f"{LAYLA} (المديرة) accepted agreement {agreement}" in accepted

    # The agreement's PDF, as a viewer copies it: every name as typed.
    href = page.get_by_role("link", name=f"{agreement}.pdf").get_attribute("href")
    assert href
    document = _pdf_text(page, href, tmp_path)
    assert f'"Licensee" means {KOBO.legal_name};' in document
    assert f"the languages stated in Schedule A for {ASSISTANT}." in document
    assert "ja, ar, el, hi 10,000.00 USD" in document
    assert f"Total for the term {_money(quoted)} USD" in document
    for name in (HANDBOOK, ASSISTANT):
        assert name in document, name
    assert (
        f"Royalty report of usage and revenue from {day_text(q1.start)} to "
        f"{day_text(q1.end)} {day_text(q1.due_on)}"
    ) in document

    # 5. The first quarter, from the template, customers named in four scripts.
    with time_machine.travel(year.after(1)):
        page.goto("/portal/royalty-reports")
        KOBO.sign_in_again(page)
        # Loaded (its styles and scripts done) before a field's room is measured.
        arrive(page, page.get_by_role("link", name="File the report").first)
        form = page.locator("#report-form")
        form.get_by_label("Row 1, customer name").fill("مستشفى الملك فهد")
        assert _runs_right_to_left(page, "#rows-1-customer_name")  # round 61
        form.get_by_label("Row 1, customer name").fill("")
        # Round 61: the derivative work's row said "— (revenue onl", cut by the arrow.
        text, room = form.get_by_label("Row 1, unit").evaluate(_FITS)
        assert text + ARROW <= room, (text, room)
        with page.expect_download() as download:
            page.get_by_role("link", name="Download the template for this period").click()
        template = Path(download.value.path()).read_text(encoding="utf-8")
        assert template.splitlines()[1:] == ["1,,,,,,", "2,,,,languages,,"]
        report = tmp_path / "q1.csv"
        report.write_text(f"{template.splitlines()[0]}\n{CUSTOMERS}", encoding="utf-8")
        upload = page.locator("#report-csv")
        upload.get_by_label("CSV file").set_input_files(report)
        upload.get_by_role("button", name="Preview the royalty").click()
        page.get_by_text("Preview: what this report would charge").wait_for()
        # By hand, to date: 12% of 20,000.00 is 2,400.00, under the minimum, so
        # 2,500.00; 2 + 1 + 1 languages at 2,000.00 plus 5% of 18,000.00.
        line_1 = max(Decimal("20000") * 12 / 100, Decimal("2500.00"))
        line_2 = 4 * Decimal("2000.00") + Decimal("18000") * 5 / 100
        due = line_1 + line_2
        preview = _main(page)
        assert (
            f"1 revenue 20,000.00 USD {_money(line_1)} USD 0.00 USD {_money(line_1)} USD"
        ) in preview
        assert (
            f"2 4 languages; revenue 18,000.00 USD {_money(line_2)} USD 0.00 USD "
            f"{_money(line_2)} USD"
        ) in preview
        assert f"Total due {_money(due)} USD" in preview
        upload = page.locator("#report-csv")
        upload.get_by_label("I attest").check()
        upload.get_by_role("button", name="Attest and submit the file").click()
        issued = re.search(r"Invoice (INV-\d{4}-\d{6}) is issued", page.inner_text(".flashes"))
        assert issued, page.inner_text(".flashes")
        invoice = issued.group(1)
        filed = _main(page)
        assert f"by {LAYLA} ({VENDOR}) (a CSV file, 4 rows)" in filed
        rows = page.get_by_role("link", name="Download the 4 rows as filed (CSV)")
        as_filed = page.request.get(rows.get_attribute("href") or "").text()
        assert as_filed.splitlines()[1:] == CUSTOMERS.splitlines()

        invoice_day = office_date(year.after(1))
        pay_by = day_text(invoice_day + timedelta(days=30))  # the agreement's terms
        said = f"Royalty report RR-000001 ({agreement}, period from {day_text(q1.start)})"
        email = newest_mail(mailbox, BILLING, f"Invoice {invoice}: {_money(due)} USD due {pay_by}")
        assert email.startswith(f"Hello {ANANYA}, Invoice {invoice} for {KOBO.legal_name}")
        assert f"For: {said}." in email

        # The invoice's page says what it is for in words, as its PDF and email do
        # (round 61: "period from 2027-01-06" on the page alone).
        page.goto("/portal/invoices")
        page.get_by_role("link", name=invoice).click()
        invoice_page = _main(page)
        assert f"For {said}" in invoice_page
        assert f"period from {q1.start.isoformat()})" not in invoice_page
        assert f"Attn: {ANANYA} <{BILLING}>" in invoice_page
        assert (
            f"Royalty, line 1 ({HANDBOOK}; rule derivative-work of rate card "
            f"{card_years.next_version})"
        ) in invoice_page
        assert f"Royalty, line 2 ({ASSISTANT}; rule translation" in invoice_page
        assert f"Balance due {_money(due)} USD" in invoice_page
        pdf = _pdf_text(
            page,
            page.get_by_role("link", name="Download PDF").get_attribute("href") or "",
            tmp_path,
        )
        assert KOBO.legal_name in pdf
        assert f"Attn: {ANANYA} <{BILLING}>" in pdf
        assert f"For {said}" in pdf
        assert f"Balance due {_money(due)} USD" in pdf

        # 6. Paid by wire; the statement reads it. The wire is recorded as the
        # console's form records it (round 66: a browser of the clerk's own, a sign-in
        # and three console pages that read no name; the form is
        # test_billing_journey.py's, and the first-quarter walk records its wires there).
        wired_by_service(live_server, clerk, invoice, str(due))
        assert f"we received {_money(due)} USD (wire transfer" in newest_mail(
            mailbox, BILLING, f"Payment received for invoice {invoice}"
        )
        page.goto(f"/portal/statement?from={office_date(started)}&to={invoice_day}")
        statement = _main(page)
        assert statement.startswith(f"VENDOR PORTAL Statement of account {KOBO.legal_name}:")
        assert f"{invoice} Invoice issued for Royalty report RR-000001" in statement
        assert (
            f"{invoice} Payment received (wire, reference FEDWIRE {invoice}) "
            f"{_money(due)} USD 0.00 USD" in statement
        )
        assert f"Closing balance on {invoice_day.isoformat()} 0.00 USD" in statement
        statement_pdf = _pdf_text(
            page,
            page.get_by_role("link", name="Download the statement (PDF)").get_attribute("href")
            or "",
            tmp_path,
        )
        assert f"Statement of account {KOBO.legal_name}, " in statement_pdf

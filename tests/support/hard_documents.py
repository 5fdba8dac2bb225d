"""Every kind of document the service prints, with ordinary data and with hard data:
names as long as the forms accept, in accented Latin, Greek and Cyrillic, the
largest amount a column stores, many lines (round 54). Plain data in, the
renderers' bytes out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from licensing import notices
from licensing.accounts.models import ADDRESS_LINE_MAX, CITY_MAX, LEGAL_NAME_MAX, PERSON_NAME_MAX
from licensing.agreements.documents import (
    AgreementDocument,
    Clause,
    LicensedUse,
    Obligation,
    Party,
    render_agreement_pdf,
)
from licensing.agreements.models import LANGUAGES_MAX, PRODUCT_NAME_MAX, TERRITORIES_MAX
from licensing.billing import documents as billing
from licensing.billing.statements import Movement, Statement, running_lines
from licensing.finance.documents import AmountRow, render_monthly_report_pdf
from licensing.finance.queries import Receivable
from licensing.money import AMOUNT_INTEGER_DIGITS, in_words
from licensing.permissions import documents as letters
from licensing.permissions.models import INSTITUTION_MAX, PERMITTED_USE_MAX
from licensing.words import USE_LABELS
from tests.support.finance import sample_report

# The largest amount a money column stores, to the cent (NUMERIC(18, 4)).
LARGEST = Decimal(10**AMOUNT_INTEGER_DIGITS) - Decimal("0.01")
# A year's statement of a licensee that pays large invoices in part.
STATEMENT_AMOUNT = Decimal("100000000000.00")
LINES = 200  # an invoice of many lines


def filled(words: str, length: int) -> str:
    """`words` repeated to exactly `length` characters."""
    return ((words + " ") * (length // (len(words) + 1) + 1))[:length].rstrip().ljust(length, "x")


# Names at the forms' limits, in the scripts the fonts draw (accented Latin,
# Greek, Cyrillic; invented).
LEGAL_NAME = filled(
    "Międzynarodowe Towarzystwo Oprogramowania Ελληνική Εταιρεία ООО «Медицина»",  # noqa: RUF001
    LEGAL_NAME_MAX,
)
ADDRESS = (
    filled("Ulica Długa Świętokrzyska", ADDRESS_LINE_MAX),
    filled("Wrocław Dolnośląskie", CITY_MAX),
    "PL",
)
PERSON = filled("Żaneta Gęślińska-Dvořák Γιώργος Παπαδόπουλος", PERSON_NAME_MAX)


def agreement(*, hard: bool, name: str = LEGAL_NAME) -> bytes:
    return render_agreement_pdf(agreement_document(hard=hard, name=name))


def agreement_document(*, hard: bool, name: str = LEGAL_NAME) -> AgreementDocument:
    use = LicensedUse(
        product="Scrubber Pro",
        description="Claims scrubbing for clinics",
        use="distribution",
        product_type="saas",
        user_type="provider",
        delivery="hosted",
        territories="United States",
        languages="en",
        royalty_terms="Per end user, graduated; minimum 1000.00 a year",
        working=("2500 end users, graduated: ... = 33800.00",),
        amount=Decimal("33800.00"),
        rule="distribution-software",
    )
    document = AgreementDocument(
        number="CPT-2027-000042",
        issued_on=date(2026, 12, 1),
        licensor=Party("CPT Licensing Office", ("1 Example Plaza", "Chicago, IL 60601")),
        licensee=Party("Bluefin Claims Ltd", ("9 Harbour Road",), "a commercial organization"),
        term_start=date(2027, 1, 1),
        term_end=date(2027, 12, 31),
        rate_card="2027.1",
        currency="USD",
        uses=(use,),
        total=Decimal("33800.00"),
        obligations=(Obligation("Royalty report for Q1 2027", date(2027, 4, 30)),),
        payment_terms="Invoices are payable within 30 days.",
        late_fee_terms="Late fee: 1.5% a month.",
        copyright_notice=notices.copyright_notice(date(2027, 1, 1)),
        trademark_notice=notices.TRADEMARK_NOTICE,
        clauses=(Clause("Grant", ("The Licensor grants the Licensee a licence. " * 8,)),),
    )
    if hard:
        uses = tuple(
            replace(
                use,
                product=filled(f"Produkt {n} Łódź Ελληνικά Русский", PRODUCT_NAME_MAX),
                territories=filled("United States, Canada, México", TERRITORIES_MAX),
                languages=filled("English, Français, Ελληνικά, Русский", LANGUAGES_MAX),
                amount=LARGEST,
            )
            for n in range(1, 13)
        )
        document = replace(
            document,
            licensee=Party(name, ADDRESS, "a commercial organization"),
            uses=uses,
            total=LARGEST,
        )
    return document


def invoice_of_lines(lines: int = 1, **changes: object) -> billing.InvoiceDocument:
    """An ordinary open invoice of `lines` lines of 900.00 each, every line's working
    long enough to wrap, with `changes` (the layout tests find where pages break)."""
    document = billing.InvoiceDocument(
        number="INV-2027-000007",
        state="open",
        issuer=("CPT Licensing Office", "100 Lakeshore Plaza"),
        remit_to=("Wire to Lakeshore Commercial Bank",),
        bill_to=("Meadowlark Practice Systems Inc.", "12 Elm Street"),
        issue_date=date(2027, 1, 15),
        due_date=date(2027, 2, 14),
        payment_terms="Net 30 days",
        late_fee_terms="1.5% per month",
        reference="Agreement CPT-2027-000003",
        memo="",
        currency="USD",
        lines=tuple(
            billing.DocumentLine(
                f"Distribution, use {n}",
                f"2500 end users, graduated: first 1000 at 10.00, the rest at 8.00 (line {n})",
                "900.00",
            )
            for n in range(1, lines + 1)
        ),
        total="900.00 USD",
        paid="0.00 USD",
        credited="0.00 USD",
        balance_due="900.00 USD",
        paid_on=None,
        copyright_notice=billing.copyright_notice(date(2027, 1, 1)),
        footer_notice=notices.copyright_notice(date(2027, 1, 1)),
    )
    return replace(document, **changes)  # type: ignore[arg-type]


def _invoice_document(*, hard: bool, name: str = LEGAL_NAME) -> billing.InvoiceDocument:
    document = replace(
        invoice_of_lines(),
        lines=(billing.DocumentLine("Distribution, use 1", "2500 end users", "900.00"),),
    )
    if not hard:
        return document
    largest = in_words(LARGEST, "USD")
    return replace(
        document,
        issuer=(name, *ADDRESS),
        bill_to=(name, *ADDRESS),
        lines=tuple(
            billing.DocumentLine(f"Distribution, use {n}", "2500 end users", "900.00")
            for n in range(1, LINES + 1)
        ),
        total=largest,
        paid=largest,
        credited=largest,
        refunded=largest,
        balance_due=largest,
    )


def invoice(*, hard: bool, name: str = LEGAL_NAME) -> bytes:
    return billing.render_invoice_pdf(_invoice_document(hard=hard, name=name))


def credit_note(*, hard: bool, name: str = LEGAL_NAME) -> bytes:
    largest = in_words(LARGEST, "USD")
    document = billing.CreditNoteDocument(
        number="CN-2027-000001",
        invoice_number="INV-2027-000007",
        issuer=(name, *ADDRESS) if hard else ("CPT Licensing Office",),
        bill_to=(name, *ADDRESS) if hard else ("Meadowlark Practice Systems Inc.",),
        issue_date=date(2027, 2, 1),
        currency="USD",
        reason="Billed twice",
        amount=largest if hard else "900.00 USD",
        applied_to_balance=largest if hard else "0.00 USD",
        refund_due=largest if hard else "900.00 USD",
        refund_note="Refunded to the card.",
        copyright_notice=billing.copyright_notice(date(2027, 1, 1)),
        footer_notice=notices.copyright_notice(date(2027, 1, 1)),
    )
    return billing.render_credit_note_pdf(document)


def statement_of(invoices: int, name: str, amount: Decimal) -> Statement:
    """A year of `invoices` invoices of `amount`, each paid but 1.00."""
    start = date(2027, 1, 1)
    ledger, movements = [], []
    for index in range(invoices):
        day = start + timedelta(days=index % 300)
        number = f"INV-2027-{index + 1:06d}"
        ledger.append(Receivable(index, 7, amount, day, day + timedelta(days=30)))
        movements.append(Movement(day, "issued", number, "Invoice issued", amount, index))
        movements.append(Movement(day, "paid", number, "Payment received", 1 - amount, index))
    opening, lines = running_lines(ledger, movements, start)
    return Statement(
        7,
        name,
        ADDRESS,
        "USD",
        start,
        date(2027, 12, 31),
        opening,
        lines[-1].balance,
        tuple(lines),
        datetime(2028, 1, 4, 15, 30, tzinfo=UTC),
    )


def statement(*, hard: bool, name: str = LEGAL_NAME) -> bytes:
    if hard:
        data = statement_of(150, name, STATEMENT_AMOUNT)
        return billing.render_statement_pdf(data, issuer="|".join((name, *ADDRESS)))
    data = statement_of(3, "Quayside Diagnostics Ltd", Decimal("1200.00"))
    return billing.render_statement_pdf(data, issuer="CPT Licensing Office|1 Example Plaza")


def monthly_report(*, hard: bool, name: str = LEGAL_NAME) -> bytes:
    report = sample_report(10**9 if hard else 1)
    # Every use's label, the longest (distribution's) among them.
    uses = tuple(
        AmountRow(use, Decimal(1000 * (index + 1)) * (10**9 if hard else 1))
        for index, use in enumerate(USE_LABELS)
    )
    report = replace(report, revenue_by_use=uses)
    if hard:
        rows = report.top_licensees
        report = replace(
            report,
            top_licensees=tuple(replace(rows[0], name=each) for each in (name, PERSON)),
        )
    return render_monthly_report_pdf(report)


_REQUESTER = letters.Requester(
    name="Lena Ortiz",
    email="lena.ortiz@cedar-ridge.example",
    institution="Cedar Ridge Community College",
    role="Faculty",
)
_HARD_REQUESTER = letters.Requester(
    name=PERSON,
    email="a" * 64 + "@" + "b" * 180 + ".example",
    institution=filled("Uniwersytet Łódzki Πανεπιστήμιο Университет", INSTITUTION_MAX),
    role=None,
)


def _hard_requester(name: str) -> letters.Requester:
    """The requester at the forms' limits; named `name` (a person and an institution
    in another script) where it is not the Latin legal name."""
    if name == LEGAL_NAME:
        return _HARD_REQUESTER
    return replace(_HARD_REQUESTER, name=name[:PERSON_NAME_MAX], institution=name[:INSTITUTION_MAX])


def grant_letter(*, hard: bool, name: str = LEGAL_NAME) -> bytes:
    letter = letters.GrantLetter(
        number="PR-2027-000007-G1",
        request_reference="PR-2027-000007",
        issued_on=date(2027, 2, 3),
        requester=_hard_requester(name) if hard else _REQUESTER,
        permitted_use=filled("Slides for unit 4, Ελληνικά, Русский", PERMITTED_USE_MAX)
        if hard
        else "Slides for unit 4.",
        purpose="Course materials",
        medium="Learning-management system",
        audience_size=10_000_000 if hard else 45,
        conditions=("Show the notice on every slide.",),
        valid_from=date(2027, 2, 3),
        valid_until=date(2027, 6, 30),
    )
    return letters.render_grant_letter(letter)


def denial_letter(*, hard: bool, name: str = LEGAL_NAME) -> bytes:
    letter = letters.DenialLetter(
        number="PR-2027-000008-D1",
        request_reference="PR-2027-000008",
        issued_on=date(2027, 2, 3),
        requester=_hard_requester(name) if hard else _REQUESTER,
        content_requested="The guidelines for visit services.",
        reason="The use is commercial.",
        reconsideration_until=datetime(2027, 3, 5, 17, tzinfo=UTC),
        status_url="https://example.test/requests/abc",
    )
    return letters.render_denial_letter(letter)


DOCUMENTS: dict[str, Callable[..., bytes]] = {
    "agreement": agreement,
    "invoice": invoice,
    "credit note": credit_note,
    "statement of account": statement,
    "monthly report": monthly_report,
    "grant letter": grant_letter,
    "denial letter": denial_letter,
}

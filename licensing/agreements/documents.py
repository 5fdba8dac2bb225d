"""The end-user license agreement as a PDF: a pure renderer of plain data.

`render_agreement_pdf(AgreementDocument) -> bytes` knows nothing of the
database: the agreements service gathers the parties, the licensed uses and the
royalty terms from the quote snapshot, renders the standard clauses from the
Jinja templates under templates/agreements/clauses/, and passes it all here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from licensing.calendar import day_text, days_text
from licensing.money import in_words
from licensing.words import end_sentence

# reportlab and `licensing.pdf` are imported by the functions that draw, not with the
# module: the agreements services import it for `AgreementDocument` in every process,
# and reportlab with PIL is about 10 MB resident that a process which draws no PDF
# need not hold (round 50).
if TYPE_CHECKING:
    from reportlab.platypus import Flowable


@dataclass(frozen=True)
class Party:
    name: str
    address_lines: tuple[str, ...] = ()
    detail: str = ""  # e.g. "a commercial organization" or "Licensor"


@dataclass(frozen=True)
class LicensedUse:
    product: str
    description: str
    use: str
    product_type: str
    user_type: str
    delivery: str
    territories: str
    languages: str
    royalty_terms: str  # the rule in plain words
    working: tuple[str, ...]  # the quote's explanation steps
    amount: Decimal | None  # the annual fee for the term; None: priced by staff
    rule: str | None = None
    # The rule's `description` on the card, as people read the rule (round 37).
    rule_description: str = ""
    modification_note: str = ""  # why staff changed the quoted amount, if they did
    # On a card that runs open-ended or longer than `LONG_CARD_DAYS`: what the
    # contract's proration made of each prorated amount of its rule (round 47).
    proration_warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Obligation:
    description: str
    due: date


@dataclass(frozen=True)
class Clause:
    heading: str
    paragraphs: tuple[str, ...]


@dataclass(frozen=True)
class AgreementDocument:
    number: str
    issued_on: date
    licensor: Party
    licensee: Party
    term_start: date
    term_end: date
    rate_card: str
    currency: str
    uses: tuple[LicensedUse, ...]
    total: Decimal
    obligations: tuple[Obligation, ...]
    payment_terms: str
    late_fee_terms: str
    copyright_notice: str
    trademark_notice: str
    clauses: tuple[Clause, ...] = ()
    renewal_of: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    # Schedule A's note for a card that runs long (round 47); empty for any other.
    long_card_note: str = ""
    # Round 50: a term shorter than its card's period says the card's period and the
    # days the working's proration counts ("x 122/365 (prorated)"); empty for a term
    # of the whole period, so those agreements are drawn as before.
    proration_note: str = ""
    # Round 66: an agreement no rate card priced (a renewal staff priced by hand) says so
    # in place of "Royalties are computed with rate card ..." (`hand_priced.HandPriced`);
    # empty for every other, drawn as before.
    priced_by_hand: str = ""

    @property
    def proration_warnings(self) -> tuple[str, ...]:
        """Every use's sentences of what the card's proration makes of its amounts,
        in Schedule A's order, each once (two uses of one rule say the same): what
        the approval email repeats (round 48). Empty for a card that does not run long."""
        return tuple(dict.fromkeys(s for use in self.uses for s in use.proration_warnings))


def _money(amount: Decimal | None, currency: str) -> str:
    if amount is None:
        return "Priced by staff"
    return in_words(amount, currency)


def _words(value: str) -> str:
    return value.replace("_", " ")


def _title_block(doc: AgreementDocument) -> list[Flowable]:
    from reportlab.platypus import Spacer

    from licensing import pdf

    subtitle = f"Agreement number {doc.number} · issued {day_text(doc.issued_on)}"
    if doc.renewal_of:
        subtitle += f" · renews {doc.renewal_of}"
    return [
        pdf.para("CPT Content End-User License Agreement", "Title"),
        pdf.para(subtitle, "Subtitle"),
        Spacer(1, 10),
    ]


def _parties(doc: AgreementDocument) -> list[Flowable]:
    from reportlab.platypus import Spacer

    from licensing import pdf

    def block(role: str, party: Party) -> list[Flowable]:
        lines: list[Flowable] = [
            pdf.markup(f"<b>{pdf.text(role)}</b>", "Cell"),
            pdf.para(party.name, "Cell"),
        ]
        lines += [pdf.para(line, "Cell") for line in party.address_lines]
        if party.detail:
            lines.append(pdf.para(party.detail, "Small"))
        return lines

    width = pdf.CONTENT_WIDTH / 2
    return [
        pdf.table(
            [[block("Licensor", doc.licensor), block("Licensee", doc.licensee)]],
            [width, width],
            header=False,
        ),
        Spacer(1, 6),
        pdf.para(
            f"Term: {days_text(doc.term_start, doc.term_end)} (both days included). "
            + (doc.priced_by_hand or f"Royalties are computed with rate card {doc.rate_card}.")
            + (f" {doc.proration_note}" if doc.proration_note else ""),
        ),
        # A term the Licensor changed at approval is stated with the term it changes.
        *[pdf.para(note) for note in doc.notes],
    ]


def _clauses(doc: AgreementDocument) -> list[Flowable]:
    from reportlab.lib.units import inch
    from reportlab.platypus import CondPageBreak

    from licensing import pdf

    story: list[Flowable] = []
    for number, clause in enumerate(doc.clauses, start=1):
        story.append(CondPageBreak(1.2 * inch))
        story.append(pdf.para(f"{number}. {clause.heading}", "Heading"))
        for sub, paragraph in enumerate(clause.paragraphs, start=1):
            story.append(pdf.para(f"{number}.{sub}  {paragraph}", "Clause"))
    return story


def _schedule(doc: AgreementDocument) -> list[Flowable]:
    from reportlab.lib.units import inch
    from reportlab.platypus import CondPageBreak, KeepTogether, Spacer

    from licensing import pdf

    rows: list[list[object]] = [
        # Fees are for the term (prorated), whatever its length: not annual.
        ["#", "Product", "Licensed use", "Delivery and territory", "Languages", "Fee for the term"]
    ]
    for index, use in enumerate(doc.uses, start=1):
        rows.append(
            [
                str(index),
                use.product,
                f"{_words(use.use)}; {_words(use.product_type)} for {_words(use.user_type)} users",
                f"{use.delivery}; {use.territories}",
                use.languages or "—",
                _money(use.amount, doc.currency),
            ]
        )
    rows.append(["", "Total for the term", "", "", "", _money(doc.total, doc.currency)])
    widths = [0.3 * inch, 1.3 * inch, 1.75 * inch, 1.3 * inch, 1.0 * inch, 1.35 * inch]
    story: list[Flowable] = [
        CondPageBreak(2 * inch),
        pdf.para("Schedule A: licensed uses and fees", "Heading"),
        pdf.table(rows, widths, right_columns=(5,), total_rows=1),
        Spacer(1, 6),
    ]
    if doc.long_card_note:  # only then: every other agreement is drawn as before
        story += [pdf.para(doc.long_card_note, "Clause"), Spacer(1, 6)]
    story.append(pdf.para("Royalty terms, and how each fee was reached", "Heading"))
    for index, use in enumerate(doc.uses, start=1):
        block: list[Flowable] = [
            pdf.markup(
                f"<b>{index}. {pdf.text(pdf.isolated(use.product))}</b>"
                + (f" (rule {pdf.text(use.rule)})" if use.rule else ""),
                "Body",
            ),
            # The rule as people read it (round 37) opens the terms' paragraph rather
            # than the heading: a heading longer than its line leaves `pdf.markup`'s
            # one-line path for reportlab's parser and cost the agreement a page and a
            # third of its time (docs/pdfs.md, round 38).
            pdf.para(
                f"{end_sentence(use.rule_description)} {use.royalty_terms}"
                if use.rule_description
                else use.royalty_terms,
                "Clause",
            ),
        ]
        if use.description:
            block.append(pdf.para(f"Product: {use.description}", "Clause"))
        block += [pdf.para(f"· {step}", "Clause") for step in use.working]
        # After the working, as the quote's explanation ends with them (round 47).
        block += [pdf.para(f"· {sentence}", "Clause") for sentence in use.proration_warnings]
        if use.modification_note:
            block.append(pdf.para(f"Amended by the Licensor: {use.modification_note}", "Clause"))
        story.append(KeepTogether(block))
    return story


def _obligations(doc: AgreementDocument) -> list[Flowable]:
    from reportlab.lib.units import inch
    from reportlab.platypus import CondPageBreak, Spacer

    from licensing import pdf

    rows: list[list[object]] = [["Obligation", "Due"]]
    rows += [[item.description, day_text(item.due)] for item in doc.obligations]
    return [
        CondPageBreak(1.5 * inch),
        pdf.para("Schedule B: reporting obligations and payment", "Heading"),
        pdf.table(rows, [5.4 * inch, 1.6 * inch]),
        Spacer(1, 6),
        pdf.para(doc.payment_terms, "Clause"),
        pdf.para(doc.late_fee_terms, "Clause"),
    ]


def _notices(doc: AgreementDocument) -> list[Flowable]:
    from reportlab.lib.units import inch
    from reportlab.platypus import CondPageBreak

    from licensing import pdf

    story: list[Flowable] = [
        CondPageBreak(1.2 * inch),
        pdf.para("Required notices", "Heading"),
        pdf.para(
            "The Licensee shall display the following notices wherever CPT content appears "
            "in the licensed products and their documentation:",
            "Clause",
        ),
        pdf.para(doc.copyright_notice, "Clause"),
        pdf.para(doc.trademark_notice, "Clause"),
    ]
    return story


def _acceptance(doc: AgreementDocument) -> list[Flowable]:
    from reportlab.lib.units import inch
    from reportlab.platypus import CondPageBreak

    from licensing import pdf

    rows: list[list[object]] = [
        ["Accepted for the Licensee by (full name)", ""],
        ["Title", ""],
        ["Date and time of acceptance", ""],
    ]
    return [
        CondPageBreak(2.2 * inch),
        pdf.para("Acceptance", "Heading"),
        pdf.para(
            "This agreement takes effect when an individual authorised to bind "
            f"{pdf.isolated(doc.licensee.name)} accepts it online. The Licensor keeps the "
            "acceptance record: the signer's name and title, their confirmation of authority, the "
            "time, the IP address and browser, and the SHA-256 digest of this exact document.",
            "Clause",
        ),
        pdf.table(rows, [3.2 * inch, 3.8 * inch], header=False),
    ]


def render_agreement_pdf(doc: AgreementDocument) -> bytes:
    from licensing import pdf

    story: Sequence[Flowable] = [
        *_title_block(doc),
        *_parties(doc),
        *_clauses(doc),
        *_schedule(doc),
        *_obligations(doc),
        *_notices(doc),
        *_acceptance(doc),
    ]
    return pdf.build(
        story,
        pdf.PageFurniture(
            reference=f"Agreement {doc.number}",
            issuer=doc.licensor.name,
            footer_note=doc.copyright_notice,
        ),
        title=f"CPT Content End-User License Agreement {doc.number}",
        subject=f"License for {doc.licensee.name}",
    )

"""Gathering an agreement's content from the records, for the pure PDF renderer.

Everything the PDF says about money comes from the approved quote snapshot
(the amounts, each line's working) and from the published rate card it names
(each rule in plain words); the standard clauses come from the Jinja
templates under templates/agreements/clauses/, rendered by an environment of
their own (`CLAUSE_TEMPLATES`), not the app's: the clauses are the agreement's
own text, shipped with the code, so issuing needs no running app and what an
agreement says hangs on those files alone, never on the filters and globals that
draw pages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import jinja2
from sqlalchemy.orm import Session

from licensing.accounts.models import Organization
from licensing.agreements.documents import (
    AgreementDocument,
    Clause,
    LicensedUse,
    Obligation,
    Party,
)
from licensing.agreements.models import Application, ApplicationUse, QuoteVersion
from licensing.agreements.states import UNDECIDED
from licensing.calendar import ISO_DAY, LAST_DAY, day_text, days_text
from licensing.config import PROJECT_ROOT
from licensing.mail.services import OFFICE_NAME
from licensing.money import format_quantity, price_in_words
from licensing.notices import TRADEMARK_NOTICE, copyright_notice
from licensing.pricing import Quote, QuoteLine, RateCard, describe_rule
from licensing.pricing.describe import long_period_words, runs_long, term_proration_warnings
from licensing.pricing.ratecard import OPEN_ENDED_WORDS
from licensing.pricing.vocabulary import USES
from licensing.ratecards import queries as ratecard_queries
from licensing.words import (
    humanize,
    in_a_sentence,
    organization_type_words,
    product_type_words,
    term_share_words,
    use_words,
    user_type_words,
    working_in_words,
)

# Plain text, so nothing is escaped (as the app's environment leaves `.txt`), and
# Jinja's defaults otherwise: the clauses render as they did through the app.
CLAUSE_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(PROJECT_ROOT / "templates" / "agreements" / "clauses"),
    autoescape=False,  # noqa: S701 - text for a PDF, never HTML
)

# Days after the end of each reporting period by which a royalty report is due.
REPORT_DUE_DAYS = 30
# How the working of a line staff changed records the change (services/review.py, _amended_line).
AMENDED = "amended by the licensor"


def _words(value: str) -> str:
    return value.replace("_", " ")


def licensed_lines(quote: Quote) -> list[QuoteLine]:
    """The lines the agreement licenses (uses routed to permissions are not licensed)."""
    return [line for line in quote.lines if line.route == "license"]


def usage_based(line: QuoteLine) -> bool:
    """Whether the line's royalty depends on reported usage (not a flat fee alone)."""
    return line.breakdown is not None and line.breakdown.model_type != "flat"


def due_on_acceptance(quote: Quote) -> Decimal:
    """What accepting the agreement invoices at once: the licensed lines' fixed parts
    (flat fees and the minimum's lift above the estimated usage royalties), as the
    up-front invoice charges them (`services.acceptance`)."""
    return sum(
        (line.breakdown.fixed for line in licensed_lines(quote) if line.breakdown is not None),
        Decimal(0),
    )


@dataclass(frozen=True)
class UpFrontPart:
    """Round 68: one licensed use's share of what accepting invoices at once: the use's
    index, its fixed part (`Breakdown.fixed`) and what that part is, in words after
    "use N (product), amount,": its flat fee, or the part of its minimum above its
    estimated usage royalties (the acceptance box named no use)."""

    use_index: int
    amount: Decimal
    what: str


# What a use's fixed part is, by how its rule priced it.
FLAT_FEE = "its flat fee"
FLAT_FEES = "its flat fees"
MINIMUM_LIFT = "the part of its minimum above its estimated usage royalties"


def up_front_parts(quote: Quote) -> list[UpFrontPart]:
    """Each licensed use's part of `due_on_acceptance`, in Schedule A's order (uses
    with nothing fixed left out): a minimum's lift where the minimum applied (a sum's
    flat parts are inside it then), else its flat fee (a `flat` model, or an amount
    staff set by hand), or a sum's flat parts."""
    parts = []
    for line in licensed_lines(quote):
        breakdown = line.breakdown
        if breakdown is None or breakdown.fixed <= 0:
            continue
        if breakdown.bound_applied == "minimum" and breakdown.model_type != "flat":
            what = MINIMUM_LIFT
        elif breakdown.model_type == "flat":
            what = FLAT_FEE
        else:
            what = FLAT_FEES
        parts.append(UpFrontPart(line.use_index, breakdown.fixed, what))
    return parts


def _quarters(start: date, end: date) -> list[tuple[date, date]]:
    periods = []
    cursor = start
    while cursor <= end:
        quarter_end_month = ((cursor.month - 1) // 3 + 1) * 3
        next_start = (
            date(cursor.year + 1, 1, 1)
            if quarter_end_month == 12
            else date(cursor.year, quarter_end_month + 1, 1)
        )
        periods.append((cursor, min(next_start - timedelta(days=1), end)))
        cursor = next_start
    return periods


@dataclass(frozen=True)
class StartedTerm:
    """A term already under way when the application is approved: the license
    covers it retroactively, and the periods already ended are reportable (their
    royalty reports can be filed, overdue, as soon as the agreement is accepted).
    A term wholly `over` (its last day before today, round 49) licenses past use
    only: every period is reportable at once, and the agreement is expired as soon
    as it is accepted."""

    start: date
    ended: tuple[tuple[date, date], ...]
    end: date | None = None
    over: bool = False

    def _periods(self, day: Callable[[date], str]) -> str:
        if not self.ended:
            return ""
        first, last = self.ended[0][0], self.ended[-1][1]
        count = len(self.ended)
        if self.over:
            return (
                f" The royalty reports of all {count} period{'s' if count > 1 else ''} "
                f"({day(first)} to {day(last)}) are reportable at once: they "
                "can be filed as soon as"
            )
        return (
            f" The royalty reports of the {count} period{'s' if count > 1 else ''} already "
            f"ended ({day(first)} to {day(last)}) can be filed as soon as"
        )

    def for_staff(self) -> str:
        """The review page's sentence beside the approval form, its days in words as
        the page's other sentences say them (round 59: YYYY-MM-DD, as the form's date
        fields take them): `static/js/approval-term.js` words it again as staff type."""
        if self.over:
            assert self.end is not None
            text = (
                f"The term ended on {day_text(self.end)}, before today: approving it "
                "licenses past use only, and the agreement is expired as soon as the "
                "licensee accepts it."
            )
        else:
            text = (
                f"The term began on {day_text(self.start)}, before today: approving it "
                "licenses that time retroactively."
            )
        if self.ended:
            text += (
                self._periods(day_text)
                + " the licensee accepts, their royalties invoiced with them."
            )
        return text

    def for_vendor(self) -> str:
        if self.over:
            assert self.end is not None
            text = (
                f"The term ended on {day_text(self.end)}, before this approval: the license "
                f"covers past use only, from {day_text(self.start)} to "
                f"{day_text(self.end)}, and the agreement is expired as soon as you "
                "accept it."
            )
        else:
            text = (
                f"The term began on {day_text(self.start)}, before this approval: the "
                "license covers it from that day."
            )
        if self.ended:
            text += (
                self._periods(day_text) + " you accept it, and their royalties are invoiced with "
                "them (their due dates have passed)."
            )
        return text


def started_term(quote: Quote, term_start: date, term_end: date, today: date) -> StartedTerm | None:
    """The term as approving on `today` makes it retroactive, or None when it has
    not started before `today`: a term starting on the day of the approval licenses
    nothing before it (round 54: approved on 1 January, a term from 1 January was
    "retroactive"). Periods are those of the royalty reports (`obligations`)."""
    if term_start >= today:
        return None
    reporting = reports_usage(quote)
    ended = tuple(
        period for period in _quarters(term_start, term_end) if reporting and period[1] < today
    )
    return StartedTerm(term_start, ended, term_end, term_over(term_end, today))


def reports_usage(quote: Quote) -> bool:
    """Whether the license's royalty reports are quarterly (a line priced by usage),
    so that the quarters already ended are reportable at once."""
    return any(usage_based(line) for line in licensed_lines(quote))


# The longest license term an application may ask for, or staff approve (round 51): a
# hundred years with their leap days. A term is reported on a quarter at a time, and
# an open-ended card (to 9999-12-31) let a vendor ask for nearly 8,000 years: 32,000
# reporting periods, drawn into the agreement's PDF by the submission itself (46
# seconds of a worker, a 1.5 MB PDF), and a term ending in the calendar's last months
# raised "year 10000 is out of range" (its last reports' due dates), a 500. A bound on
# the work, not a judgement of which terms make sense: that is the office's.
MAX_TERM_DAYS = 36_525


def term_problem(term_start: date, term_end: date) -> str | None:
    """Why no agreement can be issued for `term_start` to `term_end`, or None: a term
    ending after the last day the service reads (`calendar.LAST_DAY`; its royalty
    reports would be due after the calendar's end), or longer than `MAX_TERM_DAYS`."""
    if term_end > LAST_DAY:
        return (
            f"The term must end by {LAST_DAY.isoformat()}, the last day the service "
            "records, so that its royalty reports can fall due."
        )
    days = (term_end - term_start).days + 1
    if days > MAX_TERM_DAYS:
        return (
            f"A license term runs at most 100 years ({MAX_TERM_DAYS:,} days); this one "
            f"runs {days:,} days. Apply for the years the product is licensed for."
        )
    return None


def term_over(term_end: date | None, today: date) -> bool:
    """A term whose last day is before the office's `today` (round 49): licensing
    it licenses past use only, so it is never approved automatically, and its
    agreement is expired as soon as it is accepted."""
    return term_end is not None and term_end < today


def past_term_told(term_end: date | None, state: str, today: date) -> str | None:
    """`past_term_review` while the application is undecided (a draft included: it
    is told before submitting) and its term is over on `today`; else None."""
    if state not in UNDECIDED or term_end is None or not term_over(term_end, today):
        return None
    return past_term_review(term_end)


def past_term_review(term_end: date) -> str:
    """Why an application for a term already over goes to licensing staff, for the
    vendor (the application's page and the API's `past_term`)."""
    return (
        f"The term ended on {term_end.isoformat()}, before today: a license for it covers "
        "past use only, so licensing staff review the application (it is not approved "
        "automatically), and once accepted its agreement is expired at once, its royalty "
        "reports due."
    )


def obligations(quote: Quote, term_start: date, term_end: date) -> tuple[Obligation, ...]:
    """Quarterly royalty reports when any line is priced by usage; otherwise one
    certification after the term that use stayed within Schedule A."""
    lines = licensed_lines(quote)
    if any(usage_based(line) for line in lines):
        return tuple(
            Obligation(
                f"Royalty report of usage and revenue from {day_text(start)} to {day_text(end)}",
                end + timedelta(days=REPORT_DUE_DAYS),
            )
            for start, end in _quarters(term_start, term_end)
        )
    return (
        Obligation(
            "Certification that use of CPT content stayed within Schedule A for the term",
            term_end + timedelta(days=REPORT_DUE_DAYS),
        ),
    )


def _parse_clauses(text: str) -> list[Clause]:
    clauses: list[Clause] = []
    heading: str | None = None
    paragraphs: list[str] = []
    current: list[str] = []

    def close_paragraph() -> None:
        if current:
            paragraphs.append(" ".join(current))
            current.clear()

    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("## "):
            close_paragraph()
            if heading is not None:
                clauses.append(Clause(heading, tuple(paragraphs)))
            heading, paragraphs = line[3:].strip(), []
        elif not line:
            close_paragraph()
        else:
            current.append(line)
    close_paragraph()
    if heading is not None:
        clauses.append(Clause(heading, tuple(paragraphs)))
    return clauses


def _clause_use(use: ApplicationUse) -> dict[str, str]:
    """A licensed use as the clause templates name its fields."""
    return {
        "product": use.product_name,
        "use": use.use,
        "product_type": use.product_type,
        "user_type": use.user_type,
        "territories": use.territories,
        "languages": ", ".join(use.language_list),
    }


def clauses(context: dict[str, Any], uses: Sequence[ApplicationUse]) -> tuple[Clause, ...]:
    """general.txt, then the file of each use category licensed, in vocabulary order."""
    rendered = [CLAUSE_TEMPLATES.get_template("general.txt").render(context, uses=[])]
    for category in USES:
        of_category = [_clause_use(use) for use in uses if use.use == category]
        if of_category:
            template = CLAUSE_TEMPLATES.get_template(f"{category}.txt")
            rendered.append(template.render(context, uses=of_category))
    return tuple(clause for text in rendered for clause in _parse_clauses(text))


def modification_words(change: Mapping[str, Any]) -> str:
    """One amendment the licensor made on approval, as a history says it: "use 1
    amount changed from 8000.00 to 6000.00 (pilot rate)", "term end changed from
    2027-12-31 to 2027-06-30 (pilot)"; a use no rule priced had no amount to change."""
    line = change.get("line")
    what = f"use {int(line) + 1} amount" if line is not None else humanize(str(change["field"]))
    if change.get("from") is None:
        return f"{what} set at {change['to']} ({change['reason']})"
    return f"{what} changed from {change['from']} to {change['to']} ({change['reason']})"


def _modification_notes(version: QuoteVersion, currency: str) -> dict[int, str]:
    """Each amended line's note, in words: a use no rule priced had no amount to change."""
    notes: dict[int, str] = {}
    for change in version.modifications:
        if change.get("line") is None:
            continue
        to = f"{change['to']} {currency}"
        if change.get("from") is None:
            notes[int(change["line"])] = (
                f"fee set at {to}, as no published rule prices this use: {change['reason']}"
            )
        else:
            notes[int(change["line"])] = (
                f"fee changed from {change['from']} {currency} to {to}: {change['reason']}"
            )
    return notes


def _party(organization: Organization) -> Party:
    address = [organization.address_line1]
    if organization.address_line2:
        address.append(organization.address_line2)
    place = ", ".join(
        part for part in (organization.city, organization.region, organization.postal_code) if part
    )
    address.append(f"{place}, {organization.country}")
    # The type as sign-up offered it ("a commercial company"), round 37.
    kind = in_a_sentence(organization_type_words(organization.organization_type))
    return Party(
        organization.legal_name,
        tuple(address),
        f"{'an' if kind[:1] in 'aeiou' else 'a'} {kind}",
    )


def build_document(
    session: Session,
    *,
    number: str,
    issued_on: date,
    application: Application,
    version: QuoteVersion,
    payment_terms_days: int,
    late_fee_percent: Decimal,
    renewal_of: str | None,
    long_card_days: int,
    priced_by_hand: str = "",
) -> AgreementDocument:
    """`priced_by_hand`: what an agreement no card priced says in place of its card
    (`hand_priced.HandPriced.document`), empty for any other."""
    quote = Quote.from_snapshot(version.snapshot)
    stored = ratecard_queries.get(session, quote.rate_card)
    card = ratecard_queries.domain_card(stored)
    rules = {rule.id: rule for rule in card.rules}
    notes = _modification_notes(version, quote.currency)
    uses_by_index = dict(enumerate(application.uses))
    licensed: list[LicensedUse] = []
    licensed_records: list[ApplicationUse] = []
    for line in licensed_lines(quote):
        use = uses_by_index[line.use_index]
        licensed_records.append(use)
        rule = rules.get(line.rule or "")
        terms = (
            # Grouped, with the currency, as Schedule A and the pages say amounts.
            describe_rule(rule, quote.currency, amount=price_in_words, count=format_quantity)
            if rule is not None
            else "A fee set by the Licensor for this use (no published rule applies)."
        )
        if not terms.endswith("."):
            terms += "."
        if line.amount is not None and usage_based(line):
            terms += (
                " The fee shown is the estimate for the usage stated in the application; "
                "royalties are invoiced on usage as reported."
            )
        licensed.append(
            LicensedUse(
                product=use.product_name,
                description=use.description,
                # In words, as the pages say them ("SaaS", "end users"): the PDF is
                # what the licensee reads before accepting.
                # The use as the application form offers it, as the page's table says
                # it ("Distribute a product to others ...; SaaS for provider users").
                use=use_words(use.use),
                product_type=in_a_sentence(product_type_words(use.product_type)),
                user_type=in_a_sentence(user_type_words(use.user_type)),
                delivery=_words(use.delivery),
                territories=use.territories,
                languages=", ".join(use.language_list),
                royalty_terms=terms,
                # An amendment is stated once, below the working, with its reason.
                working=tuple(
                    working_in_words(step)
                    for step in line.explanation
                    if not step.startswith(AMENDED)
                ),
                amount=line.amount,
                rule=line.rule,
                rule_description=rule.description.strip() if rule is not None else "",
                modification_note=notes.get(line.use_index, ""),
                proration_warnings=_proration_warnings(card, version, line, long_card_days),
            )
        )
    organization = application.organization
    context = {
        "licensee": organization.legal_name,
        "licensor": OFFICE_NAME,
        "number": number,
        "term_start": version.term_start.isoformat(),
        "term_end": version.term_end.isoformat(),
        "payment_days": payment_terms_days,
        "late_fee_percent": f"{late_fee_percent.normalize():f}",
    }
    term_notes = tuple(
        f"The Licensor amended the {_words(change['field'])} from {_day_said(change['from'])} "
        f"to {_day_said(change['to'])}: {change['reason']}"
        for change in version.modifications
        if change.get("line") is None
    )
    return AgreementDocument(
        number=number,
        issued_on=issued_on,
        licensor=Party(OFFICE_NAME, (), "Licensor, on behalf of the owner of the CPT code set"),
        licensee=_party(organization),
        term_start=version.term_start,
        term_end=version.term_end,
        rate_card=quote.rate_card,
        currency=quote.currency,
        uses=tuple(licensed),
        total=quote.total,
        obligations=obligations(quote, version.term_start, version.term_end),
        payment_terms=(
            "Fixed fees are invoiced when this agreement becomes active: flat fees, and, "
            "where the usage estimated in the application falls short of a minimum royalty, "
            "the difference. Royalties on reported usage are invoiced after each report; a "
            "minimum royalty not invoiced up front is a floor charged with the first reports, "
            "so the royalties for the term are never less than the minimum. Every invoice is "
            f"payable within {payment_terms_days} days of its date."
        ),
        late_fee_terms=(
            f"Overdue amounts bear a late fee of {context['late_fee_percent']}% of the overdue "
            "balance for each month or part of a month they remain unpaid."
        ),
        copyright_notice=copyright_notice(version.term_start),
        trademark_notice=TRADEMARK_NOTICE,
        clauses=clauses(context, licensed_records),
        renewal_of=renewal_of,
        notes=term_notes,
        long_card_note=long_card_note(card, long_card_days),
        proration_note=proration_note(card, quote, version.term_start, version.term_end),
        priced_by_hand=priced_by_hand,
    )


def _day_said(value: object) -> str:
    """A value a term change recorded, as the agreement prints it: a day in words
    (round 56: "January 1, 2027", not "2027-01-01"), anything else as recorded."""
    text = str(value)
    return day_text(date.fromisoformat(text)) if ISO_DAY.fullmatch(text) else text


def _card_period_said(card: RateCard) -> str:
    """A card's period as the agreement prints it (`pricing.ratecard.period_words`,
    whose days are the pages' YYYY-MM-DD, in words)."""
    if card.open_ended:
        return f"from {day_text(card.effective_from)}, {OPEN_ENDED_WORDS}"
    return days_text(card.effective_from, card.effective_to)


def proration_note(card: RateCard, quote: Quote, term_start: date, term_end: date) -> str:
    """What an agreement for part of its card's period says after naming the card
    (round 50): the card's period and the share of it the term is, in the words of the
    pages' caption (`words.term_share_words`), so the "x 122/365 (prorated)" of the
    working is traced to the days it counts. Empty for a term of the whole period."""
    if quote.proration == 1:
        return ""
    share = term_share_words((term_end - term_start).days + 1, quote.proration)
    return (
        f"Its period is {_card_period_said(card)}, and "
        f"{share}: flat fees, minimums and maximums are prorated by it, royalties on "
        "usage are not."
    )


def _proration_warnings(
    card: RateCard, version: QuoteVersion, line: QuoteLine, long_card_days: int
) -> tuple[str, ...]:
    """What the quote said of the line's prorated amounts on a card that runs
    open-ended or longer than `LONG_CARD_DAYS`, over the agreement's term: the pricing
    core's sentences (`term_proration_warnings`), amounts as Schedule A writes them.
    Empty for any other card, so every other agreement is drawn as before (round 47:
    the agreement printed the cents the quote had warned of without a word)."""
    if line.route != "license" or line.rule is None:
        return ()
    warned = term_proration_warnings(
        card,
        version.term_start,
        version.term_end,
        [line.rule],
        long_period_days=long_card_days,
        amount=price_in_words,
    )
    return tuple(warning.sentence for warning in warned)


def long_card_note(card: RateCard, long_card_days: int) -> str:
    """Schedule A's note under its table for a card that runs long (round 47), as
    the quote's pages head the same sentences; empty for any other card."""
    if not runs_long(card, long_card_days):
        return ""
    runs = "open-ended" if card.open_ended else f"longer than {long_period_words(long_card_days)}"
    return (
        f"Rate card {card.version} runs {runs}, and these fees are prorated over all of it: "
        "the contract divides a flat fee, a minimum and a maximum by the card's whole "
        "period, so this term pays a small share of them, as each use's working says."
    )

"""Reissuing an unaccepted agreement on the rate card that corrected its own (round 55).

Cards are immutable, so a mistake on a published card is corrected by publishing a
new version for its period; what the wrong card priced keeps its prices. An
agreement issued on it and not yet accepted was only ended by terminating it, the
vendor applying again. Licensing staff now reissue it: the application's uses and the
agreement's term are priced again on the correction (the card in effect on the term's
first day, one that replaced the agreement's card for every day of its period), the
price stored as a new quote version of the application, and a new agreement (new
number, new PDF) issued on it, naming the one it replaces (`reissue_of_id`). The old
agreement moves to `replaced` (its row and bytes never edited) and can no longer be
accepted; the licensee is emailed the new one to accept.

What staff set by hand on approval is kept: an amount given to a use (a use no rule
priced, or a price changed with a reason) stays that amount with its reason, and a
changed term stays the term; the new quote version records each, and the change of
card with the reason given, as the agreement's Schedule A notes them.

Only while the agreement is `issued`: once accepted, its invoices follow its card,
so a reissue would invoice twice (409, naming what is allowed: terminating it, or a
credit note for the difference).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from licensing import calendar, confirmations, db
from licensing.accounts import queries as account_queries
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import hand_priced, issuing
from licensing.agreements.models import (
    MODIFIED,
    Agreement,
    Application,
    CorrectionNotice,
    QuoteVersion,
)
from licensing.agreements.renewal_change import PAGE
from licensing.agreements.services._common import (
    _agreement_news,
    _issue_agreement,
    _licensing_step,
    _owned,
    _reason,
    _store_quote,
    _tell_vendor,
    _what_is_charged,
    vendor_told,
)
from licensing.agreements.services.review import _amended_line
from licensing.agreements.settings import IssuingPolicy
from licensing.agreements.states import ACTIVE, AGREEMENT, EXPIRED, ISSUED, SUPERSEDED
from licensing.audit import services as audit
from licensing.calendar import day_text
from licensing.errors import Conflict, InvalidInput, NotFound
from licensing.links import links
from licensing.mail import services as mail
from licensing.money import format_amount, in_words
from licensing.pricing import Quote, QuoteLine, RateCard
from licensing.pricing.describe import use_changes
from licensing.ratecards import queries as ratecard_queries
from licensing.ratecards import services as ratecards
from licensing.ratecards.queries import Catalogue, CorrectedDays, TermCorrection
from licensing.signals import PublishedCard
from licensing.words import BY_HAND

# What a reissue's confirmation binds, and how its refusals are worded
# (`licensing.confirmations`).
CONFIRMATION = confirmations.Kind(
    salt="licensing.agreements.reissue-confirmation",
    record_word="agreement",
    not_done="Not reissued",
    nothing_done="Nothing was issued",
    again="reissue the agreement again to see its confirmation, then confirm it",
)


@dataclass(frozen=True)
class ReissuedLine:
    """One licensed use as the reissue prices it: its amount on the agreement and on
    the correction, and, when staff set it by hand on approval, why it is kept."""

    use: int  # 1-based, as pages number uses
    product: str
    was: Decimal | None
    now: Decimal | None
    kept: str = ""  # "set by hand on approval: <reason>", kept as it was
    # Each card's working for the use (round 56: the confirmation said the amounts
    # alone, so a changed tier or discount could not be told from a slip).
    was_working: tuple[str, ...] = ()
    working: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reissue:
    """What reissuing the agreement would issue, for staff to confirm (nothing is
    written): the card that corrected its own, each use's amount then and now, the
    totals and what accepting would invoice at once, and the `confirmation` the
    confirming post carries back."""

    number: str
    organization: str
    was_card: str
    card: str
    currency: str
    was_total: Decimal
    total: Decimal
    was_due: Decimal
    due: Decimal
    lines: tuple[ReissuedLine, ...]
    reason: str
    confirmation: str
    # Round 58: whether any price moves, the usage pricing of a use included
    # (`changes_a_price`); the confirmation says first when none does.
    changes_price: bool = True


def _not_reissued(agreement: Agreement) -> str:
    """Why an agreement that is not `issued` is not reissued, and what is allowed."""
    state = AGREEMENT.state_text(agreement.state)
    if agreement.state == "active":
        return (
            f"Agreement {agreement.number} is active: the licensee accepted it, so it is not "
            "reissued (its invoices follow its rate card). Terminate it, giving the reason, or "
            "issue a credit note for the difference on its invoices."
        )
    return (
        f"Agreement {agreement.number} is {state}: only an agreement awaiting the "
        "licensee's acceptance is reissued, and nothing more is done with this one."
    )


def correction_for(session: Session, agreement: Agreement) -> RateCard | str:
    """The published card that corrected the agreement's own for its term: the card
    in effect on the term's first day, when the agreement's card is replaced for every
    day of its period (`queries.replaced_by`) and that card is one of its replacements
    and covers the whole term; else why there is none, in a sentence."""
    return _correction(ratecard_queries.catalogue(session), agreement)


def _correction(cards: Catalogue, agreement: Agreement) -> RateCard | str:
    # Round 61 (correction61): a correction for part of the card's period counts for the
    # agreements whose term falls in that part (`Catalogue.correction`); before, only a
    # card replaced for every day of its period was "corrected".
    corrected = term_correction(cards, agreement)
    if corrected is None and not _card_priced(cards, agreement):
        # Round 68: by the one rule (`hand_priced`), as its pages say it: the card its
        # quote names (the renewed agreement's) priced nothing of it.
        return (
            f"Agreement {agreement.number} was {BY_HAND}, so no correction of a rate card "
            "reprices it and there is no corrected card to reissue it on."
        )
    if corrected is None:
        return (
            f"Rate card {agreement.rate_card}, which priced agreement {agreement.number}, is "
            "not replaced by a correction for any day of its term, so there is no corrected "
            "card to reissue it on."
        )
    takers = corrected.takers
    # The correction is in the agreement's currency (round 62: a JPY card published
    # after a USD correction for the same days is not the card to reissue it on).
    card = cards.in_effect(agreement.term_start, agreement.currency)
    if (
        corrected.whole_term
        and card is not None
        and card.version in takers
        and card.effective_to >= agreement.term_end
    ):
        return card
    parts = _parts(cards, agreement)
    # Round 61: a correction for part of the term leaves the agreement's own card in
    # effect for the rest, so the term's first part may be on it.
    if card is None or len(parts) < 2:
        return (
            f"Rate card {agreement.rate_card} is replaced by {' and '.join(takers)}, but none "
            f"of them is in effect for the agreement's whole term ({agreement.term_start} to "
            f"{agreement.term_end}), so it cannot be priced on the correction: terminate it, "
            "giving the reason, and let the vendor apply again."
        )
    # Round 56: a correction for part of the term (the wrong card's period split between
    # cards, the term across them). An agreement is priced on one card whose period
    # holds its whole term (the pricing contract), so no one agreement prices it at the
    # corrected prices; reissuing it for the covered part alone would shorten a license
    # the licensee applied for without asking them. Refused, saying exactly what would
    # license the same term at the corrected prices: an application for each part.
    across = "both" if len(parts) == 2 else f"{len(parts)} of them"
    priced = ", ".join(f"{version} from {first} to {last}" for version, first, last in parts)
    each = ", ".join(f"{first} to {last}" for _version, first, last in parts)
    return (
        f"Rate card {agreement.rate_card} is corrected by {' and '.join(takers)}, and the "
        f"term of agreement {agreement.number} ({agreement.term_start} to "
        f"{agreement.term_end}) runs across {across} ({priced}). An agreement is priced on "
        "one card whose period holds its whole term, so it is not reissued for part of it. "
        "To license the term at the corrected prices, terminate it, giving the reason, and "
        f"let the vendor apply once for each part ({each}): each is priced on its own card. "
        f"Until it is terminated, the licensee can still accept it at its price on "
        f"{agreement.rate_card}."
    )


def _parts(cards: Catalogue, agreement: Agreement) -> list[tuple[str, date, date]]:
    """The agreement's term cut where the card in effect in its currency changes: each
    part's card (as a quote naming no card prices a term from the part's first day),
    first and last day. Round 61: cut at a card starting inside the term too (a
    correction for part of a card's period), not only where a part's card ends."""
    return [
        (part.version, part.first, part.last)
        for part in cards.spans(agreement.term_start, agreement.term_end, agreement.currency)
    ]


def _usage_priced_alike(old: QuoteLine, new: QuoteLine, was: RateCard, card: RateCard) -> bool:
    """Whether a line's royalty reports would be priced on `card` as on `was`: the
    same model (tiers, percent), discount, and prorated minimum and maximum. A line
    priced by usage may quote the same amount at the estimate and charge otherwise
    once more is reported (a tier above the estimate corrected)."""
    rules = {rule.id: rule for rule in was.rules}, {rule.id: rule for rule in card.rules}
    before, after = rules[0].get(old.rule or ""), rules[1].get(new.rule or "")
    if before is None or after is None or old.breakdown is None or new.breakdown is None:
        return before is after
    terms = ("discount_percent", "minimum_prorated", "maximum_prorated")
    return before.model == after.model and all(
        getattr(old.breakdown, name) == getattr(new.breakdown, name) for name in terms
    )


def changes_a_price(
    agreement: Agreement,
    card: RateCard,
    was: RateCard | None,
    told: Sequence[ReissuedLine],
    quote: Quote,
) -> bool:
    """Whether reissuing `agreement` on `card` changes a price (round 58): a use's
    amount moves, or a use priced by usage is priced otherwise on `card` than on
    `was`, the agreement's own card (`_usage_priced_alike`); `told` and `quote` are
    what `_repriced` made of it. A use set by hand keeps
    its amount and is not reported on, so it changes nothing either way. The rate
    card's page offers a reissue only where it does; the confirmation says first when
    it does not (round 57)."""
    if any(line.was != line.now for line in told) or was is None:
        return True
    by_hand = {line.use - 1 for line in told if line.kept}
    old = Quote.from_snapshot(agreement.quote.snapshot)
    new_lines = {line.use_index: line for line in issuing.licensed_lines(quote)}
    for line in issuing.licensed_lines(old):
        now = new_lines.get(line.use_index)
        if line.use_index in by_hand or now is None or not issuing.usage_based(line):
            continue
        if not _usage_priced_alike(line, now, was, card):
            return True
    return False


def _repriced(
    agreement: Agreement, card: RateCard, reason: str, *, named: bool = True
) -> tuple[Quote, list[dict[str, Any]], tuple[ReissuedLine, ...]]:
    """The agreement's uses and term priced on `card`, staff's amounts kept, with the
    modifications the new quote version records and each use's amounts; refused as
    the step refuses. `named=False` leaves the uses' product names out (a page's check
    of many agreements: their applications are not read)."""
    version = agreement.quote
    old = Quote.from_snapshot(version.snapshot)
    assert old.request is not None
    try:
        quote = ratecards.quote_on(card, dataclasses.replace(old.request, rate_card=card.version))
    except InvalidInput as invalid:
        problems = "; ".join(" ".join(texts) for texts in invalid.errors.values())
        raise Conflict(
            f"Agreement {agreement.number} cannot be priced on rate card {card.version}: "
            f"{problems or invalid.detail} Terminate it, giving the reason, and let the "
            "vendor apply again."
        ) from None
    licensed = [line.use_index for line in issuing.licensed_lines(old)]
    if [line.use_index for line in issuing.licensed_lines(quote)] != licensed:
        raise Conflict(
            f"Rate card {card.version} licenses other uses of agreement {agreement.number} "
            f"than rate card {agreement.rate_card} did (it routes some to the permissions "
            "queue differently), so the agreement is not reissued on it: terminate it, "
            "giving the reason, and let the vendor apply again."
        )
    kept: dict[int, Mapping[str, Any]] = {
        int(change["line"]): change
        for change in version.modifications
        if change.get("field") == "amount" and change.get("line") is not None
    }
    records: list[dict[str, Any]] = [
        {
            "field": "rate_card",
            "line": None,
            "from": agreement.rate_card,
            "to": card.version,
            "reason": reason,
        },
        # A term staff changed on approval stays the agreement's (the request has it).
        *(dict(change) for change in version.modifications if change.get("line") is None),
    ]
    lines = list(quote.lines)
    told: list[ReissuedLine] = []
    uses = agreement.application.uses if named else []
    for index in licensed:
        line, was = lines[index], old.lines[index].amount
        product = uses[index].product_name if index < len(uses) else ""
        change = kept.get(index)
        if change is not None:
            amount = Decimal(str(change["to"]))
            records.append(
                {
                    "field": "amount",
                    "line": index,
                    "from": None
                    if line.amount is None
                    else format_amount(line.amount, quote.currency),
                    "to": change["to"],
                    "reason": change["reason"],
                }
            )
            lines[index] = _amended_line(line, amount, quote.currency, str(change["reason"]))
            told.append(
                ReissuedLine(
                    index + 1,
                    product,
                    was,
                    amount,
                    f"set by hand on approval: {change['reason']}",
                    tuple(old.lines[index].explanation),
                    tuple(lines[index].explanation),
                )
            )
            continue
        if line.amount is None:
            raise Conflict(
                f"Rate card {card.version} prices no use {index + 1}"
                f"{f' ({product})' if product else ''} of agreement "
                f"{agreement.number}, so it is not reissued on it: terminate it, giving the "
                "reason, and let the vendor apply again."
            )
        told.append(
            ReissuedLine(
                index + 1,
                product,
                was,
                line.amount,
                was_working=tuple(old.lines[index].explanation),
                working=tuple(line.explanation),
            )
        )
    total = sum((line.amount for line in lines if line.amount is not None), Decimal(0))
    return dataclasses.replace(quote, lines=tuple(lines), total=total), records, tuple(told)


def _said(agreement: Agreement, card: str, quote: Quote, reason: str) -> dict[str, str]:
    """What a reissue's confirmation shows and binds."""
    return {
        "state": agreement.state,
        "card": card,
        "total": format_amount(quote.total, quote.currency),
        "reason": confirmations.digest(reason),
    }


def _standing_refusal(agreement: Agreement) -> str:
    """What `ensure_licensable` says is refused, for a reissue."""
    return f"agreement {agreement.number} is not reissued (terminate it, giving the reason)"


def _refusal(cards: Catalogue, agreement: Agreement) -> RateCard | str:
    """The refusals of a reissue before it is priced, in order (the state, the
    organization's standing, the correction), read from what is loaded: the card to
    reissue on, or why not."""
    if agreement.state != ISSUED:
        return _not_reissued(agreement)
    try:
        accounts.ensure_licensable(agreement.organization, _standing_refusal(agreement))
    except Conflict as refused:
        return refused.detail
    return _correction(cards, agreement)


def _checked(
    session: Session, agreement: Agreement, reason: str
) -> tuple[RateCard, Quote, list[dict[str, Any]], tuple[ReissuedLine, ...]]:
    """The refusals of a reissue, in order, and what it would price."""
    card = _refusal(ratecard_queries.catalogue(session), agreement)
    if isinstance(card, str):
        raise Conflict(card)
    quote, records, lines = _repriced(agreement, card, reason)
    return card, quote, records, lines


def reissue_offer(session: Session, agreement: Agreement) -> RateCard | str | None:
    """What the agreement's console page says of reissuing it (round 56): None when
    there is nothing to say (not awaiting acceptance, or its card replaced by no
    correction), the card it would be reissued on when `reissue` would go ahead now,
    else the step's refusal (a correction for part of its term, a suspended or closed
    organization, a correction pricing its uses otherwise), so the page says why
    instead of offering a press that answers 409."""
    cards = ratecard_queries.catalogue(session)
    if agreement.state != ISSUED or term_correction(cards, agreement) is None:
        return None
    card = _refusal(cards, agreement)
    if isinstance(card, str):
        return card
    try:
        _repriced(agreement, card, "")
    except Conflict as refused:
        return refused.detail
    return card


@dataclass(frozen=True)
class KeptPrices:
    """An accepted agreement priced on a card a correction replaced since (cardwalk60):
    it keeps that card's prices (its invoices and royalty reports follow it), and its
    console page says so, with what the correction would price its uses at. `card` is
    the correction that covers its whole term (None when none does: `why`), and
    `lines` and `total` its uses priced on it (empty and None when it cannot price
    them: `why`)."""

    takers: tuple[str, ...]
    since: datetime
    card: RateCard | None = None
    lines: tuple[ReissuedLine, ...] = ()
    total: Decimal | None = None
    why: str = ""
    # Round 61: which days of the term the correction prices (part of the card's
    # period, or all of it: `told.whole_card`).
    told: TermCorrection | None = None


# Accepted (the licensee's acceptance recorded): what a replaced card priced and kept.
_ACCEPTED = (ACTIVE, EXPIRED, SUPERSEDED)


def term_correction(cards: Catalogue, agreement: Agreement) -> TermCorrection | None:
    """The days of the agreement's term that cards published after its own now price
    (a correction of its card for those days), or None; None too for an agreement no
    card priced (round 68: `hand_priced.priced_by_card`), whose quote's card is the
    renewed agreement's: every sentence that follows from a correction names the
    agreement's card as the one that priced it."""
    if not _card_priced(cards, agreement):
        return None
    return cards.correction(agreement.rate_card, agreement.term_start, agreement.term_end)


def _card_priced(cards: Catalogue, agreement: Agreement) -> bool:
    return hand_priced.priced_by_card(cards.by_version(agreement.rate_card), agreement.term_start)


@dataclass(frozen=True)
class CardCorrected:
    """The correction of the card an agreement was priced on, as its licensee is told
    (cardvendor60: the console's page said so, the portal's and the API's nothing):
    the cards that now price days of its term, when the last of them was published,
    and which days (round 61: a correction for part of the card's period counts for the
    agreements whose term falls in that part, and only for them)."""

    takers: tuple[str, ...]
    since: datetime
    parts: tuple[CorrectedDays, ...] = ()
    whole_term: bool = True
    whole_card: bool = True

    @property
    def reissued_on(self) -> str | None:
        """The one card a reissue would price the whole term on, else None."""
        return self.takers[0] if self.whole_term and len(self.takers) == 1 else None


# Told to the licensee: awaiting acceptance (the office may reissue it) or accepted
# (its prices kept); a replaced agreement's reissue, and a terminated one, are not.
_TOLD = (ISSUED, *_ACCEPTED)


def card_corrected(cards: Catalogue, agreement: Agreement) -> CardCorrected | None:
    """Whether a correction replaced the card `agreement` was priced on, for its
    licensee's page and `rate_card_replaced_by`: None for a card in use, or an
    agreement neither awaiting acceptance nor accepted. Read from `cards`, so a list
    asks the catalogue once."""
    if agreement.state not in _TOLD:
        return None
    corrected = term_correction(cards, agreement)
    if corrected is None:
        return None
    return CardCorrected(
        corrected.takers,
        corrected.since,
        corrected.parts,
        corrected.whole_term,
        corrected.whole_card,
    )


DayText = Callable[[date], str]


def _iso(day: date) -> str:
    return day.isoformat()


def corrected_days(told: TermCorrection | CardCorrected, day: DayText = _iso) -> str:
    """For which days the correction was published, as the agreement's pages and the
    licensee's email say it (round 61): "for the same days" (every day of the card's
    period), else "for part of its period: every day of this agreement's term", or
    "...: this agreement's term from 2027-07-01 to 2027-12-31" (each correcting card
    named when there are several). Days in ISO unless `day` words them (emails); a
    page words them with `days_in_words`."""
    if told.whole_card:
        return "for the same days"
    if told.whole_term and len(told.takers) == 1:
        return "for part of its period: every day of this agreement's term"
    named = len(told.takers) > 1
    days = " and ".join(
        f"from {day(part.first)} to {day(part.last)}" + (f" on {part.version}" if named else "")
        for part in told.parts
    )
    return f"for part of its period: this agreement's term {days}"


def correction_told(
    agreement: Agreement, told: CardCorrected, day: DayText = _iso
) -> tuple[str, str]:
    """What the licensee is told of the correction of its agreement's card, on its page
    and in the email publishing the correction sends (round 61: one wording, so the
    two agree): what changed, and what it means for the agreement's prices. Days in ISO
    unless `day` words them (the page words them with `days_in_words`)."""
    card = agreement.rate_card
    cards = f"rate card{'s' if len(told.takers) > 1 else ''} {' and '.join(told.takers)}"
    changed = (
        f"Rate card {card}, on which this agreement was priced, was corrected on "
        f"{day(calendar.office_date(told.since))}, by {cards}, published "
        f"{corrected_days(told, day)}."
    )
    if agreement.state != ISSUED:
        prices = (
            "You accepted this agreement, so its prices stay as agreed: its invoices, and "
            f"your royalty reports for every period of its term, are priced on {card}. They "
            "change only if the licensing office issues a credit note against an invoice."
        )
    elif told.reissued_on is not None:
        prices = (
            f"This agreement's prices stay as issued on {card} unless the licensing office "
            f"reissues it on {told.reissued_on}: a new agreement, with a new number, for the "
            "same uses and term, which replaces this one, and which you would then accept "
            "instead. Accepting this one agrees to its prices as they are."
        )
    else:
        prices = (
            f"This agreement's prices stay as issued on {card}. The correction prices only "
            "part of its term on one card, and an agreement is priced on one card for its "
            "whole term, so the licensing office does not reissue it: it may end it and ask "
            "you to apply again for each part. Accepting this one agrees to its prices as "
            "they are."
        )
    return changed, prices


# How many agreements one unit of work tells (round 62): each unit holds SQLite's write
# lock, or PostgreSQL's row locks, only for its batch (bench/card_correction.py).
TELL_BATCH = 50


def correction_figures(
    cards: Catalogue, agreement: Agreement, told: CardCorrected | TermCorrection
) -> tuple[str, ...]:
    """What each card correcting the agreement's changes for its uses, against the card
    it was priced on, in the words of a card's page (round 62, correction62: the email
    and the page named no figure): "What 2027.2 changes for this agreement's uses,
    against 2027.1: Use 1: rule distribution-software: charge now ... (was ...)." or
    "2027.2 prices this agreement's uses by the same rules and discounts as 2027.1."
    Rules and figures, never a price worked out again: its prices are kept, or the
    office reissues it. The email and the page alike."""
    own = cards.by_version(agreement.rate_card)
    request = Quote.from_snapshot(agreement.quote.snapshot).request
    if own is None or request is None:
        return ()
    said = []
    for version in told.takers:
        card = cards.by_version(version)
        if card is None:
            continue
        changes = _changes_for_uses(own, card, request)
        if changes:
            said.append(
                f"What {version} changes for this agreement's uses, against "
                f"{agreement.rate_card}: {' '.join(changes)}"
            )
        else:
            said.append(
                f"{version} prices this agreement's uses by the same rules and discounts as "
                f"{agreement.rate_card}."
            )
    return tuple(said)


def _changes_for_uses(old: RateCard, new: RateCard, request: Any) -> list[str]:
    return use_changes(
        old,
        new,
        request.uses,
        request.organization_type,
        amount=PAGE.amount,
        count=PAGE.count,
        condition=PAGE.condition,
        review=PAGE.review,
    )


@dataclass
class CorrectionTold:
    """What telling a correction's licensees did (round 62): the agreements emailed, and
    those told without an email (a second correction pricing their uses as the first)."""

    emailed: list[str] = dataclasses.field(default_factory=list)
    unchanged: list[str] = dataclasses.field(default_factory=list)


def tell_card_corrected(published: PublishedCard) -> CorrectionTold:
    """Email the licensees of the agreements a card just published corrects (round 61:
    they learned it only by opening the agreement's page): every agreement awaiting
    acceptance or accepted (`card_corrected`'s) on another card, some day of whose term
    the new card now prices. To those who do the organization's licensing
    (`agreement_update`), and, for an accepted agreement, its billing contact too unless
    one of them (its invoices, and any credit note, go to them).

    Round 62 (correction62): after the card is stored, in units of `TELL_BATCH`
    agreements each (round 61 read and emailed all of them in the publishing's own
    transaction: 14 s of SQLite's write lock at 5,000 agreements, 57 s on PostgreSQL),
    each run again alone on a deadlock. Once per agreement per correction, held by
    `CorrectionNotice`, stored with the email: a telling stopped part-way is finished
    by running it again (`licensing ratecards tell VERSION`), telling no one twice. An
    agreement whose term a correction of the same days corrected already is emailed
    again only when the new card prices its uses by other rules or discounts than the
    card it was told of (its page names the newer card all the same)."""
    told = CorrectionTold()
    after: int | None = 0
    while after is not None:
        emailed, unchanged, after = db.retried_unit(
            functools.partial(_tell_batch, published, after)
        )
        told.emailed.extend(emailed)
        told.unchanged.extend(unchanged)
    return told


def _tell_batch(published: PublishedCard, after: int) -> tuple[list[str], list[str], int | None]:
    """One unit of `tell_card_corrected`: the next `TELL_BATCH` agreements after id
    `after` that the card corrects and that were not told of it; the numbers emailed,
    those told without an email, and the id to go on after (None when done)."""
    version = published.version
    with db.transaction() as session:
        cards = ratecard_queries.catalogue(session)
        picked, last = _next_to_tell(session, cards, published, after)
        found = session.scalars(
            select(Agreement)
            .where(Agreement.id.in_(picked))
            .options(joinedload(Agreement.organization), joinedload(Agreement.quote))
            .order_by(Agreement.id)
        ).all()
        # The cards as they were before this one: what each agreement was told of.
        before = Catalogue((), tuple(entry for entry in cards.entries if entry.version != version))
        office = mail.sender_address()
        readers: dict[int, account_queries.Told] = {}
        emailed: list[str] = []
        unchanged: list[str] = []
        for agreement in found:
            told = card_corrected(cards, agreement)
            if told is None:
                continue
            alike = _priced_alike(before, cards, agreement, version)
            session.add(
                CorrectionNotice(agreement_id=agreement.id, version=version, emailed=not alike)
            )
            if alike:
                unchanged.append(agreement.number)
                continue
            if agreement.organization_id not in readers:
                readers[agreement.organization_id] = vendor_told(session, agreement)
            _tell_corrected(
                session, agreement, told, office, cards, readers[agreement.organization_id]
            )
            emailed.append(agreement.number)
        if emailed or unchanged:
            audit.record_event(
                session,
                "rate_card.licensees_told",
                version,
                after={"agreements_emailed": emailed, "agreements_not_emailed": unchanged},
                actor=None,  # the caller, as the publishing's event names it
            )
    return emailed, unchanged, last


# How many candidate rows a batch reads at a time while it looks for `TELL_BATCH` that
# the card corrects (not every agreement overlapping its period is corrected by it).
_SCAN = 500


def _next_to_tell(
    session: Session, cards: Catalogue, published: PublishedCard, after: int
) -> tuple[list[int], int | None]:
    """The ids of the next `TELL_BATCH` agreements after id `after` that the card
    corrects and that were not told of it, and the id to go on after (None when none
    is left), reading `_SCAN` rows at a time (their columns only)."""
    version = published.version
    told_already = select(CorrectionNotice.id).where(
        CorrectionNotice.agreement_id == Agreement.id, CorrectionNotice.version == version
    )
    candidates = (
        select(Agreement.id, Agreement.rate_card, Agreement.term_start, Agreement.term_end)
        .where(
            Agreement.state.in_(_TOLD),
            Agreement.rate_card != version,
            Agreement.term_start <= published.effective_to,
            Agreement.term_end >= published.effective_from,
            ~told_already.exists(),
        )
        .order_by(Agreement.id)
        .limit(_SCAN)
    )
    picked: list[int] = []
    while True:
        rows = session.execute(candidates.where(Agreement.id > after)).all()
        for id_, card, start, end in rows:
            after = id_
            corrected = cards.correction(card, start, end)
            if corrected is not None and version in corrected.takers:
                picked.append(id_)
                if len(picked) == TELL_BATCH:
                    return picked, after
        if len(rows) < _SCAN:
            return picked, None


def _priced_alike(before: Catalogue, cards: Catalogue, agreement: Agreement, version: str) -> bool:
    """Whether the agreement was told of a correction of the same days already whose
    card prices its uses by the same rules and discounts as `version` (round 62: a
    second correction emailed again every licensee, whatever it changed for them)."""
    earlier = term_correction(before, agreement)
    new = cards.by_version(version)
    request = Quote.from_snapshot(agreement.quote.snapshot).request
    if earlier is None or new is None or request is None:
        return False
    for taker in earlier.takers:
        card = before.by_version(taker)
        if card is None or _changes_for_uses(card, new, request):
            return False
    return True


def _tell_corrected(
    session: Session,
    agreement: Agreement,
    corrected: CardCorrected,
    office: str,
    cards: Catalogue,
    readers: account_queries.Told,
) -> None:
    changed, prices = correction_told(agreement, corrected, calendar.day_text)
    figures = " ".join(correction_figures(cards, agreement, corrected))
    ask = (
        f"Nothing needs doing now. To ask about the correction and your prices, contact the "
        f"licensing office at {office} (or reply to this email), naming agreement "
        f"{agreement.number}."
    )
    headline = f"its rate card {agreement.rate_card} was corrected"
    message = f"{changed} {prices} {figures} {ask}".replace("  ", " ")
    news: list[tuple[list[str], bool, Sequence[str], str]] = [
        (readers.to, readers.stand_in, readers.names, message)
    ]
    contact = agreement.organization.billing_email
    if agreement.state != ISSUED and contact.lower() not in {a.lower() for a in readers.to}:
        news.append(([contact], False, (agreement.organization.billing_contact_name,), message))
    _agreement_news(session, agreement, headline, news, "#card-corrected")


def corrected_among(session: Session, ids: Sequence[int]) -> frozenset[int]:
    """Of the agreements `ids` (a card's page's rows), those some day of whose term a
    later card now prices (round 61: the page of a card corrected for part of its
    period tells them from the others), in one statement."""
    if not ids:
        return frozenset()
    cards = ratecard_queries.catalogue(session)
    rows = session.execute(
        select(Agreement.id, Agreement.rate_card, Agreement.term_start, Agreement.term_end).where(
            Agreement.id.in_(ids)
        )
    )
    return frozenset(
        id_ for id_, card, start, end in rows if cards.correction(card, start, end) is not None
    )


def kept_prices(session: Session, agreement: Agreement) -> KeptPrices | None:
    """What an accepted agreement's console page says of its card replaced by a
    correction (cardwalk60: the page named its card alone, and the card's page said
    "accepted: its fees stay", while every royalty report of the term is priced on the
    wrong card), or None for any other agreement: the replacing cards, when, and its
    uses priced on the correction as a reissue would price them (staff's amounts
    kept), so the office can credit the difference or terminate it."""
    if agreement.state not in _ACCEPTED or agreement.activated_at is None:
        return None
    cards = ratecard_queries.catalogue(session)
    corrected = term_correction(cards, agreement)
    if corrected is None:
        return None
    takers, since, told = corrected.takers, corrected.since, corrected
    card = _correction(cards, agreement)
    if isinstance(card, str):
        return KeptPrices(takers, since, why=card, told=told)
    try:
        quote, _records, lines = _repriced(agreement, card, "")
    except Conflict as refused:
        return KeptPrices(takers, since, card, why=refused.detail, told=told)
    return KeptPrices(takers, since, card, lines, quote.total, told=told)


def reissue_refusals(session: Session, agreements: Sequence[Agreement]) -> dict[int, str | None]:
    """For each agreement awaiting acceptance among `agreements`, by id: None when
    `reissue` would go ahead now, else why not (its 409's detail), so `allowed_actions`
    lists `reissue` only where the step is allowed (round 56: it listed it for every
    issued agreement)."""
    return _refused(session, agreements)


def _refused(
    session: Session, agreements: Sequence[Agreement], alike: set[int] | None = None
) -> dict[int, str | None]:
    """For each agreement awaiting acceptance among `agreements`, by id: None when
    `reissue` would go ahead now, else why not; those that would go ahead and change
    no price (`changes_a_price`) added to `alike` where given. In statements that do
    not grow with the agreements: the catalogue of published cards (one, or none while
    it is current) and the quote versions of those whose card a correction replaced
    (one); their organizations are the ones loaded with them (the lists join them),
    and each is priced in memory."""
    issued = [agreement for agreement in agreements if agreement.state == ISSUED]
    if not issued:
        return {}
    cards = ratecard_queries.catalogue(session)
    refusals: dict[int, str | None] = {}
    priced: list[tuple[Agreement, RateCard]] = []
    for agreement in issued:
        card = _refusal(cards, agreement)
        if isinstance(card, str):
            refusals[agreement.id] = card
        else:
            priced.append((agreement, card))
    # Into the session, where each `agreement.quote` then finds its own (held here: the
    # session keeps only weak references to what it loaded).
    quotes = (
        session.scalars(
            select(QuoteVersion).where(
                QuoteVersion.id.in_(sorted({agreement.quote_id for agreement, _ in priced}))
            )
        ).all()
        if priced
        else []
    )
    for agreement, card in priced:
        try:
            quote, _records, told = _repriced(agreement, card, "", named=False)
        except Conflict as refused:
            refusals[agreement.id] = refused.detail
        else:
            refusals[agreement.id] = None
            if alike is not None and not changes_a_price(
                agreement, card, cards.by_version(agreement.rate_card), told, quote
            ):
                alike.add(agreement.id)
    del quotes
    return refusals


def check_reissue(
    agreement_id: int, reason: str | None, actor: Actor, *, now: datetime | None = None
) -> Reissue:
    """Licensing staff: what `reissue` would issue, refused as it refuses (the reason,
    the agreement's state, the organization's standing, the correction), writing
    nothing; with the signed confirmation that reissues exactly that."""
    actor, moment = _licensing_step(actor, now)
    text = _reason(reason)
    assert text is not None
    session = db.session()
    agreement = session.get(Agreement, agreement_id)
    if agreement is None or not actor.may_see(agreement.organization_id):
        raise NotFound(f"There is no agreement {agreement_id}.")
    card, quote, _records, lines = _checked(session, agreement, text)
    version = agreement.quote
    old = Quote.from_snapshot(version.snapshot)
    was = ratecard_queries.catalogue(session).by_version(agreement.rate_card)
    return Reissue(
        number=agreement.number,
        organization=agreement.organization.legal_name,
        was_card=agreement.rate_card,
        card=card.version,
        currency=quote.currency,
        was_total=agreement.total,
        total=quote.total,
        was_due=issuing.due_on_acceptance(old),
        due=issuing.due_on_acceptance(quote),
        lines=lines,
        reason=text,
        confirmation=CONFIRMATION.sign(
            agreement.id, actor, moment, _said(agreement, card.version, quote, text)
        ),
        changes_price=changes_a_price(agreement, card, was, lines, quote),
    )


def reissue(
    agreement_id: int,
    reason: str | None,
    actor: Actor,
    *,
    policy: IssuingPolicy,
    confirmation: str | None = None,
    now: datetime | None = None,
) -> Agreement:
    """Reissue an unaccepted agreement on the card that corrected its own: the new
    agreement (issued, audited, the licensee emailed to accept it), the old one
    `replaced`. With `confirmation` (the console's), refused when it is not what was
    shown (400) or the price or card moved since (409), nothing done. The agreement's
    payment terms are kept; `policy` gives the rest (`long_card_days`)."""
    actor, moment = _licensing_step(actor, now)
    text = _reason(reason)
    assert text is not None
    with db.transaction() as session:
        old = _owned(session, Agreement, agreement_id, actor)
        shown = (
            None if confirmation is None else CONFIRMATION.read(confirmation, old.id, actor, moment)
        )
        if shown is not None and shown.get("reason") != confirmations.digest(text):
            raise CONFIRMATION.refused("the reason posted is not the one shown to confirm")
        card, quote, records, _lines = _checked(session, old, text)
        if shown is not None and (now_said := _said(old, card.version, quote, text)) != shown:
            changed = [
                f"{name} {shown.get(name, 'not known')} then, {now_said[name]} now"
                for name in ("card", "total")
                if shown.get(name) != now_said[name]
            ]
            raise Conflict(
                f"Not reissued: the price of agreement {old.number} on the corrected card "
                f"changed after it was shown to confirm ({'; '.join(changed) or 'read again'}). "
                "Nothing was issued: reissue it again to confirm it as it is now."
            )
        application = session.get(Application, old.application_id, with_for_update=True)
        assert application is not None
        # Round 56: the standing read again under the organization's lock, before the
        # new number (the lock order), as an approval and an acceptance read it: a
        # closing committed since `_checked` read it left a closed organization with
        # a new agreement to accept (`test_reissue_standing.py`). FOR NO KEY UPDATE,
        # as every step's since round 57: the reissue writes no key of it.
        accounts.ensure_licensable(
            accounts.locked_organization(session, old.organization_id),
            _standing_refusal(old),
        )
        AGREEMENT.apply(
            session,
            old,
            "reissue",
            actor=actor,
            note=text,
            changes={"rate_card": card.version},
            at=moment,
        )
        version = _store_quote(
            session,
            application,
            quote,
            kind=MODIFIED,
            actor=actor,
            now=moment,
            modifications=records,
        )
        kept = dataclasses.replace(
            policy,
            payment_terms_days=old.payment_terms_days,
            late_fee_monthly_percent=old.late_fee_monthly_percent,
        )
        new, document = _issue_agreement(
            session, application, version, actor, kept, moment, reissue_of=old
        )
        prorated = "".join(f" {sentence}" for sentence in document.proration_warnings)
        _tell_vendor(
            session,
            new,
            f"reissued on rate card {card.version} in place of {old.number}, ready to accept",
            f"Agreement {old.number} was priced on rate card {old.rate_card}, which the "
            f"licensing office has since corrected with rate card {card.version}. It is "
            f"withdrawn unaccepted and can no longer be accepted: license agreement "
            f"{new.number} replaces it, priced on the corrected card, for "
            f"{day_text(version.term_start)} to {day_text(version.term_end)}, total "
            f"{in_words(version.total, version.currency)} (it was "
            f"{in_words(old.total, old.currency)}){_what_is_charged(version)}.{prorated} "
            f"The office's reason: {text} Read it and accept it online to make it active.",
            agreement_link=links().agreement(new.id),
        )
        return new


@dataclass(frozen=True)
class ReissueOffers:
    """Of a replaced card's agreements awaiting acceptance, those `reissue` would
    reissue now changing a price (`reissuable`), and those it would reissue changing
    none (`unchanged`, round 58: the rate card's page offered them a reissue too)."""

    reissuable: frozenset[int] = frozenset()
    unchanged: frozenset[int] = frozenset()


def reissue_offers(session: Session, ids: Sequence[int]) -> ReissueOffers:
    """The `ReissueOffers` of the agreements `ids` (a replaced card's page's rows),
    read with their organizations in one statement."""
    if not ids:
        return ReissueOffers()
    found = session.scalars(
        select(Agreement).where(Agreement.id.in_(ids)).options(joinedload(Agreement.organization))
    ).all()
    alike: set[int] = set()
    refusals = _refused(session, found, alike)
    return ReissueOffers(
        reissuable=frozenset(
            id_ for id_, refused in refusals.items() if refused is None and id_ not in alike
        ),
        unchanged=frozenset(alike),
    )

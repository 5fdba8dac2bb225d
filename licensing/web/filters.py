"""Jinja filters for the way pages show money, time and the pricing vocabulary."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal
from fractions import Fraction
from typing import Any

from flask import Flask
from markupsafe import Markup, escape

from licensing import calendar, db, words
from licensing.money import (
    MoneyError,
    figures_grouped,
    format_grouped,
    format_quantity,
)
from licensing.pricing.ratecard import day_words, days_words, period_length_words, period_words
from licensing.words import (
    audience_words,
    end_sentence,
    humanize,
    organization_type_words,
    product_type_words,
    state_label,
    state_text,
    term_share_words,
    use_described,
    use_words,
    user_type_words,
    vocab,
    working_in_words,
)


def money(amount: Decimal | None, currency: str = "USD") -> str:
    """`33800` -> `33,800.00`: exact minor-unit digits, thousands separated."""
    if amount is None:
        return "—"
    try:
        return format_grouped(Decimal(amount), currency)
    except MoneyError:
        return str(amount)


def when(value: datetime | date | None) -> str:
    """An instant at the office, as deadlines are (`calendar.instant_text`); a day
    as YYYY-MM-DD."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return calendar.instant_text(value)
    return value.isoformat()


def day(value: date | datetime | None) -> str:
    """A day in words, as emails and PDFs write it (`calendar.day_text`: "December 6,
    2026"); an instant's day at the office."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = calendar.office_date(value)
    return calendar.day_text(value)


def month(value: date | None) -> str:
    """The month of a day, in words: "December 2026" (`calendar.month_text`)."""
    return "—" if value is None else calendar.month_text(value)


def moment(value: datetime | None, seconds: bool = False) -> str:
    """An instant in words at the office, its zone named, as emails write it
    (`calendar.moment_text`: "December 5, 2026 at 11:38 PM (US Central time)");
    `seconds` where two in one minute must read apart (a card payment's start)."""
    return "—" if value is None else calendar.moment_text(value, seconds=seconds)


def dated(value: date | datetime | None) -> Markup | str:
    """A day in a page's sentence or fact (round 57): in words, as emails and PDFs
    write it, inside a `<time>` whose `datetime` keeps the ISO day for machines:
    `<time datetime="2027-01-31">January 31, 2027</time>`; an instant's day at the
    office. Tables' cells keep `when` (YYYY-MM-DD, which sorts as it reads)."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = calendar.office_date(value)
    return Markup('<time datetime="{}">{}</time>').format(
        value.isoformat(), calendar.day_text(value)
    )


def timed(value: datetime | date | None) -> Markup | str:
    """An instant in a page's sentence or fact (round 57): in words at the office, its
    zone named (`calendar.moment_text`), inside a `<time>` whose `datetime` is the
    instant in UTC, ISO 8601; a day alone as `dated` says it."""
    if value is None:
        return "—"
    if not isinstance(value, datetime):
        return dated(value)
    return Markup('<time datetime="{}">{}</time>').format(
        calendar.instant_iso(value, to_the_second=True), calendar.moment_text(value)
    )


# A day, a month or an instant as a service's message writes it (round 58): one message
# goes to the API's problem documents, the command line and the pages, and the first two
# read ISO 8601 ("the term ends on 2027-06-30", "dated 2026-11-28", "started 2026-12-05
# 23:38:07 (US Central time)", "2027-02-10T15:00:00+00:00", "2027-03"). Markup already in
# a message (a `<time>` said by `dated`) is kept as it is, so wording twice changes nothing.
# Not worded: a day or a month given as what to type ("takes a month such as 2027-03",
# "e.g. 2027-01-31") or quoted as it was typed ("the link gave “2027-03”").
_AS_TYPED = r"(?<!such as )(?<!e\.g\. )(?<!for example )(?<!\u201c)(?<!\u2018)(?<!&#34;)(?<!&#39;)"
_MESSAGE_DAYS = re.compile(
    r"<[^>]*>"
    r"|" + _AS_TYPED + r"(?<![\w-])(?P<day>[0-9]{4}-[0-9]{2}-[0-9]{2})"
    r"(?:(?:T(?P<utc>[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)(?:\+00:00|Z))"
    r"|(?: (?P<office>[0-9]{2}:[0-9]{2}(?::[0-9]{2})?) \(US Central time\)))?"
    r"(?![\w-])"
    r"|" + _AS_TYPED + r"(?<![\w-])(?P<month>[0-9]{4}-[0-9]{2})(?![\w-])"
)


def _said_in_words(found: re.Match[str], *, after_at: bool = False) -> tuple[str, str] | None:
    """One day, month or instant of a message: its ISO value for a `<time>` and its
    words (as `dated`, `timed` and `month` say them); None for what stays as written:
    markup, and what is no real day ("2027-13-45", typed and refused). An instant
    `after_at` says its clock first ("at 10:00 AM on March 15, 2027 (US Central
    time)"; round 59: "at March 15, 2027 at 10:00 AM")."""
    try:
        if found.group("month"):
            year, number = found.group("month").split("-")
            first = date(int(year), int(number), 1)
            return found.group("month"), calendar.month_text(first)
        if found.group("day") is None:
            return None  # markup kept as it is
        day_ = date.fromisoformat(found.group("day"))
        clock = found.group("utc") or found.group("office")
        if clock is None:  # as `dated` says it
            return day_.isoformat(), calendar.day_text(day_)
        zone = calendar.OFFICE_TIMEZONE if found.group("office") else UTC
        moment_ = datetime.combine(day_, time.fromisoformat(clock), tzinfo=zone)
    except ValueError:
        return None
    # To the second where the message was (a card payment's start names its second).
    seconds = (found.group("office") is not None and clock.count(":") > 1) or moment_.second > 0
    return (
        calendar.instant_iso(moment_, to_the_second=True),
        calendar.moment_text(moment_, seconds=seconds, clock_first=after_at),
    )


def days_in_words(message: str | None) -> Markup:
    """A service's message as a page says it (round 58): each day, month or instant it
    writes in ISO 8601 for the API and the command line, in words inside a `<time>`
    that keeps the ISO value ("can be renewed from <time datetime="2027-10-02">October
    2, 2027</time>"). The web edge words them, where a message reaches a page (flashes,
    the error page, a form's and a filter's errors): the services keep writing one
    message, and a message added later is worded without its raise site knowing."""
    if message is None:
        return Markup("")
    text = escape(message)  # a text escaped once; a message already markup, as it is
    pieces: list[Markup] = []
    written = 0
    for start, end, (value, said) in _worded(text):
        time_ = Markup('<time datetime="{}">{}</time>').format(value, said)
        pieces += [text[written:start], time_]
        written = end
    pieces.append(text[written:])
    return Markup("").join(pieces)


def days_said(message: str) -> str:
    """`days_in_words` as plain text, for a page's script that shows a message as text
    (round 59: the card payment's refusals reached the pay page's script in ISO,
    "already paid on 2027-03-02"): the days in words, nothing escaped, no markup."""
    pieces: list[str] = []
    written = 0
    for start, end, (_value, said) in _worded(message):
        pieces += [message[written:start], said]
        written = end
    pieces.append(message[written:])
    return "".join(pieces)


# "at" ending the text before an instant: its clock is said first (`_said_in_words`).
_AT_BEFORE = re.compile(r"(?<!\w)at $")


def _worded(text: str) -> Iterator[tuple[int, int, tuple[str, str]]]:
    """Where each day, month or instant of `text` is, with its ISO value and words."""
    for found in _MESSAGE_DAYS.finditer(text):
        after_at = _AT_BEFORE.search(text, max(0, found.start() - 4), found.start()) is not None
        said = _said_in_words(found, after_at=after_at)
        if said is not None:
            yield found.start(), found.end(), said


def working(step: str) -> str:
    """A step of a quote's working in a vendor's words (`words.working_in_words`,
    as documents print it)."""
    return working_in_words(step)


# What a step of a line's working prorates, by how the step begins (the core marks
# each prorated figure "(prorated)": a flat fee, a part's flat fee, a minimum, a maximum).
_PRORATED = (("minimum ", "minimum"), ("maximum ", "maximum"))
# A step that computes a royalty on usage, which the contract never prorates.
_ON_USAGE = re.compile(r"% of revenue |, (?:graduated|volume): ")


def _uses(numbers: list[int]) -> str:
    listed = [str(number) for number in numbers]
    if len(listed) == 1:
        return f"use {listed[0]}"
    return f"uses {', '.join(listed[:-1])} and {listed[-1]}"


def proration(quote: Any) -> str:
    """A quote's proration in words, with what it applies to: the contract prorates
    flat fees (with `prorate`) and minimums and maximums, never a royalty on units or
    revenue, so "prorated to 8.5% of the rate card period" beside a percent of revenue
    sent an analyst looking for a proration in it (round 37). Read from each line's
    working, which marks every prorated figure, so it names exactly those lines."""
    factor = Fraction(quote.proration)
    if factor == 1:
        return "the whole rate card period (no proration)"
    prorated: dict[str, list[int]] = {"flat fee": [], "minimum": [], "maximum": []}
    on_usage: list[int] = []
    for line in quote.lines:
        number = line.use_index + 1
        for step in line.explanation:
            if "(prorated)" in step:
                what = next((w for start, w in _PRORATED if step.startswith(start)), "flat fee")
                if number not in prorated[what]:
                    prorated[what].append(number)
            elif _ON_USAGE.search(step) and number not in on_usage:
                on_usage.append(number)
    # Round 50: the days and the fraction the working multiplies by, not a rounded
    # percentage alone ("33.4%" of 1,000.00 is not the 334.25 the minimum comes to).
    request = getattr(quote, "request", None)
    term = term_share_words(request.term.days if request is not None else None, factor)
    parts = [
        f"the {what}{'' if len(numbers) == 1 else 's'} of {_uses(numbers)}"
        for what, numbers in prorated.items()
        if numbers
    ]
    if not parts:
        return f"{term}; no use has a flat fee, minimum or maximum to prorate"
    said = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
    one = len(parts) == 1 and sum(map(len, prorated.values())) == 1
    text = f"{term}: {said} {'is' if one else 'are'} prorated to it"
    if len(on_usage) == 1:
        text += f"; the royalty on usage of {_uses(on_usage)} is not"
    elif on_usage:
        text += f"; the royalties on usage of {_uses(on_usage)} are not"
    return text


def deadline(value: datetime | None) -> str:
    """A deadline at the office, in its time zone (`calendar.deadline_text`)."""
    return "—" if value is None else calendar.deadline_text(value)


# Audit fields holding a deadline (stored as its UTC instant, the end of an office day).
DEADLINE_FIELDS = frozenset(
    {"sla_due_at", "answer_due_at", "reconsideration_due_at", "resubmit_by", "reconsider_by"}
)


# (entity type, field) -> the words a form shows for a vocabulary value the audit
# stores ("course_materials" -> "Course materials"), registered by each feature.
_RECORDED_WORDS: dict[tuple[str, str], Callable[[Any], str]] = {}


def recorded_words(entity_type: str, fields: Iterable[str], words: Callable[[Any], str]) -> None:
    """Let histories of `entity_type` show `fields`' values as `words(value)` (of a
    list, each item's words); a feature registers it at import, so this module
    imports none of them."""
    for field in fields:
        _RECORDED_WORDS[(entity_type, field)] = words


# (entity type, field) of the amounts an audit event records beside its `currency`.
_RECORDED_AMOUNTS: set[tuple[str, str]] = set()
# Round 67 (staff67): the fields any record's audit events keep an amount in, whatever
# its entity ("total: — → 39800.00" under a table saying 39,800.00 USD). A value is an
# amount only as a plain decimal ("39800.00", 0): a flag, a day or words stay as stored.
MONEY_FIELDS = frozenset(
    {
        "total",
        "amount",
        "amount_paid",
        "amount_refunded",
        "amount_credited",
        "amount_due",
        "paid",
        "credited",
        "refunded",
        "balance",
        "outstanding",
        "subtotal",
        "remaining",
        "total_due",
        "balance_due",
        "refund_due",
        "refund_outstanding",
        "amount_received",
        "royalty_net",
        "royalty_credited",
        "opening_balance",
        "closing_balance",
        "total_before",
        "total_after",
        "late_fee",
    }
)
_PLAIN_DECIMAL = re.compile(r"-?\d+(?:\.\d+)?")


def recorded_amounts(entity_type: str, fields: Iterable[str]) -> None:
    """Let histories of `entity_type` show `fields` as amounts too (`MONEY_FIELDS`
    names those of every record), whatever digits a row stored (rows are never
    rewritten)."""
    _RECORDED_AMOUNTS.update((entity_type, field) for field in fields)


# entity type -> a statement of (id, currency) of its records with the given ids: an
# event's amounts read in its record's currency where the event kept none (round 67).
_RECORDED_CURRENCIES: dict[str, Callable[[list[int]], Any]] = {}


def recorded_currencies(entity_type: str, statement: Callable[[list[int]], Any]) -> None:
    """Let histories say the amounts of `entity_type`'s events in their record's currency:
    `statement(ids)` selects (id, currency) of its records; a feature registers it at
    import, as `recorded_words`."""
    _RECORDED_CURRENCIES[entity_type] = statement


def history_currencies(events: Sequence[Any]) -> dict[tuple[str, str], str]:
    """The currency of each event's record, by (entity type, entity id), for the types
    registered: one statement a type, whatever the events' number."""
    wanted: dict[str, set[int]] = {}
    for event in events:
        if event.entity_type in _RECORDED_CURRENCIES and str(event.entity_id).isdigit():
            wanted.setdefault(event.entity_type, set()).add(int(event.entity_id))
    found: dict[tuple[str, str], str] = {}
    session = db.session()
    for entity_type, ids in wanted.items():
        for record_id, currency in session.execute(_RECORDED_CURRENCIES[entity_type](sorted(ids))):
            if currency:
                found[(entity_type, str(record_id))] = currency
    return found


def recorded_amount(value: object, currency: str | None) -> str:
    """The one helper a history, audit trail and event list says a recorded amount
    with: as the page's figures, "39,800.00 USD" (grouped, the currency's minor-unit
    digits and its code); without a known currency grouped as stored ("39,800.00")."""
    text = str(value)
    if currency:
        try:
            return f"{format_grouped(Decimal(text), currency)} {currency}"
        except (ArithmeticError, ValueError, MoneyError):
            return text
    return figures_grouped(text)


def _is_amount(value: object, name: str, entity_type: str) -> bool:
    if name not in MONEY_FIELDS and (entity_type, name) not in _RECORDED_AMOUNTS:
        return False
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        return False
    return _PLAIN_DECIMAL.fullmatch(str(value)) is not None


def state_words(
    state: str | None, entity_type: str, field: str = "state", *, label: bool = False
) -> str:
    """A record's `state` (its `field`) in the words its state machine says it in, as
    registered with `recorded_words` (`StateMachine.state_text`: "waiting for the
    requester's information"), so its badge, a filter's option and a sentence say
    what its history and refusals say; else the state with spaces. As a `label` (a
    badge, an option) without the article a sentence needs: "a draft" -> "draft"."""
    value = state or ""
    words = _RECORDED_WORDS.get((entity_type, field))
    text = words(value) if words is not None else state_text(value)
    return state_label(text) if label else text


def audit_value(
    value: object, name: str = "", entity_type: str = "", currency: str | None = None
) -> str:
    """A value an audit event recorded, as a history shows it: a deadline at the
    office ("the end of Tuesday, December 8, 2026 (US Central time)"), any other
    instant at the office to the minute ("2026-12-01 08:05 (US Central time)"), a
    list as its items ("billing, licensing", or "none"), a flag as "yes" or "no",
    a registered vocabulary value (or record: each item of a list) in the form's
    words, an amount (`MONEY_FIELDS`, or registered) as the page's figures with its
    event's `currency` ("750.0000" stored before round 28 reads "750.00 USD"; round 67:
    `recorded_amount`), everything else as stored."""
    if _is_amount(value, name, entity_type):
        return recorded_amount(value, currency)
    words = _RECORDED_WORDS.get((entity_type, name))
    # A record's id is an int (a moved user's organization); a flag is not one.
    if words is not None and isinstance(value, str | int) and not isinstance(value, bool):
        return words(value)
    if words is not None and isinstance(value, list):
        return "; ".join(words(item) for item in value) or "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(audit_value(item) for item in value) or "none"
    if isinstance(value, str) and "T" in value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.tzinfo is not None:
            return deadline(moment) if name in DEADLINE_FIELDS else when(moment)
    return str(value)


def action_words(action: str) -> str:
    """An audited step as a record's history names it: `application.quote_stored`
    -> "Application quote stored" (the audit log's own column and filter keep the
    stored name, which is what its filter takes)."""
    return vocab(action.replace(".", " "))


def office_day(value: datetime | None) -> str:
    """The office's date of an instant (a deadline's day, for a table's cell): the end
    of an office day is already the next day in UTC."""
    return "—" if value is None else calendar.office_date(value).isoformat()


# Labels of fields whose errors come back by path (services, hand-built forms), in
# the words their pages use. A path's parts are looked up here, else read as words.
FIELD_LABELS = {
    "contacted_on": "Day of the contact",
    "attest": "Confirmation that the information is accurate",
    "authority_confirmed": "Authority to sign",
    "signer_name": "Your name",
    "signer_title": "Your title",
    "term": "The term",
    "term_start": "Term starts",
    "term_end": "Term ends",
    "term_reason": "Reason for a change of term",
    "start": "starts",
    "end": "ends",
    "rate_card": "Rate card",
    "action": "Decision",
    "reason": "Reason",
    "amount": "Amount",
    "assignee_id": "Assigned to",
    "body": "Note",
    "lines": "Prices of the uses",
    "uses": "Uses",
    "revenue": "Expected annual revenue",
    "quantity": "Expected number of",
    "term.start": "License term starts",
    "term.end": "License term ends",
    # The application form's fields, as its labels read ("Use 1 > Product name").
    "product_name": "Product name",
    "product_type": "Product type",
    "user_type": "Who uses the product",
    "delivery": "Delivery",
    "territories": "Territories",
    "languages": "Languages",
    # The answer a vendor gives when resubmitting a returned application.
    "response": "Your answer to the licensing office",
}
# A collection's items are numbered from 1, as the forms number them ("Use 1").
_ITEM_NAMES = {"uses": "Use", "lines": "Use", "rows": "Row"}
# `reason-0`, `amount-2`: a per-use input of a hand-built form.
_PER_ITEM = re.compile(r"^([a-z_]+)-([0-9]+)$")  # ASCII digits: int() reads others too
# Wording meant for API clients, and what a page says instead.
_PAGE_WORDING = (
    ("; name one with rate_card.", "; choose a published rate card for the term."),
    ("rate_card", "rate card"),
)


_SEPARATOR = " \N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK} "


def field_words(path: str) -> str:
    """`uses.0.quantity.end_users` -> `Use 1 > expected number of end users` (with a
    typographic angle); `reason-0` -> `Use 1 > Reason`; `_` (the whole form) -> ``."""
    if path in ("", "_", "__all__"):
        return ""
    if path in FIELD_LABELS:
        return FIELD_LABELS[path]
    per_item = _PER_ITEM.match(path)
    if per_item:
        name, index = per_item.groups()
        return f"Use {int(index) + 1}{_SEPARATOR}{FIELD_LABELS.get(name, vocab(name))}"
    words: list[str] = []
    parts = path.split(".")
    for position, part in enumerate(parts):
        if _is_index(part):
            collection = parts[position - 1] if position else ""
            words.append(f"{_ITEM_NAMES.get(collection, 'Item')} {int(part) + 1}")
        elif position + 1 < len(parts) and _is_index(parts[position + 1]):
            continue  # named by its item: "Use 1", not "Uses, Use 1"
        elif position and parts[position - 1] == "quantity":
            words[-1] = f"{words[-1]} {humanize(part)}"
        else:
            words.append(FIELD_LABELS.get(part, humanize(part)))
    text = _SEPARATOR.join(words)
    return text[:1].upper() + text[1:]


def _is_index(part: str) -> bool:
    """An item's index in a field path: ASCII digits only ("²" is a digit to
    str.isdigit() and a ValueError to int(); a posted name may hold anything)."""
    return part.isascii() and part.isdigit()


# The pricing core's refusal of a missing quantity or revenue, in the API's words
# (recorded: `tests/unit/pricing/recorded_quotes.json`), said as a sentence on a page:
# "required by rule distribution-software: the number of end_users".
_MISSING_QUANTITY = re.compile(r"^required by rule (\S+): the number of (\w+)$")
_MISSING_REVENUE = re.compile(r"^required by rule (\S+), which charges a share of revenue$")


def page_wording(message: str) -> str:
    """A service's message as a page should say it (no API field names, its days in
    words: `days_in_words`); what to do about it is the service's to say
    (`ratecards.services.term_advice`), in words both edges share."""
    if found := _MISSING_QUANTITY.match(message):
        rule, unit = found.groups()
        return f"Required: rule {rule} prices this use by the number of {humanize(unit)}."
    if found := _MISSING_REVENUE.match(message):
        return f"Required: rule {found.group(1)} charges a share of the revenue."
    for api, page in _PAGE_WORDING:
        message = message.replace(api, page)
    return days_in_words(message)


# The templates' filters, by the names they use.
def card_period(card: Any, *, days: bool = False) -> str:
    """A rate card's period (a `RateCard` or its stored record) in words, "open-ended"
    for a card with no last day (`pricing.ratecard.period_words`); `days=True` adds
    its length."""
    words = period_length_words if days else period_words
    return words(card.effective_from, card.effective_to)


def isolated(value: object) -> Markup | str:
    """A name (an organization's, a person's, a product's) as a page shows it in a
    sentence or a cell: inside `<bdi>`, so that a name in Arabic or Hebrew keeps its
    own direction and the words, brackets and punctuation around it keep theirs
    (round 61): "Royalty for مترجم الرموز (rule translation)" read as typed rather than
    the bracket pulled to the name's end. Escaped as any value; None or empty as it is.
    Not for a title, an attribute or an option, whose text takes no markup.

    Round 62: only a name holding a right-to-left letter (`words.right_to_left`); any
    other is printed as it is, as it cannot reorder the sentence (the pages of Latin,
    Greek, CJK or Devanagari names are the markup they were before round 61)."""
    if value is None or value == "":
        return ""
    if not words.right_to_left(str(value)):
        return escape(value)
    return Markup("<bdi>{}</bdi>").format(value)


FILTERS: dict[str, Callable[..., Any]] = {
    "field_words": field_words,
    "page_wording": page_wording,
    # A service's message where it reaches a page (round 58): its ISO days in words.
    "days_in_words": days_in_words,
    "money": money,
    "quantity": format_quantity,
    "audience": audience_words,
    "when": when,
    # What leaves the service for people (emails; PDFs call `calendar` directly) says
    # its days, months and instants in words (round 56); pages and tables keep `when`.
    "day": day,
    "month": month,
    "moment": moment,
    # Pages' sentences and facts (round 57): the same words, in a `<time>` element
    # that keeps the ISO value; tables' cells keep `when`.
    "dated": dated,
    "timed": timed,
    "humanize": humanize,
    "action_words": action_words,
    "vocab": vocab,
    "use_words": use_words,
    # The classification axes in their forms' words (`words.AXIS_LABELS`), round 37;
    # `organization_type` since round 36.
    "organization_type": organization_type_words,
    "product_type_words": product_type_words,
    "user_type_words": user_type_words,
    "working": working,
    "proration": proration,
    "end_sentence": end_sentence,
    "deadline": deadline,
    "office_day": office_day,
    "audit_value": audit_value,
    "state_words": state_words,
    # A rate card's period and days in words: never the open-ended card's 9999-12-31.
    "card_period": card_period,
    "card_day": day_words,
    "card_days": days_words,
    # A name in a sentence or a cell, isolated in its own direction (round 61).
    "isolated": isolated,
    # The same in an email's plain text (round 62): FSI ... PDI round a right-to-left name.
    "apart": words.apart,
}


GREETING_NAMES = 3  # an email to more people than this greets none of them by name


def greeting(names: Sequence[str] | None) -> str:
    """An email's first line to the people it is sent to: "Hello Layla Mansour,",
    "Hello Layla and Kenji,", "Hello A, B and C,"; "Hello," where no name is known,
    or for more people than `GREETING_NAMES` (round 61: members were greeted "Hello,"
    while the billing contact was named). A right-to-left name is set `apart` (round
    62), so its comma stays after it."""
    named = [words.apart(name.strip()) for name in names or () if name and name.strip()]
    if not named or len(named) > GREETING_NAMES:
        return "Hello,"
    if len(named) == 1:
        return f"Hello {named[0]},"
    return f"Hello {', '.join(named[:-1])} and {named[-1]},"


def register(app: Flask) -> None:
    app.jinja_env.filters.update(FILTERS)
    app.jinja_env.globals["greeting"] = greeting
    app.jinja_env.globals["history_currencies"] = history_currencies
    # A licensed use in one phrase, in its axes' words, as the agreement says it.
    app.jinja_env.globals["use_described"] = use_described
    # A rule beside what it prices: "description; rule id", in one order everywhere.
    app.jinja_env.globals["rule_named"] = words.rule_named

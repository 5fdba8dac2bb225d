"""Staff pages: published rate cards in plain words, differences between versions,
and publishing a card from a file (admins)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import date
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf.file import FileField, FileRequired
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as BaseResponse
from wtforms import HiddenField
from wtforms.validators import DataRequired

from licensing import access, arguments, calendar, db, errors, limits, words
from licensing.accounts.queries import people_of
from licensing.agreements import card_effect, priced_on
from licensing.agreements import services as agreement_services
from licensing.config import current_config
from licensing.db import utcnow
from licensing.money import format_quantity, price_in_words
from licensing.pricing import Condition, Quote, RateCard, describe_rule, diff_cards
from licensing.pricing.describe import (
    PriceChangeWarning,
    ProrationWarning,
    long_period_words,
    plain_ratio,
    proration_warnings,
)
from licensing.ratecards import queries, services
from licensing.ratecards.models import RateCardRecord
from licensing.web import paging
from licensing.web.forms import PageForm
from licensing.words import AXIS_NAMES, condition_words, counted, in_a_sentence, review_words

bp = Blueprint("ratecards_console", __name__, url_prefix="/console/rate-cards")

STAFF = ("licensing", "billing", "admin")
MAX_CARD_BYTES = 1_000_000


@bp.app_template_global("rule_description")
def rule_description(version: str | None, rule_id: str | None) -> str:
    """A rule's `description` on the card published as `version`, as people read a
    rule (round 37: quotes named it by its id, "distribution-software", since round
    1); empty when the card or rule is unknown or the rule has none, and the page says
    the id instead. Read from the parsed published cards each process keeps."""
    return queries.rule_description(db.session(), version, rule_id)


@bp.app_template_global("quote_warnings")
def quote_warnings(quote: Quote) -> list[ProrationWarning]:
    """What a quote on a page (the estimator's, an application's) says of its card
    when it runs open-ended or longer than `LONG_CARD_DAYS`: per prorated amount of
    the rules it priced with, what the proration made of it over its term, in the
    pricing core's sentence (`services.quote_warnings`, round 44). Empty otherwise."""
    return services.quote_warnings(
        quote, long_period_days=current_config().long_card_days, amount=price_in_words
    )


@bp.app_template_global("long_card_words")
def long_card_words() -> str:
    """The configured `LONG_CARD_DAYS` after "longer than": "ten years" by default."""
    return long_period_words(current_config().long_card_days)


@bp.app_template_global("card_runs")
def card_runs(version: str) -> str:
    """How a published card that runs long runs, after "runs": "open-ended", or
    "longer than ten years" (`LONG_CARD_DAYS`)."""
    card = queries.card_by_version(db.session(), version)
    return "open-ended" if card is None or card.open_ended else f"longer than {long_card_words()}"


def _proration_warnings(card: RateCard, today: date | None = None) -> list[ProrationWarning]:
    """The check's and the card's page's warning: the card's prorated amounts over the
    term the service would propose on it today (the office's day; round 45: a year
    from its first day, long gone for a card in effect), when it runs open-ended or
    longer than `LONG_CARD_DAYS`."""
    return proration_warnings(
        card,
        long_period_days=current_config().long_card_days,
        today=today if today is not None else calendar.office_date(utcnow()),
        amount=price_in_words,
    )


@bp.app_template_filter("rules_described")
def rules_described(step: str) -> str:
    """A step of working with the rule it names described as the pages name a rule
    (`words.rules_described`, with the published cards' descriptions)."""
    return words.rules_described(step, rule_description)


class PublishForm(PageForm):
    card = FileField("Rate card file (JSON)", validators=[FileRequired("Choose a JSON file.")])


class PublishCheckedForm(PageForm):
    """Publishing the card just checked: its document, carried by the check's page
    so the admin need not choose the file again, in as many `document` fields as
    it takes (`carried_parts`); this field is the first."""

    document = HiddenField(validators=[DataRequired("Check the card again.")])


# Room left in a request for the publish form's other fields (its CSRF token).
_FORM_ROOM = 16_384


def carried_parts(card: RateCard) -> list[str]:
    """The card's document as the check's publish form carries it: in fields each
    within the form-field limit (`MAX_FORM_MEMORY_SIZE`, bytes of one field of a
    multipart form, which Werkzeug before 3.1.9 applies to a whole urlencoded
    form), so that whatever the check accepts (a file up to `MAX_CARD_BYTES`) its
    publish button can send. `InvalidInput` if the whole would not fit a request
    (`MAX_CONTENT_LENGTH`): a card that checks must publish."""
    text = json.dumps(card.to_document(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    limit = current_app.config.get("MAX_FORM_MEMORY_SIZE")
    whole = current_app.config.get("MAX_CONTENT_LENGTH")
    if whole is not None and len(text.encode("utf-8")) > whole - _FORM_ROOM:
        raise errors.InvalidInput.for_field(
            "_body",
            f"The card is too large to publish from a page: its document is over "
            f"{(whole - _FORM_ROOM) // 1000:,} KB. Publish it with "
            "`licensing ratecards import FILE`.",
        )
    if limit is None:
        return [text]
    size = max(1, (int(limit) - _FORM_ROOM) // 4)  # characters: at most 4 bytes each in UTF-8
    return [text[start : start + size] for start in range(0, len(text), size)]


# Cards a page of the list shows (`paging.PER_PAGE`); the tests walk ties with fewer.
CARDS_PER_PAGE = paging.PER_PAGE


def _list_page(form: PublishForm, problems: dict[str, list[str]]) -> str:
    """The rate card list, a page at a time (round 46: every version was one page),
    newest period first, each card's replacements read for the page's cards only."""
    session = db.session()
    page: paging.Page[RateCardRecord] = paging.read_page(
        session, queries.cards_query(), per_page=CARDS_PER_PAGE
    )
    return render_template(
        "ratecards/list.html",
        cards=page.items,
        page=page,
        replaced=queries.replaced_on_page(session, page.items),
        # Round 58: who published each, by the account kept (else the address), in one
        # statement for the page.
        people=people_of(
            session,
            ids=[card.published_by_id for card in page.items],
            addresses=[card.published_by for card in page.items],
        ),
        form=form,
        problems=problems,
    )


@bp.route("/")
@access.staff(*STAFF)
def index() -> str:
    return _list_page(PublishForm(), {})


@bp.route("/", methods=["POST"])
@access.staff("admin")
def publish() -> BaseResponse | tuple[str, int] | str:
    form = PublishForm()
    problems: dict[str, list[str]] = {}
    checking = request.form.get("action") == "check"
    if form.validate_on_submit():
        try:
            document = _card_document(form.card.data.read(MAX_CARD_BYTES + 1))
            if checking:
                return _checked(services.check_card(document))
            result = _import(document)
        except errors.InvalidInput as invalid:
            problems = invalid.errors
            form.card.errors = [invalid.detail]
        except errors.Conflict as conflict:
            form.card.errors = [conflict.detail]
        else:
            if result.created:
                _flash_published(
                    result.version,
                    result.price_change_warnings,
                    services.emailed(result.agreements_told, result.agreements_not_emailed),
                )
            else:
                flash(
                    f"Rate card {result.version} was already published with this content.", "info"
                )
            return redirect(url_for(".detail", version=result.version))
    return _list_page(form, problems), 422


@bp.route("/checked", methods=["POST"])
@access.staff("admin")
def publish_checked() -> BaseResponse | tuple[str, int]:
    """Publish the card the check's page shows (checked again: another admin may
    have published the version since)."""
    form = PublishCheckedForm()
    if form.validate_on_submit():
        try:
            # Bounded as the API's body (round 54: a nested one was a 500).
            document = limits.loads("".join(request.form.getlist("document")))
        except json.JSONDecodeError:
            raise errors.InvalidInput(
                "The card to publish is not JSON: check the file again."
            ) from None
        result = _import(document)
        if result.created:
            _flash_published(
                result.version,
                result.price_change_warnings,
                services.emailed(result.agreements_told, result.agreements_not_emailed),
            )
        else:
            flash(f"Rate card {result.version} was already published with this content.", "info")
        return redirect(url_for(".detail", version=result.version))
    raise errors.InvalidInput("The card to publish is missing: check the file again.")


def _import(document: object) -> services.ImportResult:
    """Publish the card, its warnings worded as the pages word money (either button)."""
    config, principal = current_config(), access.require_principal()
    return services.import_card(
        document,
        published_by=principal.email,
        published_by_id=principal.user_id,
        long_period_days=config.long_card_days,
        price_change_ratio=config.price_change_ratio,
        amount=price_in_words,
    )


def _flash_published(
    version: str,
    price_changes: Sequence[PriceChangeWarning] = (),
    emailed: str = "",
) -> None:
    """The confirmation of a card published (`_published`), and for a card that runs
    open-ended or longer than `LONG_CARD_DAYS`, the check's warning again (round 44:
    the message said "published" alone; the page it leads to shows the warning, but
    a message is what the admin reads first)."""
    # Round 61: a correction's licensees emailed (`services.emailed`).
    flash(_published(version) + (f" {emailed}" if emailed else ""), "success")
    if price_changes:
        # Round 55: the check's price warnings, said again as the card is published.
        flash(
            f"Rate card {version} changes {counted(len(price_changes), 'price')} more than "
            f"{plain_ratio(current_config().price_change_ratio)} times over, or from or to "
            "nothing: check it is not a typed slip. "
            + " ".join(warning.sentence for warning in price_changes),
            "warning",
        )
    card = queries.domain_card(queries.get(db.session(), version))
    warnings = _proration_warnings(card)
    if warnings:
        runs = "runs open-ended" if card.open_ended else f"runs longer than {long_card_words()}"
        flash(
            f"Rate card {version} {runs}: its prorated amounts are spread over all of it. "
            + " ".join(warning.sentence for warning in warnings),
            "warning",
        )


def _published(version: str) -> str:
    """ "Rate card 2027.1 published.", and, for a card not in effect yet, from when and
    which card still prices a term starting today (round 36: the admin publishing
    next year's card in December could not see that today's quotes were unchanged)."""
    session = db.session()
    card = queries.get(session, version)
    today = calendar.office_date(utcnow())
    if card.effective_from <= today:
        return f"Rate card {version} published.{_replacing(version)}"
    now = _priced_today(session, card, today)
    return (
        f"Rate card {version} published, in effect from {card.effective_from}: {now}."
        f"{_replacing(version)}"
    )


def _priced_today(session: Session, card: RateCardRecord, today: date) -> str:
    """What still prices a term starting today, said per currency where the cards in
    effect today and the card published are of several currencies (round 66: "still
    priced on 2027.1" of a yen card said nothing of the yen): the card in effect in
    each, the published card's currency first; else as round 36 said it."""
    in_effect = {
        other.currency
        for other in queries.all_cards(session)
        if other.effective_from <= today <= other.effective_to
    }
    currencies = dict.fromkeys([card.currency, *sorted(in_effect)])
    if len(currencies) == 1:
        current = queries.in_effect(session, today)
        return (
            f"a term starting today ({today}) is still priced on {current.version}"
            if current
            else f"no card prices a term starting today ({today})"
        )
    parts = []
    for currency in currencies:
        found = queries.in_effect(session, today, currency)
        parts.append(
            f"in {currency}, on {found.version}"
            if found
            else f"in {currency}, on none (no card in {currency} is in effect today)"
        )
    return f"a term starting today ({today}) is still priced {'; '.join(parts)}"


def _replacing(version: str) -> str:
    """What publishing `version` replaced, after the message (cardwalk60), or nothing."""
    said = " ".join(
        sentence
        for sentence in (services.replaces(version), services.alongside(version))
        if sentence
    )
    return f" {said}" if said else ""


def _checked(check: services.CardCheck) -> str:
    """The check's page: the card is valid; what publishing it would change (its
    renewals and its warning as of the office's day, one day for both)."""
    card = check.card
    today = calendar.office_date(utcnow())
    return render_template(
        "ratecards/check.html",
        card=card,
        state=check.version_state,
        rules=_rules_in_words(card),
        adjustments=_discounts_in_words(card),
        taken=check.taken,
        # Round 54: what each card it takes days from has priced, which keeps its prices.
        priced={
            taking.version: priced_on.priced_on(db.session(), taking.version)
            for taking in check.taken
        },
        # Round 66: whose licensees publishing it emails, said before it is published.
        told=[
            number
            for taking in check.taken
            for number in priced_on.told_on_publishing(
                db.session(), taking.version, taking.first, taking.last
            )
        ],
        kept=check.kept,
        alongside=check.alongside,
        base=check.base,
        base_in_effect=check.base_in_effect_on_first_day,
        changes=check.differences(
            amount=price_in_words,
            count=format_quantity,
            condition=_applies_in_a_sentence,
            review=review_words,
        ),
        effect=(
            card_effect.effect(db.session(), card, today=today)
            if check.version_state == "new"
            else None
        ),
        carried=carried_parts(card),
        # Round 54: a figure many times its base's (27,500.00 typed for 2,750.00).
        price_changes=check.price_changes(
            amount=price_in_words, ratio=current_config().price_change_ratio
        ),
        large_change_ratio=plain_ratio(current_config().price_change_ratio),
        proration_warnings=_proration_warnings(card, today),
        form=PublishCheckedForm(),
    )


def _rules_in_words(card: RateCard) -> list[dict[str, Any]]:
    return [
        {
            "rule": rule,
            "applies_to": _applies_to(rule.when),
            "terms": describe_rule(
                rule, card.currency, amount=price_in_words, count=format_quantity
            ),
        }
        for rule in card.rules
    ]


def _discounts_in_words(card: RateCard) -> list[dict[str, Any]]:
    return [{"adjustment": a, "applies_to": _applies_to(a.when)} for a in card.adjustments]


def _applies_to(condition: Condition) -> str:
    """Whom a rule or discount applies to, each axis's values as its form offers them
    (`words.condition_words`): the core names the vocabulary by its identifiers
    ("distribution of software, saas or mobile_app products", the API's words); the
    page says "Use: Distribute a product to others (installed or hosted); product
    type: Software, SaaS or Mobile app" (round 38: round 31's page said the stored
    words with spaces)."""
    return condition_words({axis: getattr(condition, axis) for axis in AXIS_NAMES})


def _applies_in_a_sentence(condition: Condition) -> str:
    """`_applies_to` inside a difference's sentence ("Changed rule development:
    applies to use: ...")."""
    return in_a_sentence(_applies_to(condition))


def _card_document(raw: bytes) -> Any:
    """The uploaded file read as JSON, or `InvalidInput` saying in words why not
    (the whole file's problems under `_body`, as the card's own are)."""
    if len(raw) > MAX_CARD_BYTES:
        raise errors.InvalidInput.for_field(
            "_body", f"The file is larger than {MAX_CARD_BYTES // 1_000_000} MB."
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise errors.InvalidInput.for_field(
            "_body", "The file is not UTF-8 text: save the card as a UTF-8 JSON file."
        ) from None
    try:
        # Within the API's bounds on a body (nesting, numbers' lengths, unstorable
        # text): round 54's review found a deeply nested file a 500 here.
        return limits.loads(text)
    except errors.InvalidInput as beyond:
        said = " ".join(message for messages in beyond.errors.values() for message in messages)
        raise errors.InvalidInput.for_field("_body", f"The file cannot be read: {said}") from None
    except json.JSONDecodeError as exc:
        raise errors.InvalidInput.for_field(
            "_body",
            f"The file is not valid JSON: {exc.msg.lower()} at line {exc.lineno}, "
            f"column {exc.colno}.",
        ) from None


@bp.route("/<string:version>")
@access.staff(*STAFF)
def detail(version: str) -> str:
    stored = queries.get(db.session(), version)
    card = queries.domain_card(stored)
    rules = _rules_in_words(card)
    adjustments = _discounts_in_words(card)
    every = queries.all_cards(db.session())
    others = [c for c in every if c.version != version]
    # Round 54: a corrected card's own page said nothing of its correction, nor of
    # the applications and agreements it priced, which keep its prices.
    replaced_by = queries.replaced_by(every).get(version)
    priced = priced_on.priced_on(db.session(), version)
    principal = access.current_principal()
    # Round 61: a card corrected for part of its period (not replaced): which days, and
    # which of its agreements' terms fall in them (those are corrected, the rest not).
    partly = (
        None
        if replaced_by
        else queries.catalogue(db.session()).correction(
            version, stored.effective_from, stored.effective_to
        )
    )
    corrected = (
        agreement_services.corrected_among(db.session(), [row.id for row in priced.agreements])
        if partly is not None
        else None
    )
    # Round 56: a row links the reissue only where it would go ahead (every agreement
    # awaiting acceptance was linked, the step then refusing some); round 58: one the
    # corrected card prices alike says so (it was offered a reissue changing nothing).
    offers = (
        agreement_services.reissue_offers(
            db.session(),
            [
                row.id
                for row in priced.agreements
                if row.state == "issued" and (corrected is None or row.id in corrected)
            ],
        )
        if (replaced_by or partly) and principal is not None and principal.has_role("licensing")
        else agreement_services.ReissueOffers()
    )
    return render_template(
        "ratecards/detail.html",
        stored=stored,
        # Round 58: who published it, by the account kept (else the address).
        people=people_of(
            db.session(), ids=[stored.published_by_id], addresses=[stored.published_by]
        ),
        card=card,
        replaced_by=replaced_by,
        partly=partly,
        corrected=corrected,
        replaced_since=max(
            (c.published_at for c in every if c.version in (replaced_by or ())), default=None
        ),
        priced=priced,
        offers=offers,
        rules=rules,
        adjustments=adjustments,
        others=others,
        proration_warnings=_proration_warnings(card),
        document=json.dumps(json.loads(stored.document), indent=2, sort_keys=True),
    )


@bp.route("/<string:version>/card.json")
@access.staff(*STAFF)
def download(version: str) -> Response:
    """The published card as a file, to draft the next version from."""
    stored = queries.get(db.session(), version)
    text = json.dumps(json.loads(stored.document), indent=2, sort_keys=True) + "\n"
    response = Response(text, mimetype="application/json")
    filename = re.sub(r"[^A-Za-z0-9._-]", "_", stored.version)
    response.headers["Content-Disposition"] = f'attachment; filename="rate-card-{filename}.json"'
    return response


# The compared versions as the comparison's form names them.
COMPARED_LABELS = {"old": "Earlier version", "new": "Later version"}


@bp.route("/compare")
@access.staff(*STAFF)
def compare() -> str:
    session = db.session()
    # Each version once (round 56: the first of two was compared without a word).
    arguments.once(request.args, COMPARED_LABELS)
    old_version = request.args.get("old", "").strip()
    new_version = request.args.get("new", "").strip()
    _require_two(old_version, new_version)
    cards = queries.all_cards(session)
    old = _compared(session, old_version, new_version, cards)
    new = _compared(session, new_version, old_version, cards)
    # A card compared with itself has no differences to list: say so, not "the two cards".
    same = old.version == new.version
    changes = (
        []
        if same
        else diff_cards(
            queries.domain_card(old),
            queries.domain_card(new),
            amount=price_in_words,
            count=format_quantity,
            condition=_applies_in_a_sentence,
            review=review_words,
        )
    )
    return render_template(
        "ratecards/compare.html", old=old, new=new, same=same, changes=changes, cards=cards
    )


def _require_two(old_version: str, new_version: str) -> None:
    """Both versions chosen, or a refusal saying which one is not."""
    if not old_version and not new_version:
        raise errors.InvalidInput("Choose two rate cards to compare.")
    if not old_version:
        raise errors.InvalidInput(f"Choose the earlier rate card to compare {new_version} with.")
    if not new_version:
        raise errors.InvalidInput(f"Choose the later rate card to compare {old_version} with.")


def _compared(
    session: Session, version: str, other: str, cards: list[RateCardRecord]
) -> RateCardRecord:
    """The published card `version`, or a refusal naming it and the cards there are."""
    found = queries.by_version(session, version)
    if found is None:
        published = ", ".join(card.version for card in cards) or "none"
        raise errors.NotFound(
            f"There is no published rate card {version!r} to compare with {other}: "
            f"the published ones are {published}."
        )
    return found

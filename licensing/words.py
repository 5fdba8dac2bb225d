"""The pricing vocabulary in words, for pages, emails and documents alike.

Issued documents (agreements, invoices) and pages must say "end users" and
"SaaS" the same way, so the wording lives here, beside neither: features import
it without depending on the web layer, and `web.filters` registers it for
templates. A record's state in words (`state_text`) is here for the same reason:
refusals (`errors`), the state machines and pages all say it by one rule.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from functools import lru_cache

from licensing.money import figures_grouped, format_quantity
from licensing.pricing.describe import singular_unit

# Words of the vocabulary that are acronyms: "saas" reads "SaaS", not "Saas".
ACRONYMS = {"saas": "SaaS", "ai": "AI", "ach": "ACH", "api": "API", "cpt": "CPT"}
# Identifiers whose words are a phrase of their own: the audit log's
# `user.two_step_enabled` read "User two step enabled", a name the pages never use.
# `application.auto_approved` read "Application auto approved", the stored "auto" of
# a rule's review, where the pages say "approved automatically" (round 40).
_PHRASES = {"two step": "two-step sign-in", "auto approved": "approved automatically"}
# A vocabulary identifier inside a sentence of working: "end_users", "internal_use".
_IDENTIFIER = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")
# An exact fraction with its decimal approximation: "36200/73 (about 495.890411)".
_FRACTION_ABOUT = re.compile(r"-?\d+/\d+ \(about (-?\d+(?:\.\d+)?)\)")


# The vocabulary's identifiers and states are few and a list page shows each on every
# row: each is put in words once per process.
@lru_cache(maxsize=1024)
def humanize(value: str | None) -> str:
    """`end_users` -> `end users`, `saas` -> `SaaS`: an identifier in words."""
    words = (value or "").replace("_", " ").split(" ")
    text = " ".join(ACRONYMS.get(word, word) for word in words)
    for phrase, said in _PHRASES.items():
        text = text.replace(phrase, said)
    return text


@lru_cache(maxsize=1024)
def vocab(value: str | None) -> str:
    """A vocabulary value as a label: `ai_model` -> `AI model`, `data_file` -> `Data file`."""
    text = humanize(value)
    return text[:1].upper() + text[1:]


# Each use in words, as the application form offers it: the one map of the uses'
# words for the form's choices, the estimate's and the quote's Use columns.
USE_LABELS = {
    "development": "Develop, test, maintain or service a product",
    "distribution": "Distribute a product to others (installed or hosted)",
    "internal_use": "Use inside our own organization",
    "derivative_work": "Create a derivative work",
    "translation": "Translate or localize",
    "education": "Education or training material",
}


def use_words(use: str | None) -> str:
    """A use as the application form offers it (`USE_LABELS`): `internal_use` ->
    "Use inside our own organization"; a use the map does not know, as a label."""
    return USE_LABELS.get(use or "") or vocab(use)


# The other classification axes in words, one table each, as sign-up and the
# application form offer them: what a person reads wherever a page, an email or a
# document names the value (round 37; the console said "commercial" where sign-up
# said "Commercial company"). The API and exports keep the stored words, the
# contract's vocabulary.
ORGANIZATION_TYPE_LABELS = {
    "commercial": "Commercial company",
    "nonprofit": "Non-profit organization",
    "academic": "Academic institution",
    "government": "Government agency",
    "individual": "Individual",
}
PRODUCT_TYPE_LABELS = {
    "software": "Software",
    "saas": "SaaS",
    "mobile_app": "Mobile app",
    "data_file": "Data file",
    "print": "Print",
    "electronic_publication": "Electronic publication",
    "ai_model": "AI model",
}
USER_TYPE_LABELS = {
    "provider": "Provider",
    "payer": "Payer",
    "consumer": "Consumer",
    "academic": "Academic",
    "government": "Government",
    "internal": "Internal",
}
# Each axis's table, by the axis's field name.
AXIS_LABELS: Mapping[str, Mapping[str, str]] = {
    "use": USE_LABELS,
    "product_type": PRODUCT_TYPE_LABELS,
    "user_type": USER_TYPE_LABELS,
    "organization_type": ORGANIZATION_TYPE_LABELS,
}


def axis_words(axis: str, value: str | None) -> str:
    """A value of a classification `axis` as its form offers it ("Commercial
    company", "SaaS"); a value the table does not know, as a label."""
    return AXIS_LABELS.get(axis, {}).get(value or "") or vocab(value)


# Each axis as a rule's `when` names it on staff pages, in the forms' words ("Who
# uses the product" is the application form's question for the user type).
AXIS_NAMES = {
    "use": "use",
    "product_type": "product type",
    "user_type": "who uses the product",
    "organization_type": "organization type",
}


def _alternatives(labels: list[str]) -> str:
    """ "A", "A or B", "A, B or C"; each quoted when a label holds a comma of its own
    ("Develop, test, maintain or service a product"), so no reader splits it."""
    if len(labels) > 1 and any("," in label for label in labels):
        labels = [f"\u201c{label}\u201d" for label in labels]
    *head, last = labels
    return f"{', '.join(head)} or {last}" if head else last


def condition_words(axes: Mapping[str, Sequence[str] | None]) -> str:
    """The uses a rule's or a discount's `when` matches, each axis's values as its
    form offers them (round 38: the staff rate card pages said "distribution of
    software, saas or mobile_app products"): "Use: Distribute a product to others
    (installed or hosted); product type: Software, SaaS or Mobile app". `axes` maps
    an axis to the values it matches (None or empty: any); "Any use" when none is
    constrained. The card's document, the API and the JSON download keep the stored
    words."""
    parts = [
        f"{name}: {_alternatives([axis_words(axis, value) for value in values])}"
        for axis, name in AXIS_NAMES.items()
        if (values := axes.get(axis))
    ]
    text = "; ".join(parts) or "any use"
    return text[:1].upper() + text[1:]


# A rule's `review` as a licensing analyst says it (round 40: a comparison of two
# cards said "review from auto to staff"): the staff pages' words for the card's
# values; the API and the card's document keep the stored ones.
REVIEW_LABELS = {
    "auto": "automatic approval",
    "staff": "staff review",
}


def review_words(value: str | None) -> str:
    """`auto` -> "automatic approval", `staff` -> "staff review"; a value the table
    does not know, with spaces."""
    return REVIEW_LABELS.get(value or "") or humanize(value)


def in_a_sentence(label: str) -> str:
    """A label inside a sentence: its first letter lower case, unless its first
    word is an acronym ("Commercial company" -> "commercial company", "SaaS" and
    "AI model" kept)."""
    first = label.split(" ", 1)[0]
    return label if first in ACRONYMS.values() else label[:1].lower() + label[1:]


def organization_type_words(value: str | None) -> str:
    """`commercial` -> "Commercial company", as sign-up offers it."""
    return axis_words("organization_type", value)


def product_type_words(value: str | None) -> str:
    """`mobile_app` -> "Mobile app", as the application form offers it."""
    return axis_words("product_type", value)


def user_type_words(value: str | None) -> str:
    """`provider` -> "Provider", as the application form offers it."""
    return axis_words("user_type", value)


def use_described(use: str, product_type: str, user_type: str) -> str:
    """A licensed use in one phrase, on pages and in the agreement alike:
    "Distribute a product to others (installed or hosted); SaaS for provider users"."""
    product = in_a_sentence(product_type_words(product_type))
    users = in_a_sentence(user_type_words(user_type))
    return f"{use_words(use)}; {product} for {users} users"


# Words two phrases may differ by and still say the same thing: the application
# form's "Develop, test, maintain or service a product" and a card's "Develop, test,
# maintain and service a product that uses CPT content".
_CONNECTIVES = frozenset({"and", "or"})


def _plain_words(text: str) -> list[str]:
    return [word for word in re.findall(r"[a-z0-9]+", text.lower()) if word not in _CONNECTIVES]


def says_again(label: str, text: str) -> bool:
    """Whether `text` says `label` again: the label's words, in order and together,
    are among the text's, compared without case, punctuation, "and" and "or"
    (round 40: an up-front invoice line said the use twice, once as the form offers
    it and once in the rule's description)."""
    said, within = _plain_words(label), _plain_words(text)
    return bool(said) and any(
        within[start : start + len(said)] == said for start in range(len(within) - len(said) + 1)
    )


# A required field left empty, on pages (`InputRequired`/`DataRequired`), in
# services and in the API's schemas alike.
FIELD_REQUIRED = "This field is required."


def audience_words(size: int | None) -> str:
    """An educational use's audience as its pages, emails and letter say it beside
    "Audience": `1200` -> `up to 1,200` (the most it may reach), else `not stated`."""
    return f"up to {format_quantity(size)}" if size else "not stated"


def at_most_characters(limit: int, *, in_all: bool = False) -> str:
    """The refusal of text longer than `limit`, its figure grouped as people read
    it: "At most 2,000 characters." ("... characters in all." for a list's items
    together). One sentence for the agreements' forms, services and API, and the
    royalties' (round 14: agreements said "At most 2000 characters.")."""
    return f"At most {format_quantity(limit)} characters{' in all' if in_all else ''}."


def counted(count: int, noun: str) -> str:
    """`1 application`, `3 applications`, `1,000 reports` (grouped, as the pages' and
    the exports' other counts are)."""
    return f"{count:,} {noun}{'s' if count != 1 else ''}"


# A line break or another control character, with the spaces beside it: what a text
# written into one line of a page or an email may not hold (`on_one_line`).
_LINE_BREAKING = re.compile(r"\s*[\x00-\x1f\x7f-\x9f\u2028\u2029]+\s*")


def on_one_line(text: str | None) -> str:
    """A name as a sentence of a page or an email writes it: every line break, tab or
    other control character (and the spaces beside it) made one space, none at either
    end. A text without one is returned as it is. Round 62: names stored before round
    61 refused them keep them in the record, and are shown so."""
    if not text or _LINE_BREAKING.search(text) is None:
        return text or ""
    return _LINE_BREAKING.sub(" ", text).strip()


def end_sentence(text: str | None) -> str:
    """`text` ending with one full stop: "Acme Software, Inc." is not followed by another
    (nor a name set `apart` that ends with its own)."""
    value = (text or "").rstrip()
    return value if value.removesuffix(PDI).endswith((".", "!", "?")) else f"{value}."


# Unicode's isolates (round 62): a name between them keeps its own direction in a line
# of plain text, as `<bdi>` does on a page.
FSI = "\u2068"  # FIRST STRONG ISOLATE
PDI = "\u2069"  # POP DIRECTIONAL ISOLATE
# Hebrew letters (R), Arabic letters (AL) and Arabic-Indic digits (AN).
_RIGHT_TO_LEFT = frozenset(("R", "AL", "AN"))


def right_to_left(text: str) -> bool:
    """Whether `text` holds a character of a right-to-left script (round 62): the names
    pages and emails isolate. A name without one (Latin, Greek, CJK, Devanagari...)
    cannot reorder our left-to-right sentence, and one beside it that does is isolated
    itself, so it is printed as it is."""
    return any(unicodedata.bidirectional(character) in _RIGHT_TO_LEFT for character in text)


def apart(value: object) -> str:
    """A name a person typed, as an email's plain text prints it in a sentence
    (round 62): between FSI and PDI when it holds a right-to-left letter (Hebrew,
    Arabic), so that "Hello ليلى منصور," keeps its comma after the name and "مترجم
    الرموز ش.م.م. (CPT-2027-000001)" its bracket and number in our order; any other
    name as it is, as no line of ours reorders it (the emails' bytes unchanged). None
    or empty as ""."""
    if value is None or value == "":
        return ""
    text = str(value)
    return f"{FSI}{text}{PDI}" if right_to_left(text) else text


def state_text(state: str, words: Mapping[str, str] | None = None) -> str:
    """A record's state in words, as a sentence says it after "that is": its entry
    in its machine's `words` ("waiting for the requester's information"), else the
    state with spaces (`in_review` -> "in review"). The one rule for refusals
    (`errors.illegal_step_sentence`), machines (`StateMachine.state_text`) and pages
    (`web.filters.state_words`): `errors` cannot import the machine, which imports it."""
    return (words or {}).get(state) or state.replace("_", " ")


def state_label(text: str) -> str:
    """A state's words as a badge or an option names the state: without the article
    a sentence needs ("a draft" -> "draft")."""
    return text.removeprefix("an ").removeprefix("a ")


def identifiers_in_words(text: str) -> str:
    """Vocabulary identifiers inside a sentence in words ("2500 end_users" -> "2500
    end users"), the rest unchanged."""
    return _IDENTIFIER.sub(lambda found: humanize(found.group(0)), text)


# One unit of a per-unit step ("1 members, volume: ...", "part 2: 1 end_users,
# graduated: ...") or of a royalty's usage to date ("usage to date 1 end_users ("):
# the card's unit name, which the stored working keeps as the card writes it.
_ONE_UNIT = re.compile(
    r"(?:(?<=^)|(?<=: )|(?<=usage to date )|(?<=, ))"
    r"1 ([a-z]+(?:_[a-z]+)*)(?=, (?:graduated|volume): | \()"
)


# How a line's working records an amount staff changed (`agreements.issuing.AMENDED`,
# `royalties.computation.AMENDED_BY_HAND`): "... from X to Y: <the reason typed>".
_AMENDED = "amended by the licensor from "


def working_in_words(step: str) -> str:
    """A step of a quote's or an invoice line's working as a person reads it, on
    pages and in documents alike: identifiers in words, one unit in the singular
    ("1 members" -> "1 member", round 50), an exact fraction shown by its decimal
    value only ("35328/73 (about 483.945205)" -> "about 483.945205", what the
    rounding step rounds, and what the step's own figures give by hand), and
    amounts and quantities grouped ("120000" -> "120,000"). The stored working
    (the API, exports) keeps the exact fraction and the card's unit names."""
    # Round 67: the reason staff typed for an amended amount is their words, not
    # figures ("Priced by hand for 2028." read "for 2,028").
    if step.startswith(_AMENDED) and ": " in step:
        head, reason = step.split(": ", 1)
        return f"{working_in_words(head)}: {reason}"
    # A whole line's working (its steps joined by "; ", as an invoice line stores
    # it) is read step by step when it holds an amended step, so its reason is too.
    if _AMENDED in step and "; " in step:
        return "; ".join(working_in_words(part) for part in step.split("; "))
    text = _ONE_UNIT.sub(lambda found: f"1 {singular_unit(found.group(1))}", step)
    text = _FRACTION_ABOUT.sub(lambda found: f"about {found.group(1)}", text)
    return figures_grouped(identifiers_in_words(text))


def rule_named(rule_id: str, description: str | None) -> str:
    """A rule as a sentence names it beside what it prices: its description, then its
    id ("Installed, hosted and mobile software, per end user; rule
    distribution-software"), the id alone for a rule without a description. The one
    order of the royalty period page's lines, the royalty rows' refusals and the
    up-front invoice's lines (round 42: the period page said "rule Installed, hosted
    ..., distribution-software", the refusals below it the order above)."""
    said = (description or "").strip()
    return f"{said}; rule {rule_id}" if said else f"rule {rule_id}"


# A royalty's working names the rule it was computed by, and its card: "line 1, rule
# distribution-software of rate card 2027.1: usage to date ..." (royalties.computation).
_RULE_IN_WORKING = re.compile(r"\brule ([A-Za-z0-9][\w.-]*) of rate card (\S+?):")


def rules_described(step: str, description_of: Callable[[str, str], str]) -> str:
    """A step of working with the rule it names described as the pages name a rule
    (round 40: a royalty's working on the report and invoice pages said "rule
    distribution-software of rate card 2027.1" only; round 42: the invoice's PDF
    too): "Installed, hosted and mobile software, per end user (rule
    distribution-software of rate card 2027.1):". `description_of(version, rule_id)`
    is the rule's description on its card, empty when it has none: the rule then
    keeps its id alone. The stored working (the API, exports) is unchanged."""

    def described(found: re.Match[str]) -> str:
        description = description_of(found.group(2), found.group(1))
        if not description:
            return found.group(0)
        return f"{description} ({found.group(0)[:-1]}):"

    return _RULE_IN_WORKING.sub(described, step)


def term_share_words(term_days: int | None, proration: Fraction) -> str:
    """How much of its rate card's period a partial term is, as an analyst checks it by
    hand (round 50): the days counted, the exact fraction the working multiplies by
    (reduced, as the working writes it: "73/365 = 1/5") and a percentage marked
    "about" where it is rounded: "the term is 122 of the rate card period's 365 days,
    122/365 (about 33.4%)". The pages' caption (`web.filters.proration`) and an
    agreement's terms (`agreements.documents`) both say it. Without the term's days (a
    quote kept without its request) the fraction and percentage alone."""
    exact = Fraction(proration.numerator * 100, proration.denominator)
    percent = Decimal(exact.numerator) / Decimal(exact.denominator)
    shown = percent.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    share = f"{shown}%" if shown != percent else f"{shown.normalize():f}%"
    share = f"about {share}" if shown != percent else share
    if not shown:  # a year of an open-ended card: "about 0.0%" said nothing
        share = "less than 0.1%"
    if term_days is None or (term_days * proration.denominator) % proration.numerator:
        return f"the term is {proration} of the rate card period ({share})"
    card_days = term_days * proration.denominator // proration.numerator
    fraction = f"{term_days}/{card_days}"
    if fraction != str(proration):
        fraction += f" = {proration}"
    return (
        f"the term is {format_quantity(term_days)} of the rate card period's "
        f"{format_quantity(card_days)} days, {fraction} ({share})"
    )


# Round 67 (staff67): where a sentence would name the card that priced an agreement
# and licensing staff priced it by hand (`agreements.hand_priced.card_that_priced`).
BY_HAND = "priced by hand by licensing staff, on no rate card"


def priced_words(card: str | None) -> str:
    """ "rate card 2027.1", or that no card priced it (`card_that_priced`'s None)."""
    return f"rate card {card}" if card is not None else BY_HAND

"""Every name a person typed that a page prints in its text goes through `|isolated`
(`<bdi>`, round 61) or a helper that isolates it (`People.shown`, the queues'
`rows.isolated`), and every name an email prints through `|apart` (FSI ... PDI,
round 62): an Arabic or Hebrew name beside a number, a bracket or punctuation
otherwise pulls them into its own direction.

The walk reads each template's `{{ ... }}` expressions. A name in an attribute, a
`<title>`, an `<option>` or a `<textarea>` takes no markup and is left alone; so is a
form's field (an input, `dir="auto"` since round 61)."""

from __future__ import annotations

import re
from pathlib import Path

TEMPLATES = Path(__file__).parents[2] / "templates"

# What a user (a vendor, a requester, staff) types and a page names: people, their
# organizations, institutions and products, tokens' and passkeys' names, a payer's
# and a signer's, an uploaded file's.
NAME = re.compile(
    r"\b(full_name|legal_name|product_names?|requester_shown_name|requester_name|requester"
    r"|institution|organization_name|billing_contact_name|bill_to_name|signer_name"
    r"|signer_title|listed_name|author_name|customer_name|passkey_name|paid_by)\b"
    r"|\btokens\[0\]"
    r"|\b(token|passkey|created|replacing|carried)\.name\b"
    r"|\b(people|page_people|withdrawers)\.(named|actor)\("
    r"|\brow\.name\b"
    r"|\bnames\.get\("
)
# Expressions that draw a field (the input holds the name) or pass it as an argument.
FIELD = re.compile(r"^\s*(field|input|invalid|error_for|values\.get|figure_link)\(")
ISOLATING = re.compile(r"\|\s*(isolated|apart)\b|\.shown\(|\bisolated\(")
EXPRESSION = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)
NO_MARKUP = ("title", "option", "textarea", "script", "style")


def _in_tag(text: str, at: int) -> bool:
    """Inside `<...>`: an attribute's value."""
    return text.rfind("<", 0, at) > text.rfind(">", 0, at)


def _in_element(text: str, at: int, element: str) -> bool:
    opened = max(text.rfind(f"<{element}>", 0, at), text.rfind(f"<{element} ", 0, at))
    return opened > text.rfind(f"</{element}>", 0, at)


def _in_title_block(text: str, at: int) -> bool:
    opened = text.rfind("{% block title %}", 0, at)
    return opened >= 0 and text.find("{% endblock", opened) > at


def bare_names(text: str, *, email: bool = False) -> list[str]:
    """The expressions in a template's `text` that print a name unisolated."""
    text = COMMENT.sub(lambda match: re.sub(r"[^\n]", " ", match.group()), text)
    found = []
    for match in EXPRESSION.finditer(text):
        expression, at = match.group(1), match.start()
        if not NAME.search(expression) or FIELD.match(expression) or ISOLATING.search(expression):
            continue
        if not email and (
            _in_tag(text, at)
            or _in_title_block(text, at)
            or any(_in_element(text, at, element) for element in NO_MARKUP)
        ):
            continue
        found.append(f"line {text.count(chr(10), 0, at) + 1}: {{{{{expression}}}}}")
    return found


def test_the_walk_finds_a_bare_name_and_passes_one_isolated_or_in_markup_taking_none() -> None:
    assert bare_names("<p>Signed by {{ user.full_name }}.</p>") == ["line 1: {{ user.full_name }}"]
    assert bare_names("<p>{{ token.name }} and\n{{ people.named(a, b) }}</p>") == [
        "line 1: {{ token.name }}",
        "line 2: {{ people.named(a, b) }}",
    ]
    assert bare_names("<p>{{ user.full_name|isolated }} {{ people.shown(a, b) }}</p>") == []
    assert bare_names('<a aria-label="{{ user.full_name }}">x</a>') == []
    assert bare_names("<option>{{ use.product_name }}</option>") == []
    assert bare_names("{% block title %}{{ user.full_name }}{% endblock %}") == []
    assert bare_names("{{ field(form.full_name) }}{# {{ user.full_name }} #}") == []
    assert bare_names("Hello {{ user.full_name }},", email=True) == ["line 1: {{ user.full_name }}"]
    assert bare_names("Hello {{ user.full_name|apart }},", email=True) == []


def test_no_page_prints_a_typed_name_without_isolating_it() -> None:
    offenders = {
        str(path.relative_to(TEMPLATES)): found
        for path in sorted(TEMPLATES.rglob("*.html"))
        if (found := bare_names(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}


def test_no_email_prints_a_typed_name_without_isolating_it() -> None:
    offenders = {
        str(path.relative_to(TEMPLATES)): found
        for path in sorted((TEMPLATES / "emails").rglob("*.txt"))
        if (found := bare_names(path.read_text(encoding="utf-8"), email=True))
    }
    assert offenders == {}

"""The one rule for a query argument given more than once.

`?state=open&state=paid` on a filter that takes one state used to take the
first value without a word. An argument that takes one value is refused when
repeated, with this message beside it (a 400 problem+json on the API, keyed
`query.NAME`; the page's form message on pages); an argument that takes a list
(the API's `List` fields, a page's checkboxes) takes every value given.

The API names the parameter (`state`), which is what its caller wrote; a page
names the field by the label its user sees ("Search", not `q`): pass `labels`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from werkzeug.datastructures import MultiDict

from licensing.errors import BadRequest


def repeated(
    args: Mapping[str, str],
    lists: Collection[str] = (),
    *,
    among: Collection[str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, list[str]]:
    """The message for each argument of `args` given more than once that takes
    one value (every name not in `lists`; of a page's form, only its fields,
    `among`, by default those `labels` names); empty when there is none, or
    when `args` holds one value a name. With `labels` (a page's field labels by
    parameter name) the message names the field as its page labels it."""
    if not isinstance(args, MultiDict):
        return {}
    if among is None and labels is not None:
        among = labels
    return {
        name: [field_message(labels.get(name, name), count) if labels else message(name, count)]
        for name in args
        if name not in lists
        and (among is None or name in among)
        and (count := len(args.getlist(name))) > 1
    }


def once(args: Mapping[str, str], labels: Mapping[str, str]) -> None:
    """Refuse a page's argument that no form field shows (a list's organization, a
    report's month, the cards compared) given more than once: `BadRequest` (a 400
    page), its message worded as a filter's (`field_message`, naming it by
    `labels`), never its first value taken (round 56)."""
    if twice := repeated(args, labels=labels):
        raise BadRequest(" ".join(said for messages in twice.values() for said in messages))


def message(name: str, count: int) -> str:
    """The API's words: its caller wrote the parameter's name."""
    return f"Give {name} once: it takes one value, and it was given {count} times."


def field_message(label: str, count: int) -> str:
    """A page's words: its user sees the field's label, never the URL's names."""
    return f"{label} takes one value, and the link gave it {count}: choose one and filter again."


def unknown_choice(
    args: Mapping[str, str],
    name: str,
    choices: Mapping[str, str],
    label: str,
    *,
    several: bool = False,
) -> dict[str, list[str]]:
    """A list page's filter errors (`{name: [message]}`) when the link gives `name`
    a value its field does not offer (`choices`: each value offered, with the words
    its option or checkbox shows), which fell back to the default list without a
    word (`?sort=bogus`); empty when every value given is offered, or there is none
    or an empty one (the field's "any"). With `several` (checkboxes) every value is
    checked. The API's list endpoints refuse the same values (422, `query.NAME`)."""
    given = args.getlist(name) if several and isinstance(args, MultiDict) else [args.get(name)]
    unknown = [value for value in given if value and value not in choices]
    if not unknown:
        return {}
    return {name: [choice_message(label, list(choices.values()), unknown[0], several=several)]}


def choice_message(label: str, words: list[str], given: str, *, several: bool = False) -> str:
    """A page's words for a value its filter does not offer: the field's label, what
    it offers (as its options say them) and what the link gave."""
    shown = given if len(given) <= 30 else f"{given[:30]}…"
    return (
        f"{label} takes {'any' if several else 'one'} of: {', '.join(words)}; "
        f"the link gave “{shown}”: choose {'from them' if several else 'one'} and filter again."
    )

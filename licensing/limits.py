"""Bounds on what a request may carry, checked once at the edge.

Amounts and quantities are bounded in `licensing.money` (the pricing core may
import nothing else); this module bounds the rest of what arrives, before any
handler sees it:

- JSON bodies: numbers of at most MAX_JSON_NUMBER_CHARS characters and a
  magnitude below 10**MAX_JSON_NUMBER_CHARS (checked on the literal, before it
  becomes a number), nesting of at most MAX_JSON_DEPTH levels;
- text anywhere (JSON strings and keys, query parameters, form fields, the
  path): no NUL character (PostgreSQL cannot store it) and no lone UTF-16
  surrogate such as "\\ud800" (no database can encode it);
- record ids and page numbers read from text: digits only, within the id
  columns' range (MAX_RECORD_ID) and MAX_PAGE;
- a JSON object gives each key once (`RepeatedKey`, a 400 naming its path);
- text typed decomposed (a kana and a combining voiced mark, hangul jamo, a letter and
  its combining accents) arrives composed (`printable.composed`, Unicode's NFC but for
  the characters NFC replaces on their own): the form fields and query parameters of
  every request (`check_request_text`) and the strings of a JSON body (`loads`), so
  what is checked, stored and shown back is the composed text. Passwords are left
  as typed (`_AS_TYPED`): a stored hash was made from what was typed.

Each refusal is an `InvalidInput` (422) naming the field and the limit: a
problem document on the API, an error page elsewhere. A caller who may not send
the request at all (nobody, on a route that needs a caller) is told that instead
(`register_refusal_first`).
"""

from __future__ import annotations

import collections
import json
import re
import threading
import unicodedata
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

from flask import Flask, current_app, g, request
from flask.wrappers import Request
from werkzeug.datastructures import ImmutableMultiDict, MultiDict

from licensing.errors import InvalidInput, RepeatedKey
from licensing.printable import composed

MAX_JSON_DEPTH = 32
MAX_JSON_NUMBER_CHARS = 40
# The id columns are PostgreSQL `integer`.
MAX_RECORD_ID = 2**31 - 1
MAX_PAGE = 100_000

_View = TypeVar("_View")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_RECORD_ID = re.compile(r"[0-9]{1,10}")
_UNSTORABLE_MESSAGE = (
    "Contains a character that cannot be stored: a NUL character or a lone UTF-16 "
    "surrogate (such as \\ud800). Remove it and try again."
)


class NumberOutOfRange(ValueError):
    """A JSON number literal beyond the bounds (raised while parsing)."""

    def __init__(self, literal: str) -> None:
        shown = literal if len(literal) <= 24 else literal[:20] + "..."
        super().__init__(
            f"The number {shown} is out of range: a JSON number has at most "
            f"{MAX_JSON_NUMBER_CHARS} characters and is less than "
            f"1e{MAX_JSON_NUMBER_CHARS} in size."
        )


def json_decimal(literal: str) -> Decimal:
    """`parse_float` for JSON: the literal as an exact Decimal, if within bounds."""
    if len(literal) > MAX_JSON_NUMBER_CHARS:
        raise NumberOutOfRange(literal)
    number = Decimal(literal)
    if number and abs(number.adjusted()) >= MAX_JSON_NUMBER_CHARS:  # no arithmetic
        raise NumberOutOfRange(literal)
    return number


def json_int(literal: str) -> int:
    """`parse_int` for JSON: refuses a literal too long before making an int of it."""
    if len(literal) > MAX_JSON_NUMBER_CHARS:
        raise NumberOutOfRange(literal)
    return int(literal)


def _refuse_constant(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not a number", name, 0)


class _Decoders(threading.local):
    """Per thread, made once (json.loads builds a decoder and its scanner for every
    call given hooks): `any` reads every integer through `json_int`; `short` reads
    whole numbers in C (a tenth of reading a 25-use quote), for a text where no
    integer literal can be too long (`_may_hold_long_integer`). Both keep each
    object they make in `objects` (the thread's own: the decoders are the thread's),
    so that `_decode` can count the keys the document kept (`_keys_kept`)."""

    def __init__(self) -> None:
        self.objects: list[dict[str, Any]] = []
        keep = self.objects.append

        def kept(made: dict[str, Any]) -> dict[str, Any]:
            keep(made)
            return made

        common: dict[str, Any] = {
            "parse_float": json_decimal,
            "parse_constant": _refuse_constant,
            "object_hook": kept,
        }
        self.any = json.JSONDecoder(parse_int=json_int, **common)
        self.short = json.JSONDecoder(**common)


_DECODERS = _Decoders()
# The text's marks (`_marks`): each ASCII digit as "1", the brackets, the quote
# and the colon as they are, every other byte deleted. One pass in C serves the
# integers' check, the depth's and the repeated keys' colon count (two passes
# over the whole text were a fifth of reading a 25-use quote's body; counting the
# colons in the text, four times as long as its marks, was 20K instructions of a
# 25-use body, round 64).
_DIGITS_AS_ONE = bytes(0x31 if 0x30 <= byte <= 0x39 else byte for byte in range(256))
_NEITHER_DIGIT_NOR_STRUCTURE = bytes(
    byte for byte in range(256) if not 0x30 <= byte <= 0x39 and byte not in b'{}[]":'
)
# A run of digit marks too long to be a short integer's (a longer literal has at
# least this many: "-" and the digits).
_LONG_DIGITS = b"1" * MAX_JSON_NUMBER_CHARS


def _marks(text: str) -> bytes:
    """The text's digits (as "1"), brackets, quotes and colons, in order. A colon
    is one byte in UTF-8 and no other character's bytes hold it, so the marks
    hold as many colons as the text."""
    return text.encode("utf-8", "surrogatepass").translate(
        _DIGITS_AS_ONE, _NEITHER_DIGIT_NOR_STRUCTURE
    )


def _may_hold_long_integer(marks: bytes) -> bool:
    """False when no integer literal in the text of `marks` can pass
    MAX_JSON_NUMBER_CHARS: no run of that many digit marks. A literal's digits
    are a run in the text, so a run of its marks; digits apart in the text but
    with nothing marked between them (in a string, or `[1, 2, 3]`) make one run
    too, so this errs only towards True (the decoder that reads every integer
    through `json_int`)."""
    return _LONG_DIGITS in marks


def _decode(text: str, marks: bytes) -> Any:
    if text.startswith("\ufeff"):  # json.loads refuses it, saying why
        return json.loads(
            text, parse_float=json_decimal, parse_int=json_int, parse_constant=_refuse_constant
        )
    decoders = _DECODERS
    decoder = decoders.any if _may_hold_long_integer(marks) else decoders.short
    try:
        document = decoder.decode(text)
        kept = sum(map(len, decoders.objects))
    finally:
        decoders.objects.clear()
    # Every key of the text is followed by one colon outside strings, and nothing
    # else outside strings is a colon: when the objects kept as many keys as the
    # text has colons, no key was given twice (a key given twice keeps one). Else
    # a colon is in a string, or a key repeats: `_refuse_repeated_keys` tells which,
    # unless the colons outside strings, counted exactly, are as many as the keys.
    if kept != marks.count(b":") and kept != _colons_outside_strings(text):
        _refuse_repeated_keys(text)
    return document


def _colons_outside_strings(text: str) -> int | None:
    """The colons between the text's strings, when that can be read off its quotes:
    without a backslash every quote opens or closes a string, so the parts between
    the quotes alternate outside, inside. None when the text has a backslash."""
    if "\\" in text:
        return None
    return "".join(text.split('"')[::2]).count(":")


class _Repeated(dict[str, Any]):
    """An object whose text gave a key more than once (`object_of_pairs`)."""

    key: str
    times: int


def object_of_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An `object_pairs_hook`: the object, marked when its text gave a key more
    than once (`refuse_repeated` finds and names it)."""
    made = dict(pairs)
    if len(made) == len(pairs):
        return made
    counts = collections.Counter(key for key, _ in pairs)
    repeated = _Repeated(made)
    repeated.key, repeated.times = next((k, n) for k, n in counts.items() if n > 1)
    return repeated


def _refuse_repeated_keys(text: str) -> None:
    """`RepeatedKey` for a text some object of which gives a key twice; nothing
    else. Read again with every object's pairs (slower than `_decode`'s reading, so
    only when its count of keys cannot tell)."""
    refuse_repeated(
        json.JSONDecoder(
            parse_float=json_decimal,
            parse_int=json_int,
            parse_constant=_refuse_constant,
            object_pairs_hook=object_of_pairs,
        ).decode(text)
    )


def refuse_repeated(document: Any) -> None:
    """`RepeatedKey` naming the first object (in the document's order) read with
    `object_of_pairs` that gave a key more than once, by its path; walked
    iteratively, so depth costs no recursion."""
    stack: list[tuple[Any, str]] = [(document, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, _Repeated):
            where = f"{path}.{value.key}" if path else value.key
            shown = _printable(where)
            said = f"The key {json.dumps(_printable(value.key))} is given {value.times} times"
            raise RepeatedKey(
                f"{said} in one object (at {shown}): give each key once (readers disagree "
                "on which value counts).",
                {shown: [f"{said} in one object: give each key once."]},
            )
        if isinstance(value, dict):
            children = [(item, f"{path}.{key}" if path else key) for key, item in value.items()]
        elif isinstance(value, list):
            children = [(item, f"{path}.{i}" if path else str(i)) for i, item in enumerate(value)]
        else:
            continue
        stack.extend(reversed(children))  # the first child is looked at first


def loads(text: str) -> Any:
    """Parse a request body: exact decimals, bounded numbers, depth and text.

    `json.JSONDecodeError` when it is not JSON; `InvalidInput` when it is JSON
    beyond the bounds; `RepeatedKey` (400) when an object gives a key twice (round
    55: Python took the last value, where a proxy or a log may read the first).
    """
    marks = _marks(text)
    try:
        document = _decode(text, marks)
    except NumberOutOfRange as error:
        raise InvalidInput(str(error), {"_body": [str(error)]}) from None
    except RecursionError:
        raise _too_deep("_body") from None
    if not _surely_within_bounds(text, document, marks):
        problems = _walk(document)
        if problems:
            raise InvalidInput(
                "The request has values that cannot be accepted; see errors.", problems
            )
    # The backslash first, as in `_surely_within_bounds`: one character is looked
    # for in C at memchr's pace, where "\\u" was read a character at a time (17K
    # instructions of a 25-use body with none, round 64).
    if ("\\" in text and "\\u" in text) or not (
        text.isascii() or unicodedata.is_normalized("NFC", text)
    ):
        # A string written with escapes (Python's json.dumps escapes every non-ASCII
        # character) or typed decomposed: its strings composed (kana60).
        _compose_strings(document)
    return document


# The fields whose text is kept exactly as typed, never composed: a password (its
# stored hash was made from the characters typed).
_AS_TYPED = re.compile("password", re.IGNORECASE)


def _compose_strings(document: Any) -> None:
    """Each string value in `document` (objects and arrays, in place) composed
    (`printable.composed`), but a password's; iterative, as `_walk`."""
    stack = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            items: Any = [(key, item) for key, item in value.items() if not _AS_TYPED.search(key)]
        elif isinstance(value, list):
            items = enumerate(value)
        else:
            continue
        for key, item in items:
            if isinstance(item, str):
                value[key] = composed(item)
            else:
                stack.append(item)


def check_document(document: Any) -> None:
    """Hold a document read otherwise than by `loads` (a YAML rate card) to the
    bounds `loads` puts on a body's values: nesting, unstorable text. `InvalidInput`
    naming the paths; iterative, so a deep document costs no recursion."""
    problems = _walk(document)
    if problems:
        raise InvalidInput("The document has values that cannot be accepted; see errors.", problems)


def _surely_within_bounds(text: str, document: Any, marks: bytes) -> bool:
    """Whether `_walk` would find nothing, known without walking every value (the
    walk was a tenth of a small API request). Unstorable text can only come
    from the raw text or a \\u escape; nesting is no deeper than the brackets
    counted in the text (strings included: a bound, not the depth), else than
    the brackets outside strings show (`_nesting_levels`), and else than the
    containers walked."""
    # A backslash first: one scan in C, where the two-character search took a
    # tenth of reading a 25-use quote's body; most bodies hold none.
    if "\\" in text and "\\u" in text:
        return False
    # ASCII text holds no surrogate, so only a NUL can be unstorable: one scan
    # in C instead of the pattern's (a tenth of the check on a 25-use quote).
    if "\x00" in text if text.isascii() else _UNSTORABLE.search(text):
        return False
    # The brackets counted in the marks (`_marks`) rather than in the whole
    # text (two scans of it took as long as `_nesting_levels`).
    if marks.count(b"{") + marks.count(b"[") < MAX_JSON_DEPTH:
        return True
    structure = marks.translate(None, b"1:")  # the digits and colons out: brackets, quotes
    return _nesting_levels(text, structure) is not None or not _may_be_too_deep(document)


# Every byte but the brackets and the quote, deleted; the brackets then made one kind.
_NOT_STRUCTURE = bytes(byte for byte in range(256) if byte not in b'{}[]"')
_AS_PARENTHESES = bytes.maketrans(b"{}[]", b"()()")


def _structure(text: str) -> bytes:
    """The text's brackets and quotes, in order (strings' included)."""
    return text.encode("utf-8", "surrogatepass").translate(None, _NOT_STRUCTURE)


def _nesting_levels(text: str, marks: bytes | None = None) -> int | None:
    """How deep containers nest in a parsed JSON `text`, read from its brackets
    in C, when that is at most MAX_JSON_DEPTH; None when it is more, or when the
    text cannot tell (a backslash, or a bracket inside a string).

    The walk over the document (`_may_be_too_deep`) was about a fifth of reading
    a 25-use quote's body; this takes half its time. Without a backslash every
    quote opens or closes a string, so once only the brackets and quotes are
    kept, a string holding no bracket is `""`: counted left to right, as many of
    those as half the quotes means no string holds a bracket. What is left
    without the quotes are the containers' brackets, well nested (the text
    parsed), and each pass that takes out every `()` takes out one level.
    """
    if "\\" in text:
        return None
    if marks is None:
        marks = _structure(text)
    quotes = marks.count(b'"')
    if quotes and marks.count(b'""') * 2 != quotes:
        return None
    marks = marks.translate(_AS_PARENTHESES, b'"')
    levels = 0
    while marks:
        shorter = marks.replace(b"()", b"")
        if levels == MAX_JSON_DEPTH or len(shorter) == len(marks):
            return None
        marks, levels = shorter, levels + 1
    return levels


def _may_be_too_deep(document: Any) -> bool:
    """True if some container sits at MAX_JSON_DEPTH, so its values may lie past it."""
    # One level of containers at a time, in comprehensions: a third of the time
    # of a stack of (value, depth) pairs (30 µs for a 25-use quote's body). A
    # decoded document holds no subclass of dict or list, so each value's type
    # is looked up in a set: isinstance with a tuple of types took a third more.
    level = [document] if type(document) in _CONTAINERS else []
    for _ in range(MAX_JSON_DEPTH):
        level = [
            item
            for value in level
            for item in (value.values() if type(value) is dict else value)
            if type(item) in _CONTAINERS
        ]
        if not level:
            return False
    return True


_CONTAINERS = frozenset((dict, list))


def _too_deep(path: str) -> InvalidInput:
    message = f"Nested deeper than {MAX_JSON_DEPTH} levels."
    return InvalidInput(
        f"The body is nested deeper than {MAX_JSON_DEPTH} levels.", {path: [message]}
    )


def _walk(document: Any) -> dict[str, list[str]]:
    """Problems by field path (`uses.0.description`); iterative, so depth is cheap."""
    problems: dict[str, list[str]] = {}
    stack: list[tuple[Any, str, int]] = [(document, "", 0)]
    while stack and len(problems) < 20:
        value, path, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise _too_deep(path or "_body")
        if isinstance(value, str):
            if _UNSTORABLE.search(value):
                problems[path or "_body"] = [_UNSTORABLE_MESSAGE]
        elif isinstance(value, Mapping):
            for key, item in value.items():
                where = f"{path}.{key}" if path else str(key)
                if _UNSTORABLE.search(key):
                    problems[_printable(where)] = [f"A field name. {_UNSTORABLE_MESSAGE}"]
                    continue
                stack.append((item, where, depth + 1))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                stack.append((item, f"{path}.{index}" if path else str(index), depth + 1))
    return problems


def _printable(text: str) -> str:
    return _UNSTORABLE.sub("\ufffd", text)


def storable(text: str) -> str:
    """`text` with each unstorable character replaced by U+FFFD, for what is
    recorded as received rather than refused (a browser's User-Agent)."""
    return _printable(text)


def is_storable(text: str) -> bool:
    """Whether `text` holds no character that cannot be stored."""
    return _UNSTORABLE.search(text) is None


def unstorable_text(values: Mapping[str, Any]) -> dict[str, list[str]]:
    """Problems in a flat mapping of text (query parameters, form fields)."""
    problems: dict[str, list[str]] = {}
    getlist = getattr(values, "getlist", None)
    for key in values:
        items = getlist(key) if getlist else [values[key]]
        if _UNSTORABLE.search(key) or any(
            isinstance(item, str) and _UNSTORABLE.search(item) for item in items
        ):
            problems[_printable(key)] = [_UNSTORABLE_MESSAGE]
    return problems


_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_MACHINE_PREFIXES = ("/api/", "/webhooks/")  # as licensing.web.errors: their answers are a contract
_SHOWS_ON_FORM = "shows_unstorable_on_form"
_RECORDED = "unstorable_form_fields"
_QUERY_ON_FORM = "shows_unstorable_query_on_form"
_PAGE_MESSAGE = "Contains a character that cannot be stored (a NUL character): remove it."


def shows_unstorable_on_form(view: _View) -> _View:
    """Declare that a page view's form shows a field holding an unstorable
    character beside the field (its form derives from `licensing.web.forms.PageForm`),
    so `check_request_text` records such fields for it instead of refusing the
    request with the generic page. Apply it below the route and access decorators
    (functools.wraps carries the mark up)."""
    setattr(view, _SHOWS_ON_FORM, True)
    return view


def shows_unstorable_query_on_form(view: _View) -> _View:
    """`shows_unstorable_on_form` for a page whose form is also read from the query
    string (the price estimator: an estimate is a link too), so a field of it in
    the query is recorded for the form as a posted one is. The path is still
    refused."""
    setattr(view, _QUERY_ON_FORM, True)
    return shows_unstorable_on_form(view)


def unstorable_form_fields() -> dict[str, list[str]]:
    """The submitted form's fields (by their names as posted) that hold an
    unstorable character, recorded for a view that shows them on its form."""
    recorded: dict[str, list[str]] = g.get(_RECORDED, {})
    return recorded


def check_request_text() -> None:
    """Before every request: no unstorable character in the path, the query
    string or a submitted form (JSON bodies are checked by `loads`). A page
    form posted to a view declared with `shows_unstorable_on_form` has its
    fields recorded (`unstorable_form_fields`) for the form to show instead."""
    problems = {}
    req = request._get_current_object()  # type: ignore[attr-defined]  # one context lookup
    if _UNSTORABLE.search(req.path):
        problems["path"] = [_UNSTORABLE_MESSAGE]
    if req.query_string:  # else no arguments: not worth parsing them to find none
        in_query = unstorable_text(req.args)
        if in_query and not problems and _query_shows_them(req):
            setattr(g, _RECORDED, {name: [_PAGE_MESSAGE] for name in in_query})
            return
        problems.update(in_query)
    if req.mimetype in _FORM_TYPES:
        # Cache the raw body first, so that whoever reads it next (the API's
        # body check, which answers a form with 415) still finds it.
        req.get_data(cache=True, parse_form_data=False)
        in_form = unstorable_text(req.form)
        if in_form and not problems and _form_shows_them(req):
            setattr(g, _RECORDED, {name: [_PAGE_MESSAGE] for name in in_form})
            return
        problems.update(in_form)
    if problems:
        for refuse_first in current_app.extensions.get(_REFUSALS_FIRST, ()):
            refuse_first()
        raise _refusal(req, problems)
    if req.query_string:
        _compose_posted(req, "args")
    if req.mimetype in _FORM_TYPES:
        _compose_posted(req, "form")


def _compose_posted(req: Request, part: str) -> None:
    """The request's query parameters (`part` "args") or form fields ("form"), parsed
    already, with each value composed (`printable.composed`) but a password's, so every
    view, form and service reads the composed text (kana60). A request whose values are
    all composed (ASCII ones take one check each) keeps its own."""
    values: MultiDict[str, str] = getattr(req, part)
    pairs = list(values.items(multi=True))
    made = [
        (name, value if _AS_TYPED.search(name) or not isinstance(value, str) else composed(value))
        for name, value in pairs
    ]
    if made != pairs:
        req.__dict__[part] = ImmutableMultiDict(made)
        req.__dict__.pop("values", None)  # `request.values` joins the two: made again


_REFUSALS_FIRST = "licensing.limits.refusals_first"


def register_refusal_first(app: Flask, refuse: Callable[[], None]) -> None:
    """A check that `refuse`s (raises) before a request's unstorable text is
    refused: a read-only API token's write is told its scope (`access`), not what
    to fix in a request it may not make. It runs only for a request about to be
    refused here, so nobody else's checks change order."""
    app.extensions.setdefault(_REFUSALS_FIRST, []).append(refuse)


def shows_on_form(view: object) -> bool:
    """Whether `view` is declared with `shows_unstorable_on_form`."""
    return bool(getattr(view, _SHOWS_ON_FORM, False))


def _form_shows_them(req: Request) -> bool:
    if req.path.startswith(_MACHINE_PREFIXES) or req.endpoint is None:
        return False
    return shows_on_form(current_app.view_functions.get(req.endpoint))


def _query_shows_them(req: Request) -> bool:
    if req.method != "GET" or not _form_shows_them(req):
        return False
    return bool(getattr(current_app.view_functions.get(req.endpoint or ""), _QUERY_ON_FORM, False))


# What a page calls the parts of its address a refusal may name.
_ADDRESS_WORDS = {"path": "the page's address", "q": "Search"}


def _refusal(req: Request, problems: dict[str, list[str]]) -> InvalidInput:
    if req.path.startswith(_MACHINE_PREFIXES):
        fields = ", ".join(sorted(problems))
        return InvalidInput(
            f"These fields contain a character that cannot be stored (NUL or a lone "
            f"surrogate): {fields}. Remove it and try again.",
            problems,
        )
    # A page: name the fields by their labels, and say that going back keeps
    # what was typed (this page cannot show it again).
    from licensing.web.filters import field_words  # here: licensing.web imports this module

    named = ", ".join(
        sorted(_ADDRESS_WORDS.get(name) or field_words(name) or name for name in problems)
    )
    return InvalidInput(
        f"What you sent contains a character that cannot be stored (a NUL character) in: "
        f"{named}. Go back (your browser keeps what you typed), remove the character and "
        "send it again.",
        problems,
    )


def record_id(text: str | None) -> int | None:
    """An id typed or passed as text (`"42"`): None unless it is ASCII digits
    within the id columns' range, so it can never overflow a query."""
    if text is None or not _RECORD_ID.fullmatch(text.strip()):
        return None
    number = int(text.strip())
    return number if 1 <= number <= MAX_RECORD_ID else None


def page_number(text: str | None) -> int:
    """A page number from a query string: 1 unless it is digits, at most MAX_PAGE."""
    raw = (text or "").strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > len(str(MAX_PAGE)):
        return 1
    return min(max(int(raw), 1), MAX_PAGE)


def init_app(app: Flask) -> None:
    app.before_request(check_request_text)

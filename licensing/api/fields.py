"""marshmallow fields the API shares: exact decimals, vocabularies, quantities, money."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import flask
import marshmallow as ma

from licensing import access, db
from licensing.calendar import DAY_RANGE_TEXT, FIRST_DAY, ISO_DAY, LAST_DAY
from licensing.errors import DomainError, IllegalTransition
from licensing.limits import MAX_PAGE, MAX_RECORD_ID
from licensing.money import MoneyError, format_amount, parse_decimal
from licensing.pricing import ProposedUse
from licensing.pricing.quote import quantity_limit_message, revenue_limit_message
from licensing.words import FIELD_REQUIRED, at_most_characters

MAX_UNIT_NAME = 64


# marshmallow's own sentence for an absent required field, which `ApiSchema` replaces.
MARSHMALLOW_REQUIRED = ma.fields.Field.default_error_messages["required"]


class ApiSchema(ma.Schema):
    """The base of every API schema: an absent required field is refused in the
    pages' sentence, "This field is required." (`words.FIELD_REQUIRED`), as an
    empty one is (`Text`), rather than marshmallow's "Missing data for required
    field.". A field given its own `required` message keeps it."""

    def __deepcopy__(self, memo: dict[int, Any]) -> ApiSchema:
        """The schema itself: a copy of the API's documentation shares its schemas.

        flask-smorest deep-copies a view's documentation (`_apidoc`) at every
        decorator and again as the route is registered, and each wrapper keeps its
        copy; a schema instance in it was copied with its bound fields every time
        (round 49: 15 MB of every process importing the app, traced). No
        one changes a schema instance once it is made (marshmallow binds its fields
        in `__init__`; apispec reads a schema, and the documentation's dicts, not
        the schema, are what it rewrites), so the copies can share it.
        """
        return self

    def on_bind_field(self, field_name: str, field_obj: ma.fields.Field[Any]) -> None:
        if field_obj.error_messages.get("required") == MARSHMALLOW_REQUIRED:
            field_obj.error_messages = _shared_messages(
                {**field_obj.error_messages, "required": FIELD_REQUIRED}
            )


# One dict for each distinct set of a field's messages, shared by every bound field
# that has it (round 65): a dict each was some 6,000 dicts and 0.6 MB in every process
# (tests/unit/test_start_up_memory.py), where a few dozen differ. Nothing changes a
# field's messages once it is bound (marshmallow only reads them, in `make_error`).
_MESSAGES: dict[tuple[tuple[str, Any], ...], dict[str, Any]] = {}


def _shared_messages(messages: dict[str, Any]) -> dict[str, Any]:
    try:
        return _MESSAGES.setdefault(tuple(messages.items()), messages)
    except TypeError:  # a message that is not hashable (a list): kept as it is
        return messages


class Text(ma.validate.Length):
    """A text's length, refused in the project's sentences: empty where it must be
    `filled`, "This field is required." (the pages' sentence for a missing field);
    past `limit`, "At most 2,000 characters." (`words.at_most_characters`, as
    services and pages say it) rather than marshmallow's "Length must be between
    1 and 2000.". A `Length` still, so the OpenAPI document shows its bounds."""

    def __init__(self, limit: int, *, filled: bool = False) -> None:
        super().__init__(min=1 if filled else None, max=limit)

    def __call__(self, value: Any) -> Any:
        if self.min is not None and len(value) < self.min:
            raise ma.ValidationError(FIELD_REQUIRED)
        if self.max is not None and len(value) > self.max:
            raise ma.ValidationError(at_most_characters(self.max))
        return value


class Required(ma.fields.String):
    """A text that must say something, refused in `message` (the service's and the
    pages' words) whether it is absent, null, empty or blank; trimmed, and at most
    `limit` characters (`Text`). One message for each way it can be missing, where an
    absent or empty one said "This field is required." and a blank one the service's."""

    def __init__(self, limit: int, message: str, **kwargs: Any) -> None:
        super().__init__(
            required=True,
            # `filled` for the document's minLength: an empty text is refused above.
            validate=Text(limit, filled=True),
            error_messages={"required": message, "null": message},
            **kwargs,
        )
        self.message = message

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if not text:
            raise ma.ValidationError(self.message)
        return text


class Day(ma.fields.Date):
    """A calendar day written YYYY-MM-DD, and no other way (`calendar.ISO_DAY`:
    marshmallow's Date would also read "20270101")."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        if not isinstance(value, str) or not ISO_DAY.fullmatch(value):
            raise self.make_error("invalid")
        day: date = super()._deserialize(value, attr, data, **kwargs)
        if not FIRST_DAY <= day <= LAST_DAY:  # `calendar.parse_day`'s bounds
            raise ma.ValidationError(f"Must be a day {DAY_RANGE_TEXT}.")
        return day


class Month(ma.fields.Field[date]):
    """A month written YYYY-MM (ASCII digits), read as its first day; within the
    calendar's days (`calendar.FIRST_DAY` to `LAST_DAY`)."""

    def __init__(self, **kwargs: Any) -> None:
        documented = {"type": "string", "pattern": f"^{_MONTH.pattern}$", "example": "2027-01"}
        super().__init__(metadata={**documented, **kwargs.pop("metadata", {})}, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        if not isinstance(value, str) or not _MONTH.fullmatch(value):
            raise ma.ValidationError("Not a month: write it YYYY-MM, e.g. 2027-03.")
        first = date(int(value[:4]), int(value[5:]), 1)
        if not FIRST_DAY.replace(day=1) <= first <= LAST_DAY:
            raise ma.ValidationError(f"Must be a month from {FIRST_DAY:%Y-%m} to {LAST_DAY:%Y-%m}.")
        return first

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else f"{value:%Y-%m}"


_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


class RecordId(ma.fields.Integer):
    """An integer whose text, when given as text (a query string), is ASCII digits:
    int() also reads Arabic-Indic or mathematical digits (12, 9), ids nobody typed as such.
    A number with a fraction names no record (round 49: marshmallow's int() cut
    `"passkey_id": 2.9` to passkey 2, and removed it); `2.0` is the number 2."""

    def _validated(self, value: Any) -> int:
        if isinstance(value, str) and not value.isascii():
            raise self.make_error("invalid")
        # JSON's numbers with a point or an exponent arrive as Decimal (limits.json_decimal).
        # (Its size first: the JSON edge bounds exponents, other callers may not.)
        if isinstance(value, Decimal) and not (
            value.is_finite()
            and value.adjusted() <= len(str(MAX_RECORD_ID))
            and value == value.to_integral_value()
        ):
            raise self.make_error("invalid")
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid")
        validated: int = super()._validated(value)
        return validated


def record_id(**kwargs: Any) -> ma.fields.Integer:
    """The id of a record, bounded to the id columns' range: a larger number is a
    422 naming the range, never a database overflow."""
    return RecordId(validate=ma.validate.Range(min=1, max=MAX_RECORD_ID), **kwargs)


def page_number() -> ma.fields.Integer:
    """`page` of a paginated list: 1 to MAX_PAGE."""
    return ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=MAX_PAGE))


class DecimalText(ma.fields.Field[Decimal]):
    """A non-negative decimal given as a string ("1250.00") or a JSON number,
    read exactly as its decimal text; never a binary float."""

    def __init__(
        self,
        *,
        allow_negative: bool = False,
        metadata: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        metadata = {"type": "string", "example": "120000.00", **(metadata or {})}
        super().__init__(metadata=metadata, **kwargs)
        self.allow_negative = allow_negative

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise ma.ValidationError('Must be a decimal number such as "1250.00".')
        try:
            return parse_decimal(value, allow_negative=self.allow_negative)
        except MoneyError as exc:
            raise ma.ValidationError(f"Must be a decimal number: {exc}.") from None

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else f"{value:f}"


def revenue_field() -> DecimalText:
    """A use's expected revenue: a decimal up to the use's limit (`ProposedUse`)."""
    return DecimalText(
        load_default=None,
        allow_none=True,
        validate=ma.validate.Range(max=ProposedUse.MAX_REVENUE, error=revenue_limit_message()),
    )


class MoneyString(ma.fields.Field[Decimal]):
    """An amount leaving the service: a string with the currency's minor-unit digits.

    The currency is read from `currency_attribute` of the object being dumped.
    """

    def __init__(
        self,
        currency_attribute: str = "currency",
        *,
        metadata: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        metadata = {"type": "string", "example": "33800.00", **(metadata or {})}
        super().__init__(metadata=metadata, **kwargs)
        self.currency_attribute = currency_attribute

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, str):
            return value
        currency: str = (
            obj[self.currency_attribute]
            if isinstance(obj, Mapping)
            else getattr(obj, self.currency_attribute)
        )
        return format_amount(Decimal(value), currency)


def vocabulary(values: Iterable[str], **kwargs: Any) -> ma.fields.String:
    """A string restricted to a vocabulary; an unknown value is a 422, never a default."""
    allowed = tuple(values)
    metadata = {"enum": list(allowed), **kwargs.pop("metadata", {})}
    return ma.fields.String(
        validate=ma.validate.OneOf(allowed, error="Must be one of: {choices}."),
        metadata=metadata,
        **kwargs,
    )


class Quantities(ma.fields.Field[dict[str, int]]):
    """`{"end_users": 2500}`: unit names to non-negative whole numbers.

    Errors are keyed by the unit, so their path reads `uses.0.quantity.end_users`.
    """

    def __init__(self, *, metadata: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        metadata = {
            "type": "object",
            "additionalProperties": {"type": "integer", "minimum": 0},
            "example": {"end_users": 2500},
            **(metadata or {}),
        }
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> dict[str, int]:
        if not isinstance(value, Mapping):
            raise ma.ValidationError("Must be an object mapping unit names to whole numbers.")
        problems: dict[str, list[str]] = {}
        quantities: dict[str, int] = {}
        for unit, amount in value.items():
            if not isinstance(unit, str) or not unit.strip() or len(unit) > MAX_UNIT_NAME:
                problems[str(unit)[:MAX_UNIT_NAME]] = [
                    f"Unit names are 1 to {MAX_UNIT_NAME} characters."
                ]
                continue
            if isinstance(amount, bool) or not isinstance(amount, int):
                problems[unit] = ["Must be a whole number."]
            elif amount < 0:
                problems[unit] = ["Must not be negative."]
            elif amount > ProposedUse.MAX_QUANTITY:
                problems[unit] = [quantity_limit_message()]
            else:
                quantities[unit] = amount
        if problems:
            raise ma.ValidationError(problems)
        return quantities

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return dict(value) if value is not None else None


# --- what computed fields hold, for the OpenAPI document ------------------------------
# A `fields.Method` is documented as nothing at all (`{"readOnly": true}`): these
# say what it writes, so a client generated from the document knows the shape.


def documented(method: str, schema: Mapping[str, Any], **kwargs: Any) -> ma.fields.Method:
    """A computed field documented as the OpenAPI `schema` given."""
    metadata = {**schema, **kwargs.pop("metadata", {})}
    return ma.fields.Method(method, metadata=metadata, **kwargs)


STRINGS: Mapping[str, Any] = {"type": "array", "items": {"type": "string"}}


class Percent(ma.fields.Field[Decimal]):
    """A percentage written as its plain decimal ("1.5"), whatever the column's
    scale (a NUMERIC(7, 4) reads back as 1.5000)."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"type": "string", "example": "1.5", **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, dump_only=True, **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else f"{Decimal(value).normalize():f}"


def allowed_actions_field(method: str = "_allowed") -> ma.fields.Method:
    """The steps the caller may take on the record now (`callers_actions`)."""
    return documented(
        method,
        STRINGS,
        metadata={
            "description": "What the caller may do to the record now: the steps its "
            "state allows whose route admits the caller by its role (a vendor never sees "
            "a staff step, billing staff never a licensing step, nobody a step the "
            "service takes, such as `expire`), and whose own check would not refuse it "
            "now; a read-only token takes none. Each is accepted when taken now; any "
            "other is refused (403 or 409). docs/api.md has the table by role.",
            "example": ["accept"],
        },
    )


def callers_actions(
    allowed: Iterable[str],
    routes: Mapping[str, str],
    *,
    refused: Callable[[str], bool] | None = None,
    holds_link: bool = False,
) -> list[str]:
    """Of the steps `allowed` by a record's state, those the caller may take now.

    Round 57: for every caller, staff too (staff saw every step the state allows,
    so billing staff were offered `terminate` and `accept`, and licensing staff
    `void`), a step is listed only when
    - the API route that takes it, named by its endpoint in `routes`, admits the
      caller by its `access` declaration: the same roles check the route makes.
      A step without a route (the service's, such as `settle` or `expire`) is
      nobody's;
    - a public route's step (a permission request's requester's, taken with its
      status link's token) is listed only to a caller reading the record through
      that link (`holds_link`): nobody else holds the token it needs;
    - the caller is not a read-only API token (every step's route writes);
    - `refused(step)`, the step's own check on the record as read (the organization's
      standing, a deadline, who escalated it: nothing that needs a statement per
      row), does not refuse it.
    Outside a request (no caller) every step the state allows but those `refused`.
    """
    steps = list(allowed)
    if flask.has_request_context():
        principal = access.current_principal()
        if principal is not None and principal.read_only:
            return []
        app = flask.current_app
        steps = [step for step in steps if _admits(app, routes.get(step), principal, holds_link)]
    # The record's own checks last: only for the steps the caller would be offered.
    return [step for step in steps if refused is None or not refused(step)]


@dataclass(frozen=True)
class StepsOf:
    """How a kind of record's steps are read for the caller (`steps_of`): the route
    of each step, the caller's steps of a record (the function its
    `allowed_actions` is, so a 409 and a read of the record say the same), and how
    the record is read by each path argument that names it."""

    routes: Mapping[str, str]
    steps: Callable[[Any], list[str]] | None
    reads: Mapping[str, Callable[[Any], Any]]


# By the entity its state machine names (`IllegalTransition.entity`).
_STEPS_OF: dict[str, StepsOf] = {}


def steps_of(
    entity: str,
    routes: Mapping[str, str],
    steps: Callable[[Any], list[str]] | None = None,
    /,
    **reads: Callable[[Any], Any],
) -> None:
    """Declare how a 409 of `entity`'s machine lists the caller's steps (round 58):
    `steps(record)`, its `allowed_actions`, of the record the request's path names,
    read by `reads[argument](value)` as its GET reads it (`invoice_id=...`); where
    the path names none, or `steps` is not given (a royalty report's review, an
    email's retry), the steps its state allows whose `routes` admit the caller."""
    _STEPS_OF[entity] = StepsOf(routes, steps, reads)


def read_with_session(read: Callable[[Any, Any], Any]) -> Callable[[Any], Any]:
    """`read(session, value)` as a `steps_of` read of the request's session."""
    return lambda value: read(db.session(), value)


def callers_steps_refused(error: IllegalTransition) -> list[str]:
    """The `allowed_actions` of the 409 `error` answers: the caller's own, as reading
    the record would list them (round 58: it listed every step the state allows,
    whoever may take them, so a vendor refused `submit` was told `approve`).

    The record the request's path names (or the one the use case named,
    `IllegalTransition.record_id`: round 59, a royalty report amended at its period's
    address) is read again (the refused step's transaction rolled back) through the
    same read as its GET, so a vendor reads only their own; where the path names none
    of its kind, or the record is not theirs to read, the steps its state allows that
    the caller's role may take (`callers_actions` without the record's own checks). A
    kind with no routes declared (a dispute: Stripe's steps) lists none."""
    kind = _STEPS_OF.get(error.entity)
    if kind is None:
        return callers_actions(error.allowed, {})
    path = flask.request.view_args or {}
    named = [(read, path[argument]) for argument, read in kind.reads.items() if argument in path]
    if error.record_id is not None:  # the record the use case named (round 59)
        named = [(read, error.record_id) for read in kind.reads.values()][:1]
    if kind.steps is not None and named:
        read, value = named[0]
        try:
            return kind.steps(read(value))
        except DomainError:  # not the caller's to read: their role's steps alone
            pass
    return callers_actions(error.allowed, kind.routes)


def _admits(
    app: flask.Flask, endpoint: str | None, principal: access.Principal | None, holds_link: bool
) -> bool:
    declaration = access.declaration_for(app, endpoint) if endpoint else None
    if declaration is None:
        return False
    if declaration.public:
        return holds_link
    return declaration.admits(principal)

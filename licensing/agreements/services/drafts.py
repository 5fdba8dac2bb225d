"""A vendor writes an application: create a draft, change it (while it is a draft
or returned). The input is cleaned here; completeness is checked on submission."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from licensing import db
from licensing.access import Principal
from licensing.actors import Actor
from licensing.agreements.models import (
    DELIVERIES,
    DESCRIPTION_MAX,
    LANGUAGES_MAX,
    MAX_USES,
    PRODUCT_NAME_MAX,
    TERRITORIES_MAX,
    Application,
)
from licensing.agreements.services._common import (
    _audit,
    _Errors,
    _new_draft,
    _now,
    _owned,
    _require_vendor,
    _text,
    _write_uses,
    as_actor,
)
from licensing.agreements.states import EDITABLE
from licensing.audit import services as audit
from licensing.errors import Conflict
from licensing.money import (
    MoneyError,
    parse_decimal,
)
from licensing.pricing import ProposedUse
from licensing.pricing.quote import quantity_limit_message, revenue_limit_message
from licensing.pricing.vocabulary import PRODUCT_TYPES, USER_TYPES, USES


def _choice(value: Any, path: str, allowed: Sequence[str], errors: _Errors) -> str:
    if value not in allowed:
        errors.add(path, f"Must be one of: {', '.join(allowed)}.")
        return allowed[0]
    return str(value)


def _languages(value: Any, path: str, errors: _Errors) -> list[str]:
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        errors.add(path, "Must be a list of languages.")
        return []
    cleaned = list(dict.fromkeys(str(item).strip() for item in items if str(item).strip()))
    if len(", ".join(cleaned)) > LANGUAGES_MAX:
        errors.add(path, f"At most {LANGUAGES_MAX} characters in all.")
    return cleaned


def _quantity(value: Any, path: str, errors: _Errors) -> dict[str, int]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        errors.add(path, "Must map unit names to whole numbers.")
        return {}
    quantities: dict[str, int] = {}
    for unit, amount in value.items():
        if not isinstance(unit, str) or not unit.strip() or len(unit) > 64:
            errors.add(path, "Unit names are 1 to 64 characters.")
        elif isinstance(amount, bool) or not isinstance(amount, int):
            errors.add(f"{path}.{unit}", "Must be a whole number.")
        elif amount < 0:
            errors.add(f"{path}.{unit}", "Must be 0 or more.")
        elif amount > ProposedUse.MAX_QUANTITY:
            errors.add(f"{path}.{unit}", quantity_limit_message())
        else:
            quantities[unit.strip()] = amount
    return quantities


def _amount(value: Any, path: str, errors: _Errors) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        errors.add(path, 'Must be a decimal amount such as "120000.00".')
        return None
    try:
        amount = parse_decimal(str(value).replace(",", "").strip())
    except MoneyError as exc:
        errors.add(path, f"Must be a decimal amount, 0 or more ({exc}).")
        return None
    if amount.as_tuple().exponent < -4:  # type: ignore[operator]
        errors.add(path, "At most 4 decimal places.")
        return None
    if amount > ProposedUse.MAX_REVENUE:
        errors.add(path, revenue_limit_message())
        return None
    return amount


def _clean_use(raw: Any, prefix: str, errors: _Errors) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        errors.add(prefix, "Each use is an object.")
        return {}
    return {
        "product_name": _text(
            raw.get("product_name"), f"{prefix}.product_name", PRODUCT_NAME_MAX, errors
        ),
        "description": _text(
            raw.get("description"), f"{prefix}.description", DESCRIPTION_MAX, errors
        ),
        "use": _choice(raw.get("use"), f"{prefix}.use", USES, errors),
        "product_type": _choice(
            raw.get("product_type"), f"{prefix}.product_type", PRODUCT_TYPES, errors
        ),
        "user_type": _choice(raw.get("user_type"), f"{prefix}.user_type", USER_TYPES, errors),
        "delivery": _choice(
            raw.get("delivery") or DELIVERIES[0], f"{prefix}.delivery", DELIVERIES, errors
        ),
        "territories": _text(
            raw.get("territories"), f"{prefix}.territories", TERRITORIES_MAX, errors
        ),
        "languages": _languages(raw.get("languages"), f"{prefix}.languages", errors),
        "quantity": _quantity(raw.get("quantity"), f"{prefix}.quantity", errors),
        "revenue": _amount(raw.get("revenue"), f"{prefix}.revenue", errors),
    }


@dataclass(frozen=True)
class Draft:
    """What a vendor writes in an application (all optional until submission)."""

    term_start: date | None = None
    term_end: date | None = None
    rate_card: str | None = None
    uses: Sequence[Mapping[str, Any]] = ()


def _clean(draft: Draft) -> tuple[Draft, list[dict[str, Any]]]:
    errors = _Errors()
    if not draft.uses:
        errors.add("uses", "Describe at least one use.")
    elif len(draft.uses) > MAX_USES:
        errors.add("uses", f"At most {MAX_USES} uses in one application.")
    uses = [_clean_use(raw, f"uses.{i}", errors) for i, raw in enumerate(draft.uses[:MAX_USES])]
    if draft.term_start and draft.term_end and draft.term_end < draft.term_start:
        errors.add("term_end", "The term cannot end before it starts.")
    rate_card = (draft.rate_card or "").strip() or None
    if rate_card and len(rate_card) > 64:
        errors.add("rate_card", "At most 64 characters.")
    errors.raise_if_any()
    return dataclasses.replace(draft, rate_card=rate_card), uses


def create_draft(
    actor: Actor | Principal, draft: Draft, *, now: datetime | None = None
) -> Application:
    """A new draft application of the vendor's organization (good standing required)."""
    actor = as_actor(actor)
    moment = _now(now)
    _require_vendor(actor)
    cleaned, uses = _clean(draft)
    with db.transaction() as session:
        return _new_draft(
            session,
            actor,
            term=(cleaned.term_start, cleaned.term_end),
            rate_card=cleaned.rate_card,
            uses=uses,
            now=moment,
        )


def update_draft(
    application_id: int, actor: Actor | Principal, draft: Draft, *, now: datetime | None = None
) -> Application:
    """Save the vendor's changes to a draft or a returned application."""
    actor = as_actor(actor)
    _require_vendor(actor)
    cleaned, uses = _clean(draft)
    with db.transaction() as session:
        application = _owned(session, Application, application_id, actor)
        if application.state not in EDITABLE:
            raise Conflict(
                f"{application.reference} is {application.state.replace('_', ' ')}; only drafts "
                "and applications returned for more information can be changed."
            )
        before = application.snapshot()
        application.term_start = cleaned.term_start
        application.term_end = cleaned.term_end
        application.rate_card = cleaned.rate_card
        _write_uses(application, uses)
        application.updated_at = _now(now)
        session.flush()
        old, new = audit.changed_fields(before, application.snapshot())
        _audit(
            session,
            actor,
            action="application.updated",
            entity_type="application",
            entity_id=application.id,
            before=old,
            after={**new, "uses": len(uses)},
        )
        return application

"""A statement of account: one organization's movements in one currency between
two office days, checked here so the portal, the console and the API refuse the
same things in the same words (`billing/statements.py` reads and sums it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from licensing.accounts.models import Organization
from licensing.billing.statements import Statement, currencies_billed, statement_of_account
from licensing.calendar import office_date, parse_day
from licensing.errors import InvalidInput
from licensing.money import is_currency

# The longest statement: a year (a leap year's 366 days), the period an accountant
# or auditor asks for at year-end. The PDF carries every movement of the range and
# the page lists them all, so the range bounds both; a longer history is several
# statements, each opening with the last one's closing balance.
MAX_DAYS = 366
# No ledger is older: a day before it is a typing slip (0027 for 2027).
EARLIEST = date(2000, 1, 1)
DEFAULT_CURRENCY = "USD"


@dataclass(frozen=True)
class Asked:
    """What the caller asked for, as typed (None: not given). `twelve_months`: a
    `start` not given is the day after the same day a year before the end (the pages'
    default since round 67: a licensee invoiced and paid in December read an empty
    statement in January); else the first of January of the end's year (the API's,
    as documented)."""

    start: str | None = None
    end: str | None = None
    currency: str | None = None
    twelve_months: bool = False


def twelve_months_to(end: date) -> date:
    """The first day of the twelve months ending on `end`: the day after the same day
    a year before (a February 29 counts from February 28): 365 days, or 366 across a
    leap day, within `MAX_DAYS`."""
    try:
        year_before = end.replace(year=end.year - 1)
    except ValueError:  # February 29
        year_before = end.replace(year=end.year - 1, day=28)
    return year_before + timedelta(days=1)


def _day(text: str | None, default: date, field: str, errors: dict[str, list[str]]) -> date:
    if text is None or not text.strip():
        return default
    try:
        day = parse_day(text.strip())
    except ValueError:
        errors[field] = ["Enter a date as YYYY-MM-DD, e.g. 2027-01-31."]
        return default
    return day


def _range(asked: Asked, today: date, errors: dict[str, list[str]]) -> tuple[date, date]:
    end = _day(asked.end, today, "to", errors)
    opening = twelve_months_to(end) if asked.twelve_months else date(end.year, 1, 1)
    start = _day(asked.start, opening, "from", errors)
    if errors:
        return start, end
    if end > today:
        errors["to"] = [f"Must be today ({today.isoformat()}) or earlier: later days are not over."]
    if start < EARLIEST:
        errors["from"] = [f"Must be {EARLIEST.isoformat()} or later."]
    elif start > end:
        errors["from"] = [f"Must be on or before to ({end.isoformat()})."]
    elif (end - start).days + 1 > MAX_DAYS:
        latest = start + timedelta(days=MAX_DAYS - 1)
        errors["to"] = [
            f"A statement covers at most {MAX_DAYS} days (a year): "
            f"make it {latest.isoformat()} or earlier, and ask for the rest separately."
        ]
    return start, end


def _currency(
    asked: str | None, billed: list[str], organization: Organization, errors: dict[str, list[str]]
) -> str:
    """The currency asked for, or the default one. Only a currency the organization
    was invoiced in is given, and the office's own (USD) before its first invoice:
    a statement in any other would be zeros, which reads as "nothing owed" to an
    accountant who mistyped the code (round 27: an organization never invoiced was
    given zeros in any currency while an invoiced one was refused)."""
    if asked is None or not asked.strip():
        if DEFAULT_CURRENCY in billed or not billed:
            return DEFAULT_CURRENCY
        return billed[0]
    code = asked.strip().upper()
    if not is_currency(code):
        errors["currency"] = [f"{asked.strip()} is not an ISO 4217 currency code."]
    elif billed and code not in billed:
        errors["currency"] = [
            f"{organization.legal_name} was not invoiced in {code} (it was in {', '.join(billed)})."
        ]
    elif not billed and code != DEFAULT_CURRENCY:
        errors["currency"] = [
            f"{organization.legal_name} has not been invoiced yet: its statement is in "
            f"{DEFAULT_CURRENCY} until it is invoiced in {code}."
        ]
    return code


def statement_for(
    session: Session, organization: Organization, asked: Asked, *, now: datetime
) -> Statement:
    """The statement the caller asked for, defaulting to this year so far in the
    organization's first currency (USD when it was invoiced in it); `InvalidInput`
    naming each field (`from`, `to`, `currency`) otherwise. The caller has already
    checked that it may see `organization` (another's is a 404)."""
    errors: dict[str, list[str]] = {}
    start, end = _range(asked, office_date(now), errors)
    billed = currencies_billed(session, organization.id)
    currency = _currency(asked.currency, billed, organization, errors)
    if errors:
        raise InvalidInput("The statement's dates or currency have problems.", errors)
    return statement_of_account(session, organization, currency, start, end, as_of=now)

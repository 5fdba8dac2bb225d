"""The licensing office's calendar: US business days and local dates.

Deadlines such as "5 US business days to resubmit" or "a decision within 10
business days" are counted in the office's own time zone, skipping weekends and
US federal holidays (from the `holidays` package), so a vendor in another zone
gets the same deadline as the office sees on its calendar.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

OFFICE_TIMEZONE = ZoneInfo("America/Chicago")

# A day as the contracts and every form write it. Python 3.11's date.fromisoformat
# also reads "20270101" and "2027-W01-1", which no page or API promises.
ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# The days the service reads. Filters and periods step past the day they are
# given (a filter to 9999-12-31 asked for the day after it: OverflowError), so a
# year of room is kept at the end, as the finance page's years always kept.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(9998, 12, 31)
DAY_RANGE_TEXT = f"from {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}"


def parse_day(text: str) -> date:
    """A calendar day written YYYY-MM-DD and no other way; ValueError otherwise."""
    if not ISO_DAY.fullmatch(text):
        raise ValueError(f"{text!r} is not a day written YYYY-MM-DD")
    day = date.fromisoformat(text)
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"{text!r} is not a day {DAY_RANGE_TEXT}")
    return day


@lru_cache(maxsize=32)
def _us_holidays(year: int) -> frozenset[date]:
    # Imported where a year's holidays are first asked for, not with the app: the
    # package (and dateutil under it) is 3.6 MB resident that a process which counts
    # no business day (a quote, an export, most pages) need not hold (round 50).
    import holidays

    return frozenset(holidays.country_holidays("US", years=year))


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _us_holidays(day.year)


def office_date(moment: datetime) -> date:
    """The calendar date at the office when `moment` happened."""
    return moment.astimezone(OFFICE_TIMEZONE).date()


# A pure function of its arguments (the holidays are fixed), asked again and again
# for the same days of submission by every queue page and review level.
@lru_cache(maxsize=4096)
def add_business_days(start: date, days: int) -> date:
    """The business day that is `days` business days after `start`.

    `start` itself does not count: returned on a Friday with 5 days to answer,
    the last day is the following Friday (no holidays in between).
    """
    if days < 0:
        raise ValueError("days must not be negative")
    current = start
    remaining = days
    while remaining:
        current += timedelta(days=1)
        if is_business_day(current):
            remaining -= 1
    return current


def business_days_between(start: date, end: date) -> int:
    """Business days after `start` up to and including `end` (0 when end <= start).

    Counted by whole weeks, then the days left over, then less the holidays on a
    weekday in between, rather than day by day: a queue page of applications
    waiting for months spent milliseconds here (50 days of submission, each
    walked to today). `is_business_day` decides each day the same way."""
    if end <= start:
        return 0
    weeks, rest = divmod((end - start).days, 7)
    first = start.weekday()
    count = weeks * 5 + sum(1 for offset in range(1, rest + 1) if (first + offset) % 7 < 5)
    return count - sum(
        1
        for year in range(start.year, end.year + 1)
        for holiday in _us_holidays(year)
        # A day is a holiday when its own year's set has it (as is_business_day asks).
        if holiday.year == year and start < holiday <= end and holiday.weekday() < 5
    )


def office_day_start(day: date) -> datetime:
    """The first instant of `day` at the office, in UTC."""
    return datetime.combine(day, time.min, tzinfo=OFFICE_TIMEZONE).astimezone(UTC)


# The latest a day starts at the office after the midnight (UTC) of the same date:
# 06:00 UTC, midnight in US Central standard time; under daylight time the day starts
# at 05:00 UTC (round 50: the expiry run's claim leaves out, in SQL, the agreements
# issued by then the day after their term). A unit test checks it on every day.
OFFICE_DAY_STARTS_BY = timedelta(hours=6)


def end_of_office_day(day: date) -> datetime:
    """The last instant of `day` at the office, in UTC: when a deadline on `day` passes."""
    local = datetime.combine(day + timedelta(days=1), time.min, tzinfo=OFFICE_TIMEZONE)
    return local.astimezone(UTC) - timedelta(microseconds=1)


def later_by_business_days(moment: datetime, days: int) -> datetime:
    """`moment` moved `days` business days later, at the same time of the office
    day: the review clock after a wait on the vendor (its office day counted on as
    `add_business_days` counts, so a due date read from it moves by `days` too)."""
    local = moment.astimezone(OFFICE_TIMEZONE)
    day = add_business_days(local.date(), days)
    return datetime.combine(
        day, local.timetz().replace(tzinfo=None), tzinfo=OFFICE_TIMEZONE
    ).astimezone(UTC)


def business_deadline(moment: datetime, days: int) -> datetime:
    """The instant `days` business days after `moment` runs out (end of that office day)."""
    return end_of_office_day(add_business_days(office_date(moment), days))


OFFICE_ZONE_NAME = "US Central time"

# Days in words (round 56), in English whatever the process's locale: `%B` and `%A`
# follow LC_TIME, and a document's bytes must not depend on the host they are drawn on.
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def day_text(day: date) -> str:
    """A calendar day as a person reads it in what the service sends out (emails and
    PDFs, round 56): "December 6, 2026", as the office's deadlines have always said
    their days. The one place that writes a day in words; pages' tables, exports and
    the API keep YYYY-MM-DD (`date.isoformat`), which sorts and parses."""
    return f"{MONTH_NAMES[day.month - 1]} {day.day}, {day.year}"


def month_text(day: date) -> str:
    """The month `day` is in, where a month is meant: "December 2026"."""
    return f"{MONTH_NAMES[day.month - 1]} {day.year}"


def days_text(first: date, last: date) -> str:
    """A run of days, both included: "January 1, 2027 to December 31, 2027"."""
    return f"{day_text(first)} to {day_text(last)}"


def _clock(local: datetime, *, seconds: bool = False) -> str:
    """A time of day at the office, on the 12-hour clock: "3:05 PM", "11:38:07 PM"."""
    hour = local.hour % 12 or 12
    minutes = f"{local.minute:02d}" + (f":{local.second:02d}" if seconds else "")
    return f"{hour}:{minutes} {'AM' if local.hour < 12 else 'PM'}"


def moment_text(moment: datetime, *, seconds: bool = False, clock_first: bool = False) -> str:
    """An instant in what the service sends out, at the office with its zone named:
    "December 5, 2026 at 11:38 PM (US Central time)"; `seconds` to tell apart two
    moments of one minute (a card payment's start). `clock_first` after "at" (round
    59): "11:38 PM on December 5, 2026 (US Central time)", where "at December 5, 2026
    at 11:38 PM" would say "at" twice."""
    local = moment.astimezone(OFFICE_TIMEZONE)
    clock = _clock(local, seconds=seconds)
    if clock_first:
        return f"{clock} on {day_text(local.date())} ({OFFICE_ZONE_NAME})"
    return f"{day_text(local.date())} at {clock} ({OFFICE_ZONE_NAME})"


def deadline_text(moment: datetime) -> str:
    """A deadline as the office states it: "the end of Tuesday, November 10, 2026 (US
    Central time)" when it is the end of an office day, else the office's time."""
    local = moment.astimezone(OFFICE_TIMEZONE)
    day = f"{WEEKDAY_NAMES[local.weekday()]}, {day_text(local.date())}"
    if moment >= end_of_office_day(local.date()) - timedelta(seconds=1):
        return f"the end of {day} ({OFFICE_ZONE_NAME})"
    return f"{day} at {_clock(local)} ({OFFICE_ZONE_NAME})"


def when_text(moment: datetime) -> str:
    """`deadline_text` after a verb ("expired", "closed", "ended", "passed"): "at the
    end of Tuesday, March 2, 2027 (US Central time)", or "on Tuesday, March 2, 2027
    at 3:00 PM (US Central time)". Round 34: the sentences said "expired on the end
    of Tuesday" and "ended the end of Tuesday"."""
    text = deadline_text(moment)
    return f"at {text}" if text.startswith("the end of ") else f"on {text}"


def instant_iso(
    moment: datetime, *, to_the_second: bool = False, to_the_millisecond: bool = False
) -> str:
    """An instant as the service writes it for machines, in answers and problem
    documents alike: ISO 8601 in UTC, the zone written `+00:00`, fractions of a
    second only where there are some ("2027-02-10T15:00:00+00:00",
    "2027-02-10T15:00:00.250000+00:00"), as marshmallow writes a UTC `DateTime` field
    and the exports write their time stamps (exports.md). Round 42: problem documents
    wrote `Z` to the second, so a 401's `expired_at` and the token list's
    `expires_at` of the same token were two strings. `to_the_second` for a sentence
    (a `detail`, `/readyz`'s `jobs_detail`, `jobs status`): the same spelling, without
    the fraction; a time of day alone named no day. `to_the_millisecond` for a log
    line's stamp, always three digits so the lines' stamps line up (round 44: `/readyz`
    and the logs wrote `Z`, the API `+00:00`)."""
    moment = moment.astimezone(UTC)
    if to_the_millisecond:
        return moment.isoformat(timespec="milliseconds")
    return (moment.replace(microsecond=0) if to_the_second else moment).isoformat()


def instant_text(moment: datetime, *, seconds: bool = False) -> str:
    """When something happened, at the office to the minute (`seconds`: to the
    second), with the zone named as deadlines name it: "2026-11-16 09:00 (US Central
    time)". Pages only: emails and PDFs say `moment_text`, exports and the API give
    instants in UTC, ISO 8601."""
    local = moment.astimezone(OFFICE_TIMEZONE)
    clock = f"{local:%H:%M:%S}" if seconds else f"{local:%H:%M}"
    return f"{local:%Y-%m-%d} {clock} ({OFFICE_ZONE_NAME})"

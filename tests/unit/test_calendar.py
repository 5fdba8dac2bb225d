"""US business days, counted on the office's calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from licensing import calendar


def test_weekends_do_not_count() -> None:
    friday = date(2027, 3, 5)
    assert calendar.add_business_days(friday, 1) == date(2027, 3, 8)  # Monday
    assert calendar.add_business_days(friday, 5) == date(2027, 3, 12)


def test_federal_holidays_do_not_count() -> None:
    # Thanksgiving 2027 is Thursday 25 November.
    wednesday = date(2027, 11, 24)
    assert not calendar.is_business_day(date(2027, 11, 25))
    assert calendar.add_business_days(wednesday, 1) == date(2027, 11, 26)
    # Independence Day 2027 falls on a Sunday; the Monday is the observed holiday.
    assert not calendar.is_business_day(date(2027, 7, 5))


def test_zero_days_is_the_same_day() -> None:
    assert calendar.add_business_days(date(2027, 3, 5), 0) == date(2027, 3, 5)


def test_business_days_between_counts_the_end_but_not_the_start() -> None:
    assert calendar.business_days_between(date(2027, 3, 5), date(2027, 3, 12)) == 5
    assert calendar.business_days_between(date(2027, 3, 12), date(2027, 3, 5)) == 0


def test_business_days_between_agrees_with_counting_day_by_day() -> None:
    """Across weekends, holidays observed on another day and years' ends (New
    Year's Day 2022 and 2028 fall on a Saturday)."""

    def day_by_day(start: date, end: date) -> int:
        days = (end - start).days
        return sum(
            1 for n in range(1, days + 1) if calendar.is_business_day(start + timedelta(days=n))
        )

    for start in (date(2021, 12, 1) + timedelta(days=5 * n) for n in range(60)):
        for length in (*range(0, 15), 30, 59, 200, 366, 800):
            end = start + timedelta(days=length)
            assert calendar.business_days_between(start, end) == day_by_day(start, end)
    for start in (date(2027, 12, 20) + timedelta(days=n) for n in range(20)):
        for length in range(0, 40):
            end = start + timedelta(days=length)
            assert calendar.business_days_between(start, end) == day_by_day(start, end)


def test_a_deadline_runs_to_the_end_of_the_office_day() -> None:
    # Returned at 20:00 UTC on Friday 5 March 2027 (14:00 in Chicago).
    returned = datetime(2027, 3, 5, 20, 0, tzinfo=UTC)
    deadline = calendar.business_deadline(returned, 5)
    # Friday 12 March ends at midnight Chicago time (CST, UTC-6) = 06:00 UTC on the 13th.
    assert deadline == datetime(2027, 3, 13, 5, 59, 59, 999999, tzinfo=UTC)


def test_the_office_date_is_local_to_the_office() -> None:
    late_utc = datetime(2027, 3, 6, 3, 0, tzinfo=UTC)  # still 5 March in Chicago
    assert calendar.office_date(late_utc) == date(2027, 3, 5)


@pytest.mark.parametrize("text", ["20270101", "2027-W01-5", "2027-001", "2027-1-1", " 2027-01-01"])
def test_a_day_is_read_only_as_yyyy_mm_dd(text: str) -> None:
    # Python 3.11's date.fromisoformat reads the first three of these.
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        calendar.parse_day(text)


def test_a_day_written_yyyy_mm_dd_is_read_and_checked_as_a_date() -> None:
    assert calendar.parse_day("2027-02-28") == date(2027, 2, 28)
    with pytest.raises(ValueError, match="day is out of range"):
        calendar.parse_day("2027-02-30")


def test_no_office_day_starts_later_than_office_day_starts_by_after_its_utc_midnight() -> None:
    # Round 50: the expiry run's claim leaves out in SQL the agreements issued at or
    # after this instant the day after their term, so no office day may start later.
    starts = set()
    day = date(1970, 1, 1)
    while day < date(2101, 1, 1):
        midnight = datetime.combine(day, time.min, tzinfo=UTC)
        starts.add(calendar.office_day_start(day) - midnight)
        day += timedelta(days=1)
    assert max(starts) == calendar.OFFICE_DAY_STARTS_BY
    assert starts == {timedelta(hours=5), timedelta(hours=6)}  # daylight, standard


def test_a_day_a_month_and_an_instant_are_written_in_words_for_what_the_service_sends() -> None:
    """Round 56: emails and PDFs say "December 6, 2026", not "2026-12-06"."""
    assert calendar.day_text(date(2026, 12, 6)) == "December 6, 2026"
    assert calendar.day_text(date(2027, 1, 1)) == "January 1, 2027"
    assert calendar.month_text(date(2027, 3, 31)) == "March 2027"
    assert calendar.days_text(date(2027, 1, 1), date(2027, 3, 31)) == (
        "January 1, 2027 to March 31, 2027"
    )
    # 05:38:07 UTC on 6 December is 23:38:07 the evening before at the office.
    late = datetime(2026, 12, 6, 5, 38, 7, tzinfo=UTC)
    assert calendar.moment_text(late) == "December 5, 2026 at 11:38 PM (US Central time)"
    assert calendar.moment_text(late, seconds=True) == (
        "December 5, 2026 at 11:38:07 PM (US Central time)"
    )
    noon = datetime(2027, 7, 1, 17, 0, tzinfo=UTC)  # daylight time: UTC-5
    assert calendar.moment_text(noon) == "July 1, 2027 at 12:00 PM (US Central time)"
    midnight = datetime(2027, 1, 1, 6, 5, tzinfo=UTC)
    assert calendar.moment_text(midnight) == "January 1, 2027 at 12:05 AM (US Central time)"
    # A deadline's day is written by the same function.
    end = calendar.end_of_office_day(date(2026, 11, 10))
    assert calendar.deadline_text(end) == "the end of Tuesday, November 10, 2026 (US Central time)"


def test_an_instant_on_a_page_can_be_told_to_the_second() -> None:
    moment = datetime(2026, 12, 6, 5, 38, 7, tzinfo=UTC)
    assert calendar.instant_text(moment) == "2026-12-05 23:38 (US Central time)"
    assert calendar.instant_text(moment, seconds=True) == "2026-12-05 23:38:07 (US Central time)"

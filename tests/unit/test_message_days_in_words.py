"""A service's message where it reaches a page (round 58): the days, months and
instants it writes in ISO 8601 for the API and the command line are said in words, each
inside a `<time>` that keeps the ISO value (`web.filters.days_in_words`)."""

from markupsafe import Markup, escape

from licensing.web.filters import days_in_words, days_said, page_wording


def test_a_day_in_a_message_is_said_in_words_keeping_the_iso_day_for_machines() -> None:
    said = days_in_words("Agreement CPT-2027-000001 can be renewed from 2027-10-02.")
    assert said == Markup(
        'Agreement CPT-2027-000001 can be renewed from <time datetime="2027-10-02">'
        "October 2, 2027</time>."
    )


def test_references_versions_and_what_is_no_day_stay_as_written() -> None:
    for message in (
        "Invoice INV-2027-000012 of rate card 2027.1, report RR-2027-000003.",
        "'2027-13-45' is not a day; nor is 2027-02-30; nor the month 2027-13.",
        "Give the day as YYYY-MM-DD.",
        # What to type, and what was typed, stay as typed.
        "From month takes a month such as 2027-03; the link gave \u201c2027-04\u201d.",
        "Type a day, e.g. 2027-01-31, or for example 2027-02-01; not '2027-01-02'.",
    ):
        assert days_in_words(message) == escape(message)


def test_a_month_and_the_instants_services_write_are_said_as_pages_say_them() -> None:
    assert days_in_words("Payments of 2027-03") == Markup(
        'Payments of <time datetime="2027-03">March 2027</time>'
    )
    # A card payment named to the second, at the office (`calendar.instant_text`).
    assert days_in_words("started 2026-12-05 23:38:07 (US Central time)") == Markup(
        'started <time datetime="2026-12-06T05:38:07+00:00">December 5, 2026 at 11:38:07 PM'
        " (US Central time)</time>"
    )
    # An instant as the API writes it, in UTC; after "at", its clock first (round 59).
    assert days_in_words("expired at 2027-02-10T15:00:00+00:00.") == Markup(
        'expired at <time datetime="2027-02-10T15:00:00+00:00">9:00 AM on February 10, 2027'
        " (US Central time)</time>."
    )


def test_an_instant_after_at_reads_as_a_sentence_says_it() -> None:
    # Round 59: "went to ... at March 15, 2027 at 10:00 AM (US Central time)".
    said = days_in_words(
        "Not sent: the statement went to ap@example.com at 2027-03-15 10:00 (US Central "
        "time), less than 10 minutes ago; it can go again from 2027-03-15 10:10 (US Central "
        "time). What 2027-03-15 10:00 (US Central time) says, a flat 2027-03-15 10:00 (US "
        "Central time)."
    )
    assert str(said).count("</time>") == 4
    text = str(said).replace("</time>", "")
    text = "".join(part.split(">", 1)[-1] for part in text.split("<time "))
    assert text == (
        "Not sent: the statement went to ap@example.com at 10:00 AM on March 15, 2027 (US "
        "Central time), less than 10 minutes ago; it can go again from March 15, 2027 at "
        "10:10 AM (US Central time). What March 15, 2027 at 10:00 AM (US Central time) says, "
        "a flat March 15, 2027 at 10:00 AM (US Central time)."
    )


def test_days_said_as_text_for_a_script_carry_no_markup_and_escape_nothing() -> None:
    # The card payment's refusals, shown by the pay page's script as text (round 59).
    assert days_said("INV-2027-000001 is already paid on 2027-03-02: A & B <owe> nothing.") == (
        "INV-2027-000001 is already paid on March 2, 2027: A & B <owe> nothing."
    )
    assert days_said("retry at 2027-03-15 10:00 (US Central time)") == (
        "retry at 10:00 AM on March 15, 2027 (US Central time)"
    )


def test_a_message_is_escaped_once_and_wording_it_twice_changes_nothing() -> None:
    once = days_in_words("<b>Tom & Jerry</b> paid on 2027-01-31")
    assert once == Markup(
        "&lt;b&gt;Tom &amp; Jerry&lt;/b&gt; paid on "
        '<time datetime="2027-01-31">January 31, 2027</time>'
    )
    assert days_in_words(once) == once
    assert days_in_words(None) == Markup("")


def test_page_wording_says_the_api_s_words_and_days_as_a_page_does() -> None:
    said = page_wording("No rate card is in effect on 2028-01-01; name one with rate_card.")
    assert said == Markup(
        'No rate card is in effect on <time datetime="2028-01-01">January 1, 2028</time>; '
        "choose a published rate card for the term."
    )

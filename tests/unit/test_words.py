"""Pages speak the vendor's language (issue 15, item 12): vocabulary in words,
exact fractions by their value, proration and deadlines as a person says them."""

from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from types import SimpleNamespace

import pytest

from licensing import calendar, words
from licensing.errors import IllegalTransition
from licensing.pricing import ProposedUse, QuoteRequest, Term, parse_rate_card, price
from licensing.statemachine import Action, StateMachine
from licensing.web import filters
from licensing.web.filters import state_words
from licensing.words import on_one_line, state_label, state_text


def test_vocabulary_identifiers_read_as_words_with_acronyms_kept() -> None:
    assert words.humanize("end_users") == "end users"
    assert words.vocab("saas") == "SaaS"
    assert words.vocab("ai_model") == "AI model"
    assert words.vocab("data_file") == "Data file"


def test_two_step_sign_in_events_read_as_the_pages_name_it() -> None:
    assert filters.action_words("user.two_step_enabled") == "User two-step sign-in enabled"
    assert filters.action_words("organization.two_step_required") == (
        "Organization two-step sign-in required"
    )
    assert words.humanize("two_step") == "two-step sign-in"


def test_a_working_step_shows_units_in_words_and_fractions_by_their_value() -> None:
    step = (
        "minimum 1000.00 x 181/365 (prorated) = 36200/73 (about 495.890411): 185.00 is "
        "below it, so the minimum applies"
    )
    # Amounts and quantities grouped as everywhere else a person reads them (round 12).
    assert filters.working(step) == (
        "minimum 1,000.00 x 181/365 (prorated) = about 495.890411: 185.00 is below it, so the "
        "minimum applies"
    )
    assert filters.working("2500 end_users, graduated: 100 x 18.50 = 1850.00") == (
        "2,500 end users, graduated: 100 x 18.50 = 1,850.00"
    )
    assert filters.working("= 92000/73 (about 1260.273973)") == "= about 1,260.273973"
    # Documents print the working by the same function.
    assert words.working_in_words("= 35328/73 (about 483.945205)") == "= about 483.945205"


@pytest.mark.parametrize(
    ("step", "read"),
    [
        (
            "1 members, volume: all in tier 1 (up to 100000), 1 x 0.045 = 0.045",
            "1 member, volume: all in tier 1 (up to 100,000), 1 x 0.045 = 0.045",
        ),
        (
            "part 2.1: 1 end_users, graduated: 1 x 18.50 = 18.50",
            "part 2.1: 1 end user, graduated: 1 x 18.50 = 18.50",
        ),
        ("1 copies, graduated: 1 x 2.00 = 2.00", "1 copy, graduated: 1 x 2.00 = 2.00"),
        (
            "line 1, rule r of rate card 2027.1: usage to date 1 end_users (1 customer, "
            "counted once at the largest quantity reported for the term so far)",
            "line 1, rule r of rate card 2027.1: usage to date 1 end user (1 customer, "
            "counted once at the largest quantity reported for the term so far)",
        ),
        # Not one unit: eleven, a price, a version.
        ("11 members, volume: 11 x 1.00 = 11.00", "11 members, volume: 11 x 1.00 = 11.00"),
        ("rate card 2027.1 members, volume: ", "rate card 2027.1 members, volume: "),
    ],
)
def test_one_unit_of_a_working_reads_in_the_singular_on_pages(step: str, read: str) -> None:
    # Round 50: "1 members, volume: ..." on the estimate and the invoice; the stored
    # working (the API) keeps the card's unit name, "members".
    assert words.working_in_words(step) == read


def _quote(proration: Fraction, *workings: tuple[str, ...]) -> SimpleNamespace:
    lines = [SimpleNamespace(use_index=i, explanation=steps) for i, steps in enumerate(workings)]
    return SimpleNamespace(proration=proration, lines=lines)


def test_the_proration_caption_reads_the_working_the_pricing_core_writes() -> None:
    # The caption is read from the core's "(prorated)" markers and its usage steps:
    # priced here by the core itself, so a change to its wording fails this test
    # rather than leaving the caption silently saying that nothing is prorated.
    rules = [
        {
            "id": "revenue",
            "description": "A share of revenue",
            "when": {"product_type": "electronic_publication"},
            "model": {"type": "percent_of_revenue", "percent": "10"},
            "minimum": "5000.00",
        },
        {
            "id": "flat",
            "description": "A flat fee",
            "when": {},
            "model": {"type": "flat", "amount": "2500.00"},
        },
    ]
    card = parse_rate_card(
        {
            "version": "words.1",
            "title": "Invented card for tests",
            "currency": "USD",
            "effective_from": "2027-01-01",
            "effective_to": "2027-12-31",
            "rules": rules,
            "adjustments": [],
        }
    )
    uses = (
        ProposedUse("distribution", "electronic_publication", "consumer", revenue=Decimal(100)),
        ProposedUse("development", "software", "internal"),
    )
    quote = price(card, QuoteRequest("commercial", Term(date(2027, 1, 1), date(2027, 6, 30)), uses))
    assert filters.proration(quote) == (
        "the term is 181 of the rate card period's 365 days, 181/365 (about 49.6%): the flat "
        "fee of use 2 and the minimum "
        "of use 1 are prorated to it; the royalty on usage of use 1 is not"
    )


def test_proration_is_said_in_words() -> None:
    assert filters.proration(_quote(Fraction(1))) == "the whole rate card period (no proration)"
    prorated = ("flat 2500.00 x 181/365 (prorated) = 1",)
    assert filters.proration(_quote(Fraction(181, 365), prorated)) == (
        "the term is 181/365 of the rate card period (about 49.6%): the flat fee of use 1 is "
        "prorated to it"
    )


def test_the_proration_caption_names_the_lines_and_bounds_it_applies_to() -> None:
    # Round 37: "prorated to 8.5% of the rate card period" stood beside a percent of
    # revenue royalty, which the contract never prorates; an analyst looked for it.
    revenue = (
        "10% of revenue 85000.00 = 8500.00",
        "no adjustment applies",
        "minimum 5000.00 x 31/365 (prorated) = 31000/73 (about 424.657534): 8500.00 is not "
        "below it",
    )
    flat = ("flat 2500.00 x 31/365 (prorated) = 15500/73 (about 212.328767)",)
    sum_of_parts = (
        "part 1: flat 82.50 x 31/365 (prorated) = 1023/146 (about 7.006849)",
        "part 2: 10 users, graduated: 10 x 18.50 = 185.00",
    )
    per_unit = ("10 end_users, volume: 10 x 18.50 = 185.00",)
    capped = ("10 end_users, volume: 10 x 18.50 = 185.00", "maximum 100.00 x 31/365 (prorated) = 1")
    assert filters.proration(_quote(Fraction(31, 365), revenue)) == (
        "the term is 31/365 of the rate card period (about 8.5%): the minimum of use 1 is "
        "prorated to it; "
        "the royalty on usage of use 1 is not"
    )
    assert filters.proration(_quote(Fraction(31, 365), revenue, flat, sum_of_parts, capped)) == (
        "the term is 31/365 of the rate card period (about 8.5%): the flat fees of uses 2 and "
        "3, the minimum "
        "of use 1 and the maximum of use 4 are prorated to it; the royalties on usage of uses "
        "1, 3 and 4 are not"
    )
    assert filters.proration(_quote(Fraction(31, 365), per_unit)) == (
        "the term is 31/365 of the rate card period (about 8.5%); no use has a flat fee, "
        "minimum or maximum "
        "to prorate"
    )


def test_a_sentence_after_a_name_ending_in_a_full_stop_gets_no_second_one() -> None:
    assert filters.end_sentence("Acme Health Software, Inc.") == "Acme Health Software, Inc."
    assert filters.end_sentence("Northwind Clinics") == "Northwind Clinics."


def test_a_deadline_reads_as_an_end_of_day_at_the_office_not_a_utc_time() -> None:
    end_of_day = calendar.end_of_office_day(date(2026, 11, 9))
    assert end_of_day.astimezone(UTC).strftime("%H:%M") == "05:59"
    assert calendar.deadline_text(end_of_day) == (
        "the end of Monday, November 9, 2026 (US Central time)"
    )
    moment = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)
    assert (
        calendar.deadline_text(moment) == "Monday, November 16, 2026 at 9:00 AM (US Central time)"
    )


def test_a_moment_after_a_verb_reads_at_the_end_of_a_day_or_on_a_day_at_a_time() -> None:
    """Round 34: "This link expired on the end of Monday", "ended the end of Monday"."""
    end_of_day = calendar.end_of_office_day(date(2026, 11, 9))
    assert calendar.when_text(end_of_day) == (
        "at the end of Monday, November 9, 2026 (US Central time)"
    )
    moment = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)
    assert calendar.when_text(moment) == (
        "on Monday, November 16, 2026 at 9:00 AM (US Central time)"
    )


def test_an_instant_reads_at_the_office_with_its_zone_named_not_in_utc() -> None:
    winter = datetime(2026, 11, 16, 15, 7, tzinfo=UTC)
    assert filters.when(winter) == "2026-11-16 09:07 (US Central time)"
    summer = datetime(2027, 7, 1, 3, 30, tzinfo=UTC)  # daylight time: the evening before
    assert filters.when(summer) == "2027-06-30 22:30 (US Central time)"
    assert filters.when(date(2027, 7, 1)) == "2027-07-01"
    assert filters.audit_value("2026-11-16T15:07:00+00:00", "submitted_at") == (
        "2026-11-16 09:07 (US Central time)"
    )


def test_a_state_is_worded_by_one_rule_for_refusals_machines_and_pages() -> None:
    # errors.illegal_step_sentence built its own words (statemachine imports errors,
    # so errors could not call StateMachine.state_text); the pages a third copy.
    words = {"needs_info": "waiting for the requester's information", "draft": "a draft"}
    machine = StateMachine.from_actions(
        "unit request",
        ("draft", "needs_info", "in_review"),
        {"answer": Action("needs_info", to="in_review")},
        state_words=words,
    )
    for state in ("draft", "needs_info", "in_review"):
        text = state_text(state, words)
        assert machine.state_text(state) == text
        refusal = IllegalTransition("unit request", state, "approve", [], states=words)
        assert f"that is {text} cannot" in refusal.detail
    assert state_text("in_review") == "in review" == state_words("in_review", "unregistered")
    assert state_label("a draft") == "draft" == state_words("draft", "unregistered", label=True)


def test_a_rules_when_reads_in_the_forms_words_each_axis_named() -> None:
    assert words.condition_words({}) == "Any use"
    assert words.condition_words({"use": ["distribution"], "product_type": ["saas", "print"]}) == (
        "Use: Distribute a product to others (installed or hosted); product type: SaaS or Print"
    )
    assert words.condition_words({"organization_type": ["nonprofit"], "use": None}) == (
        "Organization type: Non-profit organization"
    )
    # A choice with commas of its own is quoted among others, so no reader splits it.
    assert words.condition_words({"use": ["development", "internal_use"]}) == (
        "Use: \u201cDevelop, test, maintain or service a product\u201d or "
        "\u201cUse inside our own organization\u201d"
    )


def test_a_rules_review_reads_as_an_analyst_says_it() -> None:
    assert words.review_words("auto") == "automatic approval"
    assert words.review_words("staff") == "staff review"
    assert words.review_words("second_look") == "second look"


def test_an_application_approved_by_its_rules_reads_approved_automatically() -> None:
    assert filters.action_words("application.auto_approved") == (
        "Application approved automatically"
    )


def test_a_rule_is_named_by_its_description_then_its_id() -> None:
    # One order for the period page's lines, the royalty rows' refusals and the
    # up-front invoice's lines (round 42).
    assert words.rule_named("distribution-software", " Per end user ") == (
        "Per end user; rule distribution-software"
    )
    assert words.rule_named("development", "") == "rule development"
    assert words.rule_named("development", None) == "rule development"


def test_a_royaltys_working_describes_the_rule_it_names_where_the_card_does() -> None:
    described = {("2027.1", "distribution-software"): "Per end user"}

    def description_of(version: str, rule: str) -> str:
        return described.get((version, rule), "")

    step = "line 1, rule distribution-software of rate card 2027.1: usage to date 60"
    assert words.rules_described(step, description_of) == (
        "line 1, Per end user (rule distribution-software of rate card 2027.1): usage to date 60"
    )
    # A rule without a description keeps its id alone.
    other = "line 2, rule distribution-data of rate card 2027.1: usage to date 5"
    assert words.rules_described(other, description_of) == other


def test_the_proration_caption_gives_the_days_and_the_fraction_the_working_multiplies_by() -> None:
    # Round 50: "the term is 20.0% of the rate card period" beside "minimum 1,000.00 x 1/5
    # (prorated)": an analyst with the card and a calculator could not tell where 1/5
    # came from (73 of the card's 365 days, reduced), and a rounded percentage of a
    # minimum is not what the minimum comes to.
    request = SimpleNamespace(term=Term(date(2027, 3, 1), date(2027, 5, 12)))
    steps = ("minimum 1000.00 x 1/5 (prorated) = 200.00: 185.00 is below it",)
    quote = SimpleNamespace(proration=Fraction(1, 5), lines=_quote(Fraction(1), steps).lines)
    quote.request = request
    assert filters.proration(quote) == (
        "the term is 73 of the rate card period's 365 days, 73/365 = 1/5 (20%): the minimum "
        "of use 1 is prorated to it"
    )
    assert words.term_share_words(122, Fraction(122, 365)) == (
        "the term is 122 of the rate card period's 365 days, 122/365 (about 33.4%)"
    )
    assert words.term_share_words(1830, Fraction(1830, 36500)) == (
        "the term is 1,830 of the rate card period's 36,500 days, 1830/36500 = 183/3650 "
        "(about 5.0%)"
    )
    # A year of a card written to 9999-12-31 (round 42): not "about 0.0%".
    assert words.term_share_words(366, Fraction(366, 2911713)) == (
        "the term is 366 of the rate card period's 2,911,713 days, 366/2911713 = 2/15911 "
        "(less than 0.1%)"
    )


def test_a_name_is_put_on_one_line_and_one_without_a_break_is_left_as_it_is() -> None:
    """Round 62: names stored before round 61 refused line breaks are shown so."""
    assert on_one_line("Lena Ortiz\r\n\r\nYour request is approved. ") == (
        "Lena Ortiz Your request is approved."
    )
    assert on_one_line("Cedar\u2028Ridge\tCollege\x85") == "Cedar Ridge College"
    assert on_one_line("  Two  spaces kept ") == "  Two  spaces kept "
    assert on_one_line(None) == ""


def test_a_count_in_a_sentence_is_grouped_as_the_pages_other_figures_are() -> None:
    # Round 66: "Withdrawn: 1000 reports" beside "1,000.00 USD" on one page.
    assert words.counted(1, "report") == "1 report"
    assert words.counted(0, "report") == "0 reports"
    assert words.counted(999, "day") == "999 days"
    assert words.counted(1000, "report") == "1,000 reports"
    assert words.counted(1_234_567, "more invoice") == "1,234,567 more invoices"


def test_the_reason_staff_typed_for_an_amended_amount_is_not_grouped_as_a_figure() -> None:
    # Round 67 (staff67): "Priced by hand for 2028." read "for 2,028" in the working.
    step = "amended by the licensor from unpriced to 330000: Priced by hand for 2028."
    assert words.working_in_words(step) == (
        "amended by the licensor from unpriced to 330,000: Priced by hand for 2028."
    )


def test_an_amended_reason_inside_a_whole_lines_working_is_not_grouped_either() -> None:
    # An invoice line's working is its steps joined by "; " (the up-front invoice's
    # `_up_front_working`), and the invoice's PDF reads it whole: the amended step's
    # reason there read "for 2,028" after staff67's fix of the step alone.
    working = (
        "1200 members x 25.00 = 30000.00; "
        "amended by the licensor from 30000.00 to 330000: Priced by hand for 2028."
    )
    assert words.working_in_words(working) == (
        "1,200 members x 25.00 = 30,000.00; "
        "amended by the licensor from 30,000.00 to 330,000: Priced by hand for 2028."
    )

"""The published cards as the quote path keeps them: the card in effect on a day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from licensing.pricing import RateCard
from licensing.ratecards import queries
from licensing.ratecards.queries import Catalogue


def _entry(
    number: int, version: str, start: date, end: date, currency: str = "USD"
) -> queries._Entry:
    card = RateCard(version, "", currency, start, end, rules=())
    return queries._Entry(number, datetime(2026, 1, number, tzinfo=UTC), card)


def _catalogue() -> Catalogue:
    return Catalogue(
        ("generation",),
        (
            _entry(1, "2027.1", date(2027, 1, 1), date(2027, 12, 31)),
            _entry(2, "2027.2", date(2027, 7, 1), date(2027, 12, 31)),
            _entry(3, "2026.1", date(2026, 1, 1), date(2026, 12, 31)),
        ),
    )


def test_the_card_in_effect_is_the_same_asked_once_or_again_on_every_day() -> None:
    catalogue, fresh = _catalogue(), _catalogue()
    days = [date(2025, 12, 20) + timedelta(days=n) for n in range(800)]
    first = [catalogue.in_effect(day) for day in days]
    assert [catalogue.in_effect(day) for day in days] == first
    assert first == [fresh._find_in_effect(day) for day in days]
    versions = {day: card.version if card else None for day, card in zip(days, first, strict=True)}
    assert versions[date(2025, 12, 31)] is None
    assert versions[date(2026, 12, 31)] == "2026.1"
    assert versions[date(2027, 6, 30)] == "2027.1"
    assert versions[date(2027, 7, 1)] == "2027.2"
    assert versions[date(2028, 1, 1)] is None


def test_the_days_remembered_are_bounded_whatever_clients_ask() -> None:
    catalogue = _catalogue()
    for n in range(5000):
        catalogue.in_effect(date(2000, 1, 1) + timedelta(days=n))
    assert len(catalogue._in_effect) <= 4096
    assert catalogue.in_effect(date(2027, 8, 1)) is catalogue.entries[1].card


def test_a_catalogue_made_from_another_remembers_nothing_of_it() -> None:
    catalogue = _catalogue()
    catalogue.in_effect(date(2027, 8, 1))
    later = queries.replace(catalogue, commits=(1, 2))
    assert later._in_effect == {}
    assert later == catalogue.__class__(catalogue.generation, catalogue.entries, (1, 2))


def _replaced_in_either_order(entries: list[queries._Entry]) -> dict[str, list[str]]:
    """What `replaced_by` says of `entries` read in their order and in reverse: the
    same (the database returns published cards in no stated order)."""
    read, reversed_read = queries.replaced_by(entries), queries.replaced_by(entries[::-1])
    assert read == reversed_read
    return read


def test_of_two_cards_starting_on_one_day_the_one_published_last_replaces_the_old_card() -> None:
    old = _entry(1, "2027.1", date(2027, 1, 1), date(2027, 12, 31))
    half = _entry(2, "2027.2", date(2027, 1, 1), date(2027, 6, 30))
    whole = _entry(3, "2027.3", date(2027, 1, 1), date(2027, 12, 31))
    # 2027.3, published last, is in effect every day of 2027: 2027.2 on none.
    replaced = _replaced_in_either_order([old, half, whole])
    assert replaced == {"2027.1": ["2027.3"], "2027.2": ["2027.3"]}


def test_a_shorter_card_published_last_shares_the_old_cards_days_with_the_longer_one() -> None:
    old = _entry(1, "2027.1", date(2027, 1, 1), date(2027, 12, 31))
    whole = _entry(2, "2027.3", date(2027, 1, 1), date(2027, 12, 31))
    half = _entry(3, "2027.2", date(2027, 1, 1), date(2027, 6, 30))
    # 2027.2, published last, is in effect January to June; 2027.3 July to December.
    replaced = _replaced_in_either_order([old, whole, half])
    assert replaced == {"2027.1": ["2027.2", "2027.3"]}


def test_a_correction_of_part_of_a_card_corrects_the_terms_in_that_part_only() -> None:
    # Round 61 (correction61): 2027.2 prices 2027.1's second half; 2027.1 is not replaced
    # (`replacement` is None), but a term in the second half is corrected, and a term
    # across both in the days 2027.2 prices.
    catalogue = _catalogue()
    assert catalogue.replacement("2027.1") is None
    assert catalogue.correction("2027.1", date(2027, 1, 1), date(2027, 6, 30)) is None
    second = catalogue.correction("2027.1", date(2027, 7, 1), date(2027, 12, 31))
    assert second is not None
    assert second.takers == ("2027.2",)
    assert second.parts == (queries.CorrectedDays("2027.2", date(2027, 7, 1), date(2027, 12, 31)),)
    assert (second.whole_term, second.whole_card) == (True, False)
    year = catalogue.correction("2027.1", date(2027, 1, 1), date(2027, 12, 31))
    assert year is not None
    assert year.parts == second.parts
    assert (year.whole_term, year.whole_card) == (False, False)
    assert year.since == datetime(2026, 1, 2, tzinfo=UTC)
    # A card's own days, and a card published before it keeping its own, correct nothing.
    assert catalogue.correction("2027.2", date(2027, 7, 1), date(2027, 12, 31)) is None
    assert catalogue.correction("2026.1", date(2026, 1, 1), date(2026, 12, 31)) is None
    # The term cut where the card in effect changes, a card starting inside it included.
    assert catalogue.spans(date(2027, 1, 1), date(2027, 12, 31)) == [
        queries.CorrectedDays("2027.1", date(2027, 1, 1), date(2027, 6, 30)),
        queries.CorrectedDays("2027.2", date(2027, 7, 1), date(2027, 12, 31)),
    ]
    assert catalogue.spans(date(2025, 12, 31), date(2026, 1, 1)) == []


def test_a_card_published_before_the_one_it_starts_inside_is_no_correction_of_it() -> None:
    # 2027.2 for the second half published first, the annual 2027.1 after: 2027.2 keeps
    # its days (a later start wins), but it corrects nothing of 2027.1, published later.
    catalogue = Catalogue(
        ("generation",),
        (
            _entry(2, "2027.1", date(2027, 1, 1), date(2027, 12, 31)),
            _entry(1, "2027.2", date(2027, 7, 1), date(2027, 12, 31)),
        ),
    )
    assert catalogue.correction("2027.1", date(2027, 7, 1), date(2027, 12, 31)) is None


def test_a_card_in_another_currency_for_the_same_days_replaces_no_card() -> None:
    # Round 61: a EUR and a JPY card published beside the USD one are other price
    # lists, not its correction; a later USD card still corrects the USD one.
    usd = _entry(1, "2027.USD", date(2027, 1, 1), date(2027, 12, 31))
    eur = _entry(2, "2027.EUR", date(2027, 1, 1), date(2027, 12, 31), "EUR")
    jpy = _entry(3, "2027.JPY", date(2027, 1, 1), date(2027, 12, 31), "JPY")
    assert _replaced_in_either_order([usd, eur, jpy]) == {}
    corrected = _entry(4, "2027.USD2", date(2027, 1, 1), date(2027, 12, 31))
    assert _replaced_in_either_order([usd, eur, jpy, corrected]) == {"2027.USD": ["2027.USD2"]}


def test_a_card_in_another_currency_corrects_no_days_of_a_term() -> None:
    # The lead, merging correction61 and currencywalk61: a term on the USD card is
    # corrected by a later USD card for part of its period, never by the JPY card
    # published after both for the same days.
    usd = _entry(1, "2027.USD", date(2027, 1, 1), date(2027, 12, 31))
    half = _entry(2, "2027.USD2", date(2027, 7, 1), date(2027, 12, 31))
    jpy = _entry(3, "2027.JPY", date(2027, 1, 1), date(2027, 12, 31), "JPY")
    alone = Catalogue(("generation",), (usd, jpy))
    assert alone.correction("2027.USD", date(2027, 1, 1), date(2027, 12, 31)) is None
    beside = Catalogue(("generation",), (usd, half, jpy))
    corrected = beside.correction("2027.USD", date(2027, 1, 1), date(2027, 12, 31))
    assert corrected is not None
    assert corrected.parts == (
        queries.CorrectedDays("2027.USD2", date(2027, 7, 1), date(2027, 12, 31)),
    )


def test_asked_in_a_currency_the_card_in_effect_is_that_currencys_and_the_others_are_named() -> (
    None
):
    # Round 62: the yen card is published last for 2027; a USD caller still gets the
    # USD card, and the July revision in USD where it takes over.
    year = date(2027, 1, 1), date(2027, 12, 31)
    cards = Catalogue(
        ("generation",),
        (
            _entry(1, "2027.1", *year),
            _entry(2, "2027.2", date(2027, 7, 1), date(2027, 12, 31)),
            _entry(3, "2027.EUR", *year, currency="EUR"),
            _entry(4, "2027.JPY", *year, currency="JPY"),
        ),
    )
    march, august = date(2027, 3, 1), date(2027, 8, 1)
    assert cards.in_effect(march).version == "2027.JPY"  # type: ignore[union-attr]
    assert cards.in_effect(march, "USD").version == "2027.1"  # type: ignore[union-attr]
    assert cards.in_effect(august, "USD").version == "2027.2"  # type: ignore[union-attr]
    assert cards.in_effect(march, "GBP") is None
    # Asked twice, the same (the answers are remembered per day and currency).
    assert cards.in_effect(march, "USD") is cards.in_effect(march, "USD")
    assert cards.in_effect(march).version == "2027.JPY"  # type: ignore[union-attr]
    assert [card.version for card in cards.others_in_effect(march)] == ["2027.EUR", "2027.1"]
    # From July the USD revision starts latest, so it is the card in effect (the
    # contract's rule), and the others are the EUR and JPY cards.
    assert cards.in_effect(august).version == "2027.2"  # type: ignore[union-attr]
    assert [card.version for card in cards.others_in_effect(august)] == ["2027.EUR", "2027.JPY"]
    assert cards.others_in_effect(date(2028, 1, 1)) == ()
    usd = [(p.version, p.first, p.last) for p in cards.spans(*year, "USD")]
    assert usd == [
        ("2027.1", date(2027, 1, 1), date(2027, 6, 30)),
        ("2027.2", date(2027, 7, 1), date(2027, 12, 31)),
    ]
    assert [p.version for p in cards.spans(*year)] == ["2027.JPY", "2027.2"]


def test_one_currencys_cards_name_no_others_in_effect() -> None:
    assert _catalogue().others_in_effect(date(2027, 3, 1)) == ()

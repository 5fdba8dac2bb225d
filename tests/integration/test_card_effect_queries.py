"""The rate-card check prices every undecided application and every renewal
candidate, yet the SQL statements it sends do not grow with them (checked at 2 and
at 6 of each, and at 10 and 100 applications, on both backends), and priced in
batches it says what it says priced at once. Its applications' latest quotes are
found among the undecided applications' quote versions only, with what grouping
every application's versions found."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Select, func, select

from licensing import db
from licensing.agreements import card_effect
from licensing.agreements.models import Application, QuoteVersion
from licensing.pricing import RateCard
from licensing.ratecards import services as ratecards
from tests.integration.agreements.conftest import AUTO_USE, STAFF_USE
from tests.integration.agreements.conftest import apply as apply
from tests.integration.pricing.conftest import card_document
from tests.integration.pricing.conftest import example_card as example_card
from tests.integration.royalties.conftest import (  # noqa: F401 - fixtures
    SMALL_SOFTWARE,
    active_agreement,
    file_report,
    row,
)
from tests.support import copies
from tests.support.statements import sent_by

# Round 63: 20 before, each an application, an agreement and a filed report made
# through the services (some 6 s a test on PostgreSQL). 6 walks the same code as 20
# did: every record listed (at most `card_effect.LISTED`, 20), all in one batch (of
# `card_effect.BATCH`, 200), and a statement sent per record would still show as
# four more. The listing's limit is passed at 100 applications, below.
SMALL, LARGE = 2, 6


def _correction() -> RateCard:
    """2027.2 for 2027.1's days, the data-file percentage raised: it takes the
    applications waiting on a decision."""
    document = card_document(version="2027.2")
    by_id = {rule["id"]: rule for rule in document["rules"]}
    by_id["distribution-data"]["model"]["percent"] = "12"
    return ratecards.validate(document)


def _next_year() -> RateCard:
    """2028.1: it takes the renewals of the agreements ending with 2027."""
    return ratecards.validate(
        card_document(version="2028.1", effective_from="2028-01-01", effective_to="2028-12-31")
    )


@pytest.fixture
def seed(
    vendor: Any,
    apply: Callable[..., Any],
    active_agreement: Callable[..., Any],  # noqa: F811
    file_report: Callable[..., Any],  # noqa: F811
) -> Callable[[int], None]:
    """`seed(n)`: n more undecided applications, and n more active agreements with
    a quarter of usage reported each (their renewals priced on it)."""
    made = {"count": 0}

    def more(count: int) -> None:
        for _ in range(count):
            index = made["count"] = made["count"] + 1
            apply(vendor, STAFF_USE)
            agreement = active_agreement(vendor, SMALL_SOFTWARE)
            file_report(vendor, agreement, 1, [row(1, f"C-{index}", quantity=10 + index)])
        db.session().commit()

    return more


def _statements(app: Flask, card: RateCard) -> tuple[int, card_effect.CardEffect]:
    card_effect.effect(db.session(), card)  # warm: what is kept per process
    with sent_by(app) as statements:
        found = card_effect.effect(db.session(), card)
    return len(statements), found


def test_the_checks_statements_do_not_grow_with_the_records_it_prices(
    app: Flask, seed: Callable[[int], None]
) -> None:
    # Each renewal candidate read its reported usage in several statements of its
    # own, and every application loaded all its quote versions.
    seed(SMALL)
    small = {name: _statements(app, card()) for name, card in CARDS.items()}
    seed(LARGE - SMALL)
    large = {name: _statements(app, card()) for name, card in CARDS.items()}

    assert {name: found.count for name, (_, found) in small.items()} == dict.fromkeys(CARDS, SMALL)
    assert {name: found.count for name, (_, found) in large.items()} == dict.fromkeys(CARDS, LARGE)
    assert {name: sent for name, (sent, _) in large.items()} == {
        name: sent for name, (sent, _) in small.items()
    }


CARDS = {"applications": _correction, "renewals": _next_year}


def test_a_check_priced_in_batches_says_what_it_says_priced_at_once(
    seed: Callable[[int], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five records in batches of two: two whole batches and a last one part full,
    three listed of five (round 63: seven in batches of three and four listed, the
    same steps, each record made through the services)."""
    seed(5)
    monkeypatch.setattr(card_effect, "LISTED", 3)
    for card in (_correction(), _next_year()):
        at_once = card_effect.effect(db.session(), card)
        monkeypatch.setattr(card_effect, "BATCH", 2)
        in_batches = card_effect.effect(db.session(), card)
        monkeypatch.setattr(card_effect, "BATCH", 200)
        assert in_batches == at_once
        assert (at_once.count, len(at_once.records)) == (5, 3)
        changes = [abs(record.change or 0) for record in at_once.records]
        assert changes == sorted(changes, reverse=True)


def _grouped_over_every_application(card: RateCard) -> Select[Any]:
    """The round 22 statement, kept to compare: the latest version of every
    application's quotes, grouped over all of them, then joined to the undecided."""
    latest = (
        select(QuoteVersion.application_id, func.max(QuoteVersion.version).label("version"))
        .group_by(QuoteVersion.application_id)
        .subquery()
    )
    return (
        select(Application, QuoteVersion)
        .join(latest, latest.c.application_id == Application.id)
        .join(
            QuoteVersion,
            (QuoteVersion.application_id == Application.id)
            & (QuoteVersion.version == latest.c.version),
        )
        .where(
            Application.state.in_(card_effect._REPRICED),
            Application.rate_card.is_(None),
            QuoteVersion.term_start.between(card.effective_from, card.effective_to),
        )
        .order_by(Application.id)
    )


def test_the_latest_quotes_found_among_the_undecided_alone_are_those_found_among_all(
    vendor: Any, apply: Callable[..., Any]
) -> None:
    undecided = [apply(vendor, STAFF_USE) for _ in range(4)]
    decided = [apply(vendor, AUTO_USE) for _ in range(2)]
    apply(vendor, STAFF_USE, submit=False)  # a draft: no quote
    assert {a.state for a in decided} == {"approved"}
    assert {a.state for a in undecided} == {"submitted"}
    session = db.session()
    copies.requote(
        session, undecided[0].id, term_start=date(2028, 1, 1)
    )  # its latest quote is for another year
    copies.requote(
        session, undecided[1].id, term_start=date(2027, 3, 1)
    )  # its latest is the second, still in 2027
    copies.requote(session, decided[0].id, term_start=date(2027, 3, 1))
    card = _correction()
    before = [(a.id, q.id) for a, q in session.execute(_grouped_over_every_application(card))]
    after = [(a.id, q.id) for a, q in session.execute(card_effect.latest_quotes(card))]
    assert after == before
    assert [application for application, _ in after] == [a.id for a in undecided[1:]]
    assert dict(after)[undecided[1].id] == max(q.id for q in undecided[1].quotes)


def test_the_checks_statements_are_the_same_at_10_and_100_applications_among_decided_ones(
    app: Flask, vendor: Any, apply: Callable[..., Any]
) -> None:
    """Each application beyond the first two is a copy of one made through the
    services (`copies.copy_application`: its row, uses and quote versions), as the list
    pages' tests make theirs: the check reads rows (round 63: 200 applications made
    through the services were most of this test's time)."""
    undecided = apply(vendor, STAFF_USE)
    decided = apply(vendor, AUTO_USE)  # approved: its quote is not the check's
    sent, made = {}, 1
    for total in (10, 100):
        copies.copy_application(db.session(), undecided.id, total - made)
        copies.copy_application(db.session(), decided.id, total - made)
        made = total
        assert len(db.session().scalars(select(Application.id)).all()) == 2 * total
        sent[total], found = _statements(app, _correction())
        assert found.count == total
    assert sent[100] == sent[10]

"""Round 68 (reads68): whether this process's parsed rate cards are still current (the
cards' generation, `ratecards.queries`) is read once a transaction. Round 67's count
found it read up to three times in one request (an agreement's page, an application's,
a submission), each time with the same answer. A card stored in the transaction is
seen at once, and one stored in a savepoint rolled back is forgotten; a card published
by another process is seen at the next transaction (`test_ratecard_cache.py`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.agreements.models import Agreement
from licensing.ratecards import queries, services
from tests.integration.pricing.conftest import corrected_example
from tests.integration.pricing.conftest import example_card as example_card
from tests.integration.royalties.conftest import (  # noqa: F401 - the fixture
    SMALL_SOFTWARE,
    active_agreement,
)
from tests.support.statements import sent_by

# The generation's aggregate (`queries._GENERATION`) as it is sent.
GENERATION = "max(rate_cards.digest)"


def generation_reads(statements: list[str]) -> int:
    return sum(GENERATION in statement.lower() for statement in statements)


def test_an_agreement_s_page_and_its_application_s_read_the_cards_generation_once(
    app: Flask,
    vendor: Any,
    active_agreement: Callable[..., Agreement],  # noqa: F811
    signed_in: Callable[..., FlaskClient],
) -> None:
    agreement = active_agreement(vendor, SMALL_SOFTWARE)
    portal = signed_in(app.test_client(), vendor)
    for url in (
        f"/portal/agreements/{agreement.id}",
        f"/portal/applications/{agreement.application_id}",
    ):
        assert portal.get(url).status_code == 200, url  # warm: what a process keeps
        # The test's requests share its app context, and so its session: the request
        # measured begins a transaction of its own, as every request does in service.
        db.session().commit()
        with sent_by(app) as statements:
            assert portal.get(url).status_code == 200, url
        assert generation_reads(statements) == 1, url


def test_the_generation_is_read_again_in_the_next_transaction(
    app: Flask, example_card: str
) -> None:
    session = db.session()
    with sent_by(app) as statements:
        first = queries.catalogue(session)
        assert queries.card_by_version(session, example_card) is not None
        assert queries.catalogue(session) is first
        session.commit()
        assert queries.card_by_version(session, example_card) is not None
    assert generation_reads(statements) == 2


def test_a_card_published_in_the_transaction_is_seen_at_once_and_forgotten_when_rolled_back(
    app: Flask, example_card: str
) -> None:
    with db.transaction() as session:
        assert queries.card_by_version(session, "2027.2") is None
        savepoint = session.begin_nested()
        services.import_card(corrected_example(), published_by="tests")
        assert queries.card_by_version(session, "2027.2") is not None
        savepoint.rollback()
        assert queries.card_by_version(session, "2027.2") is None
        services.import_card(corrected_example(), published_by="tests")
        assert queries.card_by_version(session, "2027.2") is not None
    assert queries.card_by_version(db.session(), "2027.2") is not None

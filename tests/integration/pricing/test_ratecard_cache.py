"""The quote path keeps parsed rate cards per database and sees every new card."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from licensing import db
from licensing.app import create_app
from licensing.ratecards import services
from tests.conftest import make_config
from tests.integration.pricing.conftest import card_document, quote_body


@pytest.fixture
def second_app(committed_app: Flask) -> Iterator[Flask]:
    """Another app instance (as another worker process would be) on the same database."""
    url = committed_app.extensions["licensing.db"].engine.url.render_as_string(hide_password=False)
    other = create_app(make_config(url))
    yield other
    other.extensions["licensing.db"].engine.dispose()


def quoted_card(app: Flask, **changes: object) -> str:
    body = quote_body(**changes)
    if "rate_card" not in changes:
        del body["rate_card"]
    response = app.test_client().post("/api/v1/quotes", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return str(response.get_json()["rate_card"])


def publish(app: Flask, version: str) -> None:
    with app.app_context():
        services.import_card(card_document(version=version), published_by="tests")


def test_a_card_published_by_one_instance_is_quoted_by_another_that_had_cached_the_cards(
    committed_app: Flask, second_app: Flask
) -> None:
    publish(committed_app, "2027.1")
    assert quoted_card(second_app) == "2027.1"

    publish(committed_app, "2027.2")

    assert quoted_card(second_app) == "2027.2"
    assert quoted_card(second_app, rate_card="2027.1") == "2027.1"
    assert quoted_card(second_app, rate_card="2027.2") == "2027.2"


def test_an_unknown_version_stays_unknown_until_it_is_published_elsewhere(
    committed_app: Flask, second_app: Flask
) -> None:
    publish(committed_app, "2027.1")
    client = second_app.test_client()
    missing = client.post("/api/v1/quotes", json=quote_body(rate_card="2027.5"))
    assert missing.status_code == 422

    publish(committed_app, "2027.5")

    assert quoted_card(second_app, rate_card="2027.5") == "2027.5"


def _statements(app: Flask) -> list[str]:
    """Every SQL statement the app's engine runs from now on."""
    seen: list[str] = []
    engine = app.extensions["licensing.db"].engine
    event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def test_on_sqlite_a_quote_reads_no_table_until_something_is_committed(
    committed_app: Flask, second_app: Flask
) -> None:
    publish(committed_app, "2027.1")
    assert quoted_card(second_app) == "2027.1"
    statements = _statements(second_app)

    quoted_card(second_app)
    quoted_card(second_app)
    reads = [sql for sql in statements if "rate_cards" in sql]
    if second_app.extensions["licensing.db"].dialect == "sqlite":
        assert reads == []
    else:  # PostgreSQL: the generation is read each time
        assert len(reads) == 2

    with committed_app.extensions["licensing.db"].engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE unrelated_commit (id INTEGER)")
    statements.clear()
    assert quoted_card(second_app) == "2027.1"
    assert [sql for sql in statements if "rate_cards" in sql]  # the generation, read again


def test_on_sqlite_a_quote_opens_no_database_session_while_the_cards_are_current(
    committed_app: Flask, second_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(committed_app, "2027.1")
    assert quoted_card(second_app) == "2027.1"
    opened: list[object] = []
    real_session = db.session

    def counting_session() -> Session:
        opened.append(object())
        return real_session()

    monkeypatch.setattr(db, "session", counting_session)
    assert quoted_card(second_app) == "2027.1"
    assert quoted_card(second_app, rate_card="2027.1") == "2027.1"
    sqlite = second_app.extensions["licensing.db"].dialect == "sqlite"
    assert len(opened) == (0 if sqlite else 2)

    publish(committed_app, "2027.2")
    opened.clear()
    assert quoted_card(second_app, rate_card="2027.2") == "2027.2"  # the commit is seen
    # At most one session: the publisher's own telling of the licensees a correction
    # touches (round 62, after the card's commit) may have read the new catalogue into
    # this process's cache already, which both apps share.
    assert len(opened) <= 1

"""Round 58: the review page printed every quote version in full, one table after
another. It shows the current version in full and folds the earlier ones
(`<details>`), newest first, each with what the next version changed from it
(`agreements.resubmission.version_changes`); versions on one card read no card's
differences, whatever their number."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.accounts import services as accounts
from licensing.actors import Actor
from licensing.agreements import resubmission, services
from licensing.agreements.models import Application
from licensing.agreements.resubmission import version_changes
from tests.integration.agreements.conftest import AUTO_USE, NOW, STAFF_USE
from tests.support.settings import issuing

Apply = Callable[..., Application]


def _p(user: Any) -> Actor:
    return Actor.of(accounts.principal_for(user))


def _words(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _returned_and_resubmitted(
    application: Application, vendor: Any, staff: Any, revenue: str, day: int
) -> None:
    moment = NOW + timedelta(days=day)
    services.return_for_information(application.id, "The revenue?", _p(staff), now=moment)
    services.update_draft(
        application.id,
        _p(vendor),
        services.ApplicationDraft.from_fields(
            {
                "term_start": application.term_start,
                "term_end": application.term_end,
                "uses": [AUTO_USE, {**STAFF_USE, "revenue": revenue}],
            }
        ),
        now=moment,  # before its deadline (round 58: a late change is refused)
    )
    services.submit(application.id, _p(vendor), policy=issuing(), attest=True, now=moment)


def test_the_review_page_shows_the_current_quote_and_folds_each_earlier_one_with_its_change(
    app: Flask,
    apply: Apply,
    vendor: Any,
    licensing_staff: Any,
    signed_in: Callable[..., FlaskClient],
) -> None:
    application = apply(vendor, AUTO_USE, STAFF_USE)  # the feed's revenue: 80,000.00
    _returned_and_resubmitted(application, vendor, licensing_staff, "90000.00", 1)
    _returned_and_resubmitted(application, vendor, licensing_staff, "90000.00", 2)
    page = (
        signed_in(app.test_client(), licensing_staff)
        .get(f"/console/applications/{application.id}")
        .get_data(as_text=True)
    )
    current = page[page.index('id="current-quote"') : page.index('id="earlier-quotes"')]
    assert "Quote version 3: as submitted" in _words(current)
    assert "<details" not in current
    earlier = page[page.index('id="earlier-quotes"') :]
    assert earlier.index('id="quote-version-2"') < earlier.index('id="quote-version-1"')
    assert earlier.count("<details") == 2
    second = _words(earlier[: earlier.index('id="quote-version-1"')])
    first = _words(earlier[earlier.index('id="quote-version-1"') :])
    # Version 3 changed nothing from version 2; version 2 raised the feed's revenue.
    assert "version 3 after it: the same total" in second
    assert "No quantity, revenue, rule or price of any use changed" in second
    assert "version 2 after it: 1,000.00 USD more, 1 use changed" in first
    assert "Expected annual revenue from 80,000.00 USD to 90,000.00 USD." in first
    assert "Replaced by quote version 3, submitted since" in first


def test_each_versions_change_is_found_and_versions_on_one_card_compare_no_cards(
    app: Flask, apply: Apply, vendor: Any, licensing_staff: Any, monkeypatch: Any
) -> None:
    application = apply(vendor, AUTO_USE, STAFF_USE)
    for day in (1, 2, 3):
        _returned_and_resubmitted(application, vendor, licensing_staff, f"{80 + day}000.00", day)
    read: list[tuple[str, str]] = []
    real = resubmission.card_sentences
    monkeypatch.setattr(
        resubmission,
        "card_sentences",
        lambda session, before, after, words: (
            read.append((before, after)) or real(session, before, after, words)
        ),
    )
    loaded = db.session().get(Application, application.id)
    assert loaded is not None
    changes = version_changes(db.session(), loaded, loaded.quotes)
    assert sorted(changes) == [1, 2, 3]
    assert [change.after for change in changes.values()] == [2, 3, 4]
    assert read == []  # every version on the same card: no card is compared

"""Round 59 (retrycheck59): a view run again after a deadlock or a serialization failure
(`db.retrying`, around every view) starts from the request as its first try found it,
outside the database too (`licensing.app._KeptForAgain`): a flash the lost try made is
not shown twice, a value it spent from the cookie session is there for the next try, a
value it set in `g` is gone, and a function it gave `after_this_request` runs once;
round 60 (retry60): its log lines carry the fields the first try started with.

The view here is the test's own (no view of the service flashes before its only unit of
work today), losing its unit of work once with PostgreSQL's "deadlock detected" as the
driver reports it, on both databases."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask import Flask, Response, after_this_request, flash, g, session
from flask.testing import FlaskClient
from sqlalchemy.exc import OperationalError

from licensing import access, db, log_context


class _ServerError(Exception):
    sqlstate = "40P01"  # deadlock_detected


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db.time, "sleep", lambda _seconds: None)


def _losing_once(app: Flask) -> list[dict[str, Any]]:
    """A page that flashes, spends a challenge from the session, keeps a value in `g`
    and adds a header after the request, then stores its change, losing the first try's
    unit of work to a deadlock. What each try found is returned."""
    tries: list[dict[str, Any]] = []

    def saves_after_flashing() -> str:
        tries.append({"challenge": session.pop("challenge", None), "cached": g.get("cached")})
        flash("Saved.", "success")
        session["visits"] = session.get("visits", 0) + 1
        g.cached = f"from try {len(tries)}"

        @after_this_request
        def marked(response: Response) -> Response:
            response.headers.add("X-Try-Finished", str(len(tries)))
            return response

        with db.transaction():
            if len(tries) == 1:
                raise OperationalError("UPDATE organizations ...", {}, _ServerError())
        return "saved"

    app.add_url_rule(
        "/test-saves-after-flashing",
        "test_saves_after_flashing",
        access.public(saves_after_flashing),
        methods=["POST"],
    )
    return tries


def test_a_flash_made_by_a_try_that_lost_a_deadlock_is_shown_once(app: Flask) -> None:
    tries = _losing_once(app)
    client: FlaskClient = app.test_client()

    answer = client.post("/test-saves-after-flashing")

    assert answer.status_code == 200
    assert len(tries) == 2
    with client.session_transaction() as kept:
        assert kept["_flashes"] == [("success", "Saved.")]
        assert kept["visits"] == 1


def test_a_value_spent_from_the_session_by_a_lost_try_is_there_for_the_next(app: Flask) -> None:
    tries = _losing_once(app)
    client: FlaskClient = app.test_client()
    with client.session_transaction() as kept:
        kept["challenge"] = "abc"

    client.post("/test-saves-after-flashing")

    assert [found["challenge"] for found in tries] == ["abc", "abc"]
    with client.session_transaction() as kept:
        assert "challenge" not in kept  # spent by the try that succeeded


def test_g_and_after_this_request_start_afresh_for_a_try_run_again(app: Flask) -> None:
    tries = _losing_once(app)

    answer = app.test_client().post("/test-saves-after-flashing")

    assert [found["cached"] for found in tries] == [None, None]
    assert answer.headers.getlist("X-Try-Finished") == ["2"]


def test_a_try_run_again_logs_with_the_fields_the_first_try_started_with(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    """Round 60 (retry60): a sign-in recognises its caller as it goes (`log_context.set_user`);
    a try that lost after that left the user in the log lines' fields, so the next try's
    lines named a caller before it had recognised one. Each try now starts from the
    fields the first started with: the request's id, and no user yet."""
    tries: list[int] = []
    logger = logging.getLogger("tests.retry")

    def signs_in() -> str:
        tries.append(len(tries) + 1)
        logger.info("try %d began", len(tries))
        log_context.set_user(4242)  # the caller recognised, as the sign-in does
        logger.info("try %d recognised its caller", len(tries))
        with db.transaction():
            if len(tries) == 1:
                raise OperationalError("UPDATE users ...", {}, _ServerError())
        return "signed in"

    app.add_url_rule("/test-signs-in", "test_signs_in", access.public(signs_in), methods=["POST"])
    caplog.set_level(logging.INFO, logger="tests.retry")

    answer = app.test_client().post("/test-signs-in", headers={"X-Request-Id": "ticket-60"})

    assert answer.status_code == 200
    fields = {
        record.getMessage(): (record.request_id, record.user_id)  # type: ignore[attr-defined]
        for record in caplog.records
        if record.name == "tests.retry"
    }
    assert fields == {
        "try 1 began": ("ticket-60", "-"),
        "try 1 recognised its caller": ("ticket-60", "4242"),
        "try 2 began": ("ticket-60", "-"),  # the base: "4242", the lost try's
        "try 2 recognised its caller": ("ticket-60", "4242"),
    }

"""A request's log fields end with it, however its token ends (round 34: the
teardown's `contextlib.suppress` became a plain `try`, and must refuse nothing
the suppression let through)."""

from __future__ import annotations

import contextvars

from licensing import log_context


def test_a_request_ended_leaves_the_fields_the_thread_had_before_it() -> None:
    token = log_context.start_request("request-one")
    assert log_context.fields() == {"request_id": "request-one"}
    log_context.end_request(token)
    assert log_context.fields() == {}


def test_a_request_ended_twice_is_not_an_error_and_leaves_no_fields() -> None:
    token = log_context.start_request("request-two")
    log_context.end_request(token)
    log_context.end_request(token)  # the token was used: RuntimeError, swallowed
    assert log_context.fields() == {}


def test_a_token_made_in_another_context_is_not_an_error_and_clears_this_ones_fields() -> None:
    elsewhere = contextvars.copy_context().run(log_context.start_request, "elsewhere")
    mine = log_context.start_request("here")
    try:
        log_context.end_request(elsewhere)  # another context's: ValueError, swallowed
        assert log_context.fields() == {}
    finally:
        log_context.end_request(mine)


def test_no_token_clears_the_fields() -> None:
    token = log_context.start_request("request-three")
    try:
        log_context.end_request(None)
        assert log_context.fields() == {}
    finally:
        log_context.end_request(token)

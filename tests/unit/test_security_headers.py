"""The pieces of the security headers that need no app: the request id rule
and the Content-Security-Policy text."""

from __future__ import annotations

import uuid

import pytest

from licensing.headers import (
    content_security_policy,
    new_request_id,
    request_id,
    stripe_sources,
)


@pytest.mark.parametrize(
    "incoming", ["abcdef12", "req-0123456789", "a.b_c-d" + "x" * 57, "0123456789abcdef" * 4]
)
def test_a_plain_client_request_id_is_kept(incoming: str) -> None:
    assert request_id(incoming) == incoming


@pytest.mark.parametrize(
    "incoming",
    [
        "",
        "short",
        "x" * 65,
        "has space in it",
        "evil\r\nSet-Cookie: a=b",
        "semi;colon;here",
        "<script>alert(1)</script>",
        "ünïcödé-id-1234",
        "abcdefgh\n",
    ],
)
def test_any_other_client_request_id_is_replaced_by_a_new_one(incoming: str) -> None:
    replaced = request_id(incoming)
    assert replaced != incoming
    assert len(replaced) == 32
    assert request_id(incoming) != replaced  # fresh each time, not derived from the input


def test_a_new_request_id_is_a_random_uuid4_in_hex_as_uuid_writes_it() -> None:
    made = [new_request_id() for _ in range(2000)]
    for made_id in made:
        parsed = uuid.UUID(hex=made_id)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert parsed.hex == made_id
    assert len(set(made)) == len(made)
    # Every value the variant's digit may take turns up, and only those.
    assert {made_id[16] for made_id in made} == set("89ab")


def test_the_default_policy_allows_only_this_service_and_no_inline_code() -> None:
    policy = dict(part.split(" ", 1) for part in content_security_policy().split("; "))
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert "unsafe" not in content_security_policy()
    assert "stripe" not in content_security_policy()


def test_real_stripe_js_adds_its_script_frames_and_api_and_nothing_inline() -> None:
    policy = content_security_policy(stripe_sources("https://js.stripe.com/v3/"))
    assert "script-src 'self' https://js.stripe.com;" in policy
    assert "frame-src https://js.stripe.com https://hooks.stripe.com;" in policy
    assert "connect-src 'self' https://api.stripe.com;" in policy
    assert "unsafe" not in policy


def test_a_stand_in_stripe_js_is_allowed_from_its_own_origin_only() -> None:
    policy = content_security_policy(stripe_sources("http://127.0.0.1:8420/js.stripe.com/v3/"))
    assert "script-src 'self' http://127.0.0.1:8420;" in policy
    assert "connect-src 'self' http://127.0.0.1:8420;" in policy
    assert "stripe.com" not in policy

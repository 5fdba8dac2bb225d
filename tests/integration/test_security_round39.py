"""Round 39: a security review of what rounds 31-38 added (docs/security.md,
"Round 39: what rounds 31-38 added, reviewed"). Each test fails without its fix."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db, serving
from licensing.accounts.models import User
from tests.support.factories import bearer


def test_a_directory_made_where_the_start_up_flag_was_does_not_stop_a_worker_booting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The flag's name is in a shared temporary directory anyone can list: once the
    first worker removed it, any local user could make a directory (or, where the
    server runs as a user of its own, a file of theirs) at that name, and every
    worker booted after (a HUP, a worker recycled) raised removing it: gunicorn's
    master stops when a worker fails to boot."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(serving, "_start_warnings_flag", None)
    serving.warn_at_start(object())
    [flag] = tmp_path.glob("licensing-start-warnings-*")
    assert serving.claim_start_warnings() is True
    flag.mkdir()  # another user's, made after the first worker removed the flag
    assert serving.claim_start_warnings() is False
    assert flag.is_dir()  # not ours: left as it is


def test_vendors_cannot_take_the_office_steps_rounds_31_to_38_added(
    app: Flask,
    client: FlaskClient,
    vendor: User,
    other_vendor: User,
    billing_staff: User,
    signed_in: Callable[..., FlaskClient],
) -> None:
    """Round 39: signing a person out everywhere, forgetting their browsers, and
    accepting or giving back a payment are the office's: a vendor (an administrator,
    whoever's the record) is refused on the API and the console, and billing staff
    are refused the admins' steps; nothing is done."""
    generation = other_vendor.session_generation
    vendor_api = bearer(vendor)
    steps = [
        ("/api/v1/users/{}/sign-out", other_vendor.id, {}),
        ("/api/v1/users/{}/forget-browsers", other_vendor.id, {}),
        ("/api/v1/payments/{}/give-back", 1, {"reason": "x"}),
        ("/api/v1/payments/{}/accept", 1, {"reason": "x"}),
    ]
    answers = [
        client.post(path.format(record), json=body, headers=vendor_api).status_code
        for path, record, body in steps
    ]
    assert answers == [403, 403, 403, 403]
    staff_api = bearer(billing_staff)
    admins_steps = [
        client.post(f"/api/v1/users/{other_vendor.id}/{step}", headers=staff_api).status_code
        for step in ("sign-out", "forget-browsers")
    ]
    assert admins_steps == [403, 403]
    portal = signed_in(app.test_client(), vendor)
    pages = [
        portal.post(path, data={"confirmed": "yes", "give_back-reason": "x"}).status_code
        for path in (
            f"/console/users/{other_vendor.id}/sign-out",
            f"/console/users/{other_vendor.id}/browsers/forget",
            "/console/payments/1/give-back",
            "/console/payments/1/accept",
        )
    ]
    assert pages == [403, 403, 403, 403]
    db.session().refresh(other_vendor)
    assert other_vendor.session_generation == generation

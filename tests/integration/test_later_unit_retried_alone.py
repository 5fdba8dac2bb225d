"""Round 60 (retry60): where a view's earlier unit of work committed something a second try
of the whole view must not do again, the unit after it is run again alone after a
deadlock (`db.retried_unit`). A sign-in code is accepted once (`second_step`, its own
unit); remembering the browser after it (`remember_browser`) lost a deadlock and the page
answered 503, the person signed in by the code's commit but told to try again, and
trying again refused the code, used. Now the remembering is run again by itself. (A
passkey's challenge, spent in its own unit, is the same shape: `add_passkey` and
`sign_in_with_passkey` run their step alone.) The error is raised as the driver reports
PostgreSQL's "deadlock detected", so on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from licensing import db
from licensing.accounts.models import RememberedBrowser, User
from licensing.accounts.services import remembered_browsers
from licensing.accounts.views import BROWSER_COOKIE
from licensing.audit.models import AuditEvent
from tests.support.remembered_browsers import CHROME_ON_LINUX, with_two_step
from tests.support.two_step import code_for, password_step


class _Deadlocked(Exception):
    sqlstate = "40P01"


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db.time, "sleep", lambda _seconds: None)


def test_remembering_the_browser_after_a_code_accepted_is_run_again_alone(
    app: Flask, vendor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_two_step(vendor)
    tries: list[int] = []
    original = remembered_browsers._remember

    def losing_once(*args: Any) -> None:
        tries.append(1)
        if len(tries) == 1:
            with db.transaction():
                raise OperationalError("INSERT INTO remembered_browsers ...", {}, _Deadlocked())
        original(*args)

    monkeypatch.setattr(remembered_browsers, "_remember", losing_once)
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = CHROME_ON_LINUX
    password_step(client, vendor)

    done = client.post("/sign-in/code", data={"code": code_for(vendor.id), "remember": "y"})

    # The base: 503 ("a unit of work of it had committed": the code accepted).
    assert done.status_code == 302, done.get_data(as_text=True)[:2000]
    assert tries == [1, 1]
    assert client.get_cookie(BROWSER_COOKIE) is not None
    session = db.session()
    browsers = session.scalar(
        select(func.count())
        .select_from(RememberedBrowser)
        .where(RememberedBrowser.user_id == vendor.id)
    )
    remembered_events = session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "user.browser_remembered")
        .where(AuditEvent.entity_id == str(vendor.id))
    )
    assert (browsers, remembered_events) == (1, 1)
    assert client.get("/account/two-step/").status_code == 200  # signed in

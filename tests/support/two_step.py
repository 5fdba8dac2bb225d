"""Two-step sign-in in tests: the authenticator app's codes, computed with pyotp
from the secret the app derives for a user (as a phone would hold it)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pyotp
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts import two_step
from licensing.accounts.models import User
from licensing.audit import keys
from licensing.audit.models import AuditEvent
from licensing.db import utcnow
from tests.support.factories import DEFAULT_PASSWORD


def secret_of(user_id: int) -> str:
    """The secret the user's app holds (two-step sign-in on)."""
    user = db.session().get(User, user_id, populate_existing=True)
    assert user is not None
    assert user.two_step_nonce is not None
    key = keys.ring()[user.two_step_key_id or ""]
    return two_step.secret_for(key, user.id, user.two_step_nonce)


def secret_shown(page: str) -> str:
    """The key the set-up page shows for typing, without its spaces."""
    found = re.search(r'id="two-step-secret">([A-Z2-7 ]+)<', page)
    assert found, page[:3000]
    return found.group(1).replace(" ", "")


def code_for(user_id: int, at: datetime | None = None) -> str:
    """The code the user's app shows at `at` (now)."""
    return pyotp.TOTP(secret_of(user_id)).at(at or utcnow())


def set_up(client: FlaskClient, user: Any) -> list[str]:
    """Set two-step sign-in up through the pages (the client signed in as `user`
    less than 10 minutes ago); the recovery codes shown."""
    page = client.get("/account/two-step/")
    assert page.status_code == 200, page.get_data(as_text=True)[:2000]
    code = pyotp.TOTP(secret_shown(page.get_data(as_text=True))).now()
    done = client.post("/account/two-step/confirm", data={"code": code})
    assert done.status_code == 200, done.get_data(as_text=True)[:3000]
    return recovery_codes_shown(done.get_data(as_text=True))


def recovery_codes_shown(page: str) -> list[str]:
    return re.findall(r"<code>([A-Z0-9]{5}-[A-Z0-9]{5})</code>", page)


def password_step(client: FlaskClient, user: Any, password: str = DEFAULT_PASSWORD) -> Any:
    return client.post("/sign-in", data={"email": user.email, "password": password})


def sign_in_with_code(client: FlaskClient, user: Any, code: str | None = None) -> Any:
    """Both steps; the answer to the second."""
    first = password_step(client, user)
    assert first.status_code == 302
    assert first.headers["Location"].endswith("/sign-in/code")
    return client.post("/sign-in/code", data={"code": code or code_for(user.id)})


def turn_on(user: Any) -> list[str]:
    """Two-step sign-in on for `user` through the use cases (no page); the
    recovery codes. In the app's context."""
    from licensing.accounts import services
    from licensing.accounts.views import two_step_keys
    from licensing.actors import Actor

    actor = Actor.of(services.principal_for(user))
    nonce = two_step.new_nonce()
    pending = services.pending_set_up(user.id, user.email, nonce, two_step_keys())
    code = pyotp.TOTP(pending.secret).now()
    return services.confirm_set_up(actor, nonce, code, two_step_keys())


def events_of(user: Any, action: str) -> list[AuditEvent]:
    """The audit log's events `action` of the user `user`."""
    return list(
        db.session().scalars(
            select(AuditEvent).where(
                AuditEvent.action == action, AuditEvent.entity_id == str(user.id)
            )
        )
    )

"""A week before an API token expires its owner is emailed, once (`tokens remind`,
a worker job), even with the job on several hosts; and the migration that gave
tokens their scope and expiry left the tokens made before it working as they did."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import column, func, insert, select, table
from sqlalchemy.orm import Session

from licensing import db, migrations
from licensing.accounts import services
from licensing.accounts.models import ApiToken, User
from licensing.actors import Actor
from licensing.audit.models import AuditEvent
from licensing.mail.models import OutboxMessage
from tests.support import factories
from tests.support.locks import emails_and_markers, run_as_another_host_commits

MADE = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
EXPIRES = MADE + timedelta(days=30)
# Six days and a bit before it expires: within the week.
DUE = EXPIRES - timedelta(days=6, hours=20)


def _reminders(to: str) -> list[OutboxMessage]:
    statement = select(OutboxMessage).where(OutboxMessage.subject.like("Your API token%expires%"))
    return [message for message in db.session().scalars(statement) if to in message.to]


def _token(user: User, name: str = "finance sync", days: int = 30) -> ApiToken:
    token, _raw = services.create_api_token(
        user.id, name, actor=Actor.SYSTEM, scope="read", expires_in_days=days, now=MADE
    )
    return token


def test_the_owner_is_emailed_once_a_week_before_naming_the_token_and_how_to_rotate_it(
    client: FlaskClient, vendor: User
) -> None:
    token = _token(vendor)
    token.last_used_at = MADE + timedelta(days=3)
    assert services.remind_expiring_tokens(DUE - timedelta(hours=5)) == []  # not yet
    assert services.remind_expiring_tokens(DUE) == [f"{token.prefix}… ({vendor.email})"]
    assert services.remind_expiring_tokens(DUE + timedelta(hours=1)) == []
    assert services.remind_expiring_tokens(EXPIRES - timedelta(minutes=1)) == []
    (message,) = _reminders(vendor.email)
    body = message.body_text
    assert "“finance sync”" in message.subject
    assert f"({token.prefix}…, read only)" in body
    # At the office, in words (round 56): 12:00 UTC is 7:00 in daylight time, 6:00 before.
    assert "expires on March 31, 2027 at 7:00 AM (US Central time)" in body
    assert "last used on March 4, 2027 at 6:00 AM (US Central time)" in body
    assert "http://testserver/account/tokens" in body
    assert "Switch the program to the new token" in body
    events = db.session().scalars(
        select(AuditEvent).where(AuditEvent.action == services.EXPIRY_REMINDED)
    )
    assert [event.entity_id for event in events] == [str(token.id)]


def test_the_reminders_link_offers_a_new_token_that_may_do_what_the_expiring_one_does(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    _token, _raw = services.create_api_token(
        vendor.id, "nightly upload", actor=Actor.SYSTEM, scope="write", expires_in_days=30, now=MADE
    )
    services.remind_expiring_tokens(DUE)
    (message,) = _reminders(vendor.email)
    assert '"Read and write" as this one has' in message.body_text
    link = re.search(r"http://testserver(/account/tokens\S*)", message.body_text)
    assert link is not None
    page = signed_in(app.test_client(), vendor).get(link.group(1))
    html = page.get_data(as_text=True)
    assert "Replacing “nightly upload”" in html
    # The page's default is "Read only": following the reminder must not make a
    # read-only token for the program that uploads every night.
    assert re.search(
        r'<option[^>]*selected[^>]*value="write"|<option[^>]*value="write"[^>]*selected', html
    )
    assert re.search(
        r'id="name"[^>]*value="nightly upload"|value="nightly upload"[^>]*id="name"', html
    )


def test_revoked_expired_and_never_expiring_tokens_are_not_reminded_of(
    client: FlaskClient, vendor: User
) -> None:
    revoked = _token(vendor, "old laptop")
    services.revoke_api_token(revoked.id, Actor.of(services.principal_for(vendor)))
    gone = _token(vendor, "gone")
    gone.expires_at = DUE - timedelta(minutes=1)
    forever = _token(vendor, "from before")
    forever.expires_at = None
    db.session().flush()
    assert services.remind_expiring_tokens(DUE) == []
    assert _reminders(vendor.email) == []


def test_the_worker_job_and_the_command_send_the_same_reminder(app: Flask, vendor: User) -> None:
    _token(vendor)
    result = app.test_cli_runner().invoke(args=["tokens", "remind", "--now", DUE.isoformat()])
    assert result.exit_code == 0, result.output
    assert "1 owner(s) told a token expires within a week" in result.output
    assert len(_reminders(vendor.email)) == 1


def test_tokens_create_takes_a_scope_and_an_expiry(app: Flask, vendor: User) -> None:
    runner = app.test_cli_runner()
    made = runner.invoke(
        args=[
            "tokens",
            "create",
            vendor.email,
            "--name",
            "exports",
            "--scope",
            "read",
            "--expires-in",
            "30",
        ]
    )
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip()
    stored = (
        db.session()
        .scalars(
            select(ApiToken).where(
                ApiToken.token_hash == hashlib.sha256(secret.encode()).hexdigest()
            )
        )
        .one()
    )
    assert stored.scope == "read"
    assert stored.expires_at is not None
    assert stored.expires_at - stored.created_at == timedelta(days=30)
    assert "Scope read; expires" in made.stderr
    refused = runner.invoke(
        args=["tokens", "create", vendor.email, "--name", "x", "--expires-in", "0"]
    )
    assert refused.exit_code == 2
    assert "'30', '90', '180', '365'" in refused.output


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_host_whose_claim_began_before_another_host_committed_the_reminder_sends_none(
    committed_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    with committed_app.app_context():
        vendor = factories.make_vendor(db.session())
        db.session().commit()
        token = _token(vendor)
        token_id, email = token.id, vendor.email
        # Host A has claimed the token and marked it reminded, not yet committed.
        host_a = Session(committed_app.extensions["licensing.db"].engine)
        claim = db.claim(select(ApiToken).where(ApiToken.id == token_id))
        host_a.scalars(claim).one().expiry_reminded_at = DUE
        host_a.flush()
    # Host B's claim takes its snapshot (no marker in it), A commits, B locks.
    reminded = run_as_another_host_commits(
        committed_app,
        monkeypatch,
        host_a,
        lambda: services.remind_expiring_tokens(DUE),
        reading="api_tokens",
    )
    assert reminded == []
    assert emails_and_markers(
        committed_app,
        OutboxMessage.recipients.contains(email),
        services.EXPIRY_REMINDED,
    ) == (0, 0)


def test_tokens_made_before_accounts_0005_keep_working_as_write_tokens_that_never_expire(
    committed_app: Flask,
) -> None:
    url = committed_app.config["LICENSING"].database_url
    with committed_app.app_context():
        vendor = factories.make_vendor(db.session())
        db.session().commit()
        vendor_id = vendor.id
    committed_app.extensions["licensing.db"].engine.dispose()
    migrations.downgrade(url, "accounts_0005-1")
    # The table as accounts_0003 left it (the model has columns it had not).
    before = table(
        "api_tokens",
        *(column(name) for name in ("user_id", "name", "token_hash", "prefix", "created_at")),
    )
    with committed_app.app_context(), db.transaction() as session:
        session.execute(
            insert(before).values(
                user_id=vendor_id,
                name="old script",
                token_hash=hashlib.sha256(b"lic_from-before").hexdigest(),
                prefix="lic_from-bef",
                created_at=MADE,
            )
        )
    committed_app.extensions["licensing.db"].engine.dispose()
    migrations.upgrade(url)
    with committed_app.app_context():
        old = db.session().scalars(select(ApiToken).where(ApiToken.name == "old script")).one()
        assert (old.scope, old.expires_at, old.expiry_reminded_at) == ("write", None, None)
        headers = {"Authorization": "Bearer lic_from-before"}
        client = committed_app.test_client()
        assert client.get("/api/v1/me", headers=headers).status_code == 200
        listed = client.get(f"/api/v1/tokens/{old.id}", headers=headers).get_json()
        assert (listed["scope"], listed["expires_at"], listed["expired"]) == ("write", None, False)
        assert db.session().scalar(select(func.count()).select_from(ApiToken)) == 1


def test_a_replace_link_to_a_colleagues_or_a_revoked_token_fills_nothing_in(
    app: Flask, vendor: User, signed_in: Callable[..., FlaskClient]
) -> None:
    colleague = factories.make_vendor(db.session(), organization=vendor.organization)
    theirs = _token(colleague, "their secret system")
    mine = _token(vendor, "old laptop")
    services.revoke_api_token(mine.id, Actor.of(services.principal_for(vendor)))
    client = signed_in(app.test_client(), vendor)
    for token in (theirs, mine):
        page = client.get(f"/account/tokens?replace={token.id}").get_data(as_text=True)
        assert "Replacing" not in page
        assert token.name not in page.split('id="create"')[1].split("</form>")[0]

"""Round 60's operator walk (opswalk60), on PostgreSQL as docs/operations.md gives it:
a database made by the release of round 40 with its own code and data, upgraded by
the docs' steps (`licensing db upgrade`, then `licensing audit verify`), keeps every
row, every issued document still verifies, and the app serves them; and every key
the docs name rotated at once (`SECRET_KEY` with `SECRET_KEY_FALLBACKS`,
`AUDIT_HMAC_KEY` with `AUDIT_HMAC_RETIRED_KEYS`) leaves API tokens, sessions and
old rows as the docs promise."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, table, text

from licensing import db
from licensing.accounts.models import User
from licensing.app import create_app
from licensing.audit.seals import verify_documents
from licensing.audit.services import verify_chain
from tests.conftest import TEST_AUDIT_KEY, TEST_SECRET_KEY, make_config
from tests.support import factories
from tests.support.checkout import PROJECT_ROOT
from tests.support.servers import PostgresServer

# The integration branch of round 40 (`git log --merges`: "Merge branch 'words40'
# into round39"), twenty rounds before this walk: before kept PDFs, the jobs' run
# ids, the late fees' emails and the organizations' sort keys.
ROUND_40 = "cf0ebbdc3bf291c783e26863b691f2eeb6fc9eee"

# What the old release's own code makes, run in the old tree (one process): its
# schema, both sample cards, and a vendor's agreement accepted (its up-front invoice
# issued), the invoice part paid by wire and credited.
_OLD_DATA = """
import json
import os
import pathlib

from licensing import db, migrations
from licensing.app import create_app
from licensing.ratecards import services as ratecards
from tests.integration.royalties.conftest import DEVELOPMENT, SMALL_SOFTWARE
from tests.support import factories
from tests.support.agreements import make_active_agreement, up_front_invoice
from tests.support.billing import credited, paid_offline

migrations.upgrade(os.environ["DATABASE_URL"])
app = create_app()
with app.app_context():
    for card in ("2026.1", "2027.1"):
        sample = pathlib.Path(f"licensing/ratecards/samples/{card}.json").read_text()
        ratecards.import_card(json.loads(sample), published_by="the old release")
    session = db.session()
    organization = factories.make_organization(session, legal_name="Old Release Vendor")
    vendor = factories.make_vendor(session, organization, email="old-vendor@example.org")
    staff = factories.make_staff(session, email="old-staff@example.org")
    session.commit()
    agreement = make_active_agreement(
        vendor, staff, {**DEVELOPMENT, "product_type": "mobile_app"}, SMALL_SOFTWARE
    )
    invoice = up_front_invoice(agreement)
    paid_offline(invoice.id, "100.00", "WIRE-1")
    credited(invoice.id, "50.00", "Goodwill")
    print(invoice.number)
"""

_COUNTED = ("audit_events", "users", "organizations", "agreements", "invoices", "credit_notes")
_COUNT = {name: select(func.count()).select_from(table(name)) for name in _COUNTED}


def _old_tree(destination: Path) -> Path:
    """The round-40 release's files, as `git archive` gives them."""
    found = subprocess.run(
        ["git", "-C", str(PROJECT_ROOT), "archive", ROUND_40],
        capture_output=True,
        check=False,
    )
    if found.returncode != 0:
        pytest.skip(f"the history holds no {ROUND_40[:9]}: {found.stderr.decode()[:200]}")
    with tarfile.open(fileobj=io.BytesIO(found.stdout)) as archive:
        archive.extractall(destination, filter="data")
    return destination


def _environment(url: str, **changes: str) -> dict[str, str]:
    return {
        **os.environ,
        "LICENSING_ENV": "testing",
        "DATABASE_URL": url,
        "SECRET_KEY": TEST_SECRET_KEY,
        "AUDIT_HMAC_KEY": TEST_AUDIT_KEY,
        "PUBLIC_URL": "https://licensing.example.org",
        "PYTHONDONTWRITEBYTECODE": "1",
        **changes,
    }


def _run(arguments: list[str], environment: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, *arguments],
        env=environment,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _command(url: str, *arguments: str) -> str:
    """`licensing ARGUMENTS` on the database at `url`, run in this process by Flask's
    CLI runner (the command and its exit code as the console script's); its output."""
    app = create_app(make_config(url, public_url="https://licensing.example.org"))
    try:
        done = app.test_cli_runner().invoke(args=list(arguments))
    finally:
        app.extensions["licensing.db"].engine.dispose()
    assert done.exit_code == 0, done.output
    return done.output


def _counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {table: connection.execute(_COUNT[table]).scalar_one() for table in _COUNTED}
    finally:
        engine.dispose()


def test_a_database_made_by_the_release_of_round_40_upgrades_by_the_docs_steps_and_keeps_everything(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    old = _old_tree(tmp_path / "round40")
    url = postgres_server.create_database("licensing_round40")
    as_of_old = _environment(url, PYTHONPATH=str(old))
    (old / "old_data.py").write_text(_OLD_DATA)
    number = _run(["old_data.py"], as_of_old, old).strip().splitlines()[-1]
    before = _counts(url)

    # docs/operations.md, "Upgrading": the new code, `db upgrade`, then `audit verify`.
    # The new code's commands run in this process (round 63: three processes, each
    # importing the app, were half the test's time); the old release's ran in its own.
    _command(url, "db", "upgrade")
    _command(url, "db", "current")  # exits 1, naming them, while revisions are missing
    assert _counts(url) == before
    verified = _command(url, "audit", "verify")
    assert f"Audit log intact: {before['audit_events']} events" in verified
    # The agreement, its invoice and the credit note: sealed by the old release.
    assert "Issued documents intact: 3 checked, 0 kept PDF(s) hashed again." in verified

    app = create_app(make_config(url))
    try:
        with app.app_context():
            vendor = (
                db.session()
                .scalars(select(User).where(User.email == "old-vendor@example.org"))
                .one()
            )
            headers = factories.bearer(vendor, name="after the upgrade")
            client = app.test_client()
            invoices = client.get("/api/v1/invoices", headers=headers)
            assert invoices.status_code == 200
            [invoice] = invoices.get_json()
            assert (invoice["number"], invoice["balance_due"]) == (number, "3165.00")
            assert (invoice["amount_paid"], invoice["amount_credited"]) == ("100.00", "50.00")
            drawn = client.get(f"/api/v1/invoices/{invoice['id']}/pdf", headers=headers)
            assert drawn.status_code == 200
            assert drawn.data.startswith(b"%PDF-")
            # The PDF drawn now is kept, sealed, and verifies with the rest.
            documents = verify_documents(db.session())
            assert (documents.ok, documents.documents, documents.kept) == (True, 3, 1)
            assert verify_chain(db.session()).ok
    finally:
        app.extensions["licensing.db"].engine.dispose()


def test_rotating_every_key_at_once_keeps_tokens_sessions_and_every_old_row_as_the_docs_promise(
    postgres_server: PostgresServer,
) -> None:
    from licensing import db, migrations
    from licensing.audit.seals import verify_documents
    from licensing.audit.services import verify_chain
    from licensing.ratecards import services as ratecards
    from tests.integration.pricing.conftest import example_document
    from tests.integration.royalties.conftest import DEVELOPMENT, SMALL_SOFTWARE
    from tests.support import factories
    from tests.support.agreements import make_active_agreement, up_front_invoice

    url = postgres_server.create_database("licensing_rotation60")
    migrations.upgrade(url)
    secret, audit_key = "former-secret-key-" + "s" * 30, "former-audit-key-" + "a" * 30
    new_secret, new_audit_key = "new-secret-key-" + "t" * 30, "new-audit-key-" + "b" * 30
    before = create_app(make_config(url, secret_key=secret, audit_hmac_key=audit_key))
    with before.app_context():
        session = db.session()
        ratecards.import_card(example_document(), published_by="tests")
        vendor = factories.make_vendor(session)
        staff = factories.make_staff(session, roles=("licensing",))
        session.commit()
        agreement = make_active_agreement(
            vendor, staff, {**DEVELOPMENT, "product_type": "mobile_app"}, SMALL_SOFTWARE
        )
        invoice = up_front_invoice(agreement)
        token = factories.bearer(vendor)
        signing_in = before.test_client()
        assert (
            signing_in.post(
                "/sign-in", data={"email": vendor.email, "password": factories.DEFAULT_PASSWORD}
            ).status_code
            == 302
        )
        # The invoice's PDF, kept and sealed under the former audit key.
        assert (
            signing_in.get(f"/api/v1/invoices/{invoice.id}/pdf", headers=token).status_code == 200
        )
        cookie = signing_in.get_cookie("licensing_session")
        assert cookie is not None
        former_key_id = db.session().scalar(text("SELECT key_id FROM audit_events WHERE seq = 1"))

    rotated = create_app(
        make_config(
            url,
            secret_key=new_secret,
            secret_key_fallbacks=(secret,),
            audit_hmac_key=new_audit_key,
            audit_hmac_retired_keys=(audit_key,),
        )
    )
    dropped = create_app(make_config(url, secret_key=new_secret, audit_hmac_key=new_audit_key))
    try:
        with rotated.app_context():
            client = rotated.test_client()
            client.set_cookie("licensing_session", cookie.value)
            # Signed in still (the former key kept), and the token needs no key.
            assert client.get("/portal/").status_code == 200
            assert client.get(f"/api/v1/invoices/{invoice.id}", headers=token).status_code == 200
            factories.bearer(vendor, name="after the rotation")  # a row under the new key
            chain, documents = verify_chain(db.session()), verify_documents(db.session())
            assert (chain.ok, documents.ok, documents.kept) == (True, True, 1), (
                chain.problems + documents.problems
            )
        with dropped.app_context():
            client = dropped.test_client()
            client.set_cookie("licensing_session", cookie.value)
            # Without the fallback: signed out; the token works on.
            assert client.get("/portal/").status_code == 302
            assert client.get(f"/api/v1/invoices/{invoice.id}", headers=token).status_code == 200
            chain, documents = verify_chain(db.session()), verify_documents(db.session())
            not_configured = f"signed with audit key {former_key_id}, which is not configured"
            # Every row and seal before the rotation (the rows after it verify).
            assert len(chain.problems) >= 1
            assert all(not_configured in problem for problem in chain.problems)
            sealed_under = f"audit key {former_key_id}, which is not configured"
            assert len(documents.problems) == documents.documents + documents.kept
            assert all(sealed_under in problem for problem in documents.problems)
    finally:
        for application in (before, rotated, dropped):
            application.extensions["licensing.db"].engine.dispose()


def test_during_stripes_changeover_an_event_signed_with_both_secrets_is_taken_under_the_new_one(
    postgres_server: PostgresServer,
) -> None:
    """docs/operations.md, "Rotating secrets": Stripe signs with the old and the new
    webhook secret while the roll lasts, so a server restarted with the new
    `STRIPE_WEBHOOK_SECRET` within it takes every event; one signed by the old
    secret alone (after the roll) is refused."""
    import json
    import time

    from licensing import migrations
    from tests.integration.billing.stripe_support import signature_of

    url = postgres_server.create_database("licensing_webhook_roll60")
    migrations.upgrade(url)
    app = create_app(
        make_config(
            url,
            stripe_secret_key="sk_test_roll",
            stripe_publishable_key="pk_test_roll",
            stripe_webhook_secret="whsec_new",
            stripe_api_base="http://127.0.0.1:9",
        )
    )
    try:
        client = app.test_client()
        at = int(time.time())

        def post(number: int, *secrets: str) -> int:
            event = {
                "id": f"evt_roll60_{number}",
                "object": "event",
                "type": "customer.created",
                "data": {"object": {"id": "cus_roll60", "object": "customer"}},
            }
            payload = json.dumps(event).encode()
            signatures = [
                signature_of(payload, secret, at)["Stripe-Signature"].split(",")[1]
                for secret in secrets
            ]
            headers = {
                "Stripe-Signature": ",".join([f"t={at}", *signatures]),
                "Content-Type": "application/json",
            }
            return client.post("/webhooks/stripe", data=payload, headers=headers).status_code

        assert post(1, "whsec_old", "whsec_new") == 200
        assert post(2, "whsec_old") == 400
        assert post(3, "whsec_new") == 200
    finally:
        app.extensions["licensing.db"].engine.dispose()


def _documented_units() -> dict[str, str]:
    """Each systemd unit docs/operations.md gives (an `ini` block whose first line
    names its file under /etc/systemd/system), by file name."""
    import re

    doc = (PROJECT_ROOT / "docs" / "operations.md").read_text()
    units = {}
    for block in re.findall(r"```ini\n(.*?)```", doc, flags=re.DOTALL):
        named = re.match(r"# /etc/systemd/system/(\S+\.service)\n", block)
        if named:
            units[named.group(1)] = block
    return units


def test_the_documented_systemd_units_run_the_server_and_the_worker_and_pass_systemd_analyze(
    tmp_path: Path,
) -> None:
    import shutil

    units = _documented_units()
    assert {
        name: [line for line in unit.splitlines() if line.startswith(("ExecStart=", "Wants="))]
        for name, unit in units.items()
    } == {
        "licensing.service": [
            "Wants=network-online.target",
            "ExecStart=/srv/licensing/.venv/bin/licensing --env-file /etc/licensing/prod.env "
            "serve --bind 0.0.0.0:8000",
        ],
        "licensing-worker.service": [
            "Wants=network-online.target",
            "ExecStart=/srv/licensing/.venv/bin/licensing --env-file /etc/licensing/prod.env "
            "worker",
        ],
    }
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    # The console script of this environment where the docs install it.
    script = str(Path(sys.executable).parent / "licensing")
    for name, unit in units.items():
        path = tmp_path / name
        path.write_text(unit.replace("/srv/licensing/.venv/bin/licensing", script))
        done = subprocess.run(
            [analyze, "verify", str(path)], capture_output=True, text=True, check=False
        )
        assert (done.returncode, done.stdout + done.stderr) == (0, ""), name


def test_a_sqlite_database_copied_with_sqlites_backup_as_the_docs_say_verifies(
    tmp_path: Path,
) -> None:
    """docs/operations.md, "Backups and restore", a SQLite install: Python's
    `sqlite3` backup (the line the docs give for a host without the sqlite3 tool) of
    a live file under WAL; the copy migrates with nothing to run and verifies."""
    from licensing import db, migrations
    from licensing.audit import services as audit

    live = tmp_path / "licensing.db"
    copy = tmp_path / "licensing-copy.db"
    url = f"sqlite:///{live}"
    migrations.upgrade(url)
    app = create_app(make_config(url))
    try:
        with app.app_context():
            for number in range(3):
                with db.transaction() as session:
                    audit.record(
                        session,
                        action="walk.step",
                        entity_type="walk",
                        entity_id=number,
                        before=None,
                        after={"step": number},
                        actor="system",
                    )
            # The service still holds the file open, as a live install would.
            backup = (
                "import sqlite3, sys; copy = sqlite3.connect(sys.argv[2]); "
                "sqlite3.connect(sys.argv[1]).backup(copy); copy.close()"
            )
            subprocess.run([sys.executable, "-c", backup, str(live), str(copy)], check=True)
    finally:
        app.extensions["licensing.db"].engine.dispose()
    _command(f"sqlite:///{copy}", "db", "upgrade")
    verified = _command(f"sqlite:///{copy}", "audit", "verify")
    assert "Audit log intact: 3 events, chain head at seq 3." in verified

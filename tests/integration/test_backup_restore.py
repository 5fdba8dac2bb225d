"""docs/operations.md's backup and restore, run as written on PostgreSQL (round 31):
`pg_dump -Fc`, `pg_restore --no-owner` into a fresh database, `licensing db
upgrade` and `licensing audit verify` there; the audit chain verifies with the key
kept beside the backup, and is named broken under another."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from licensing import db
from licensing.app import create_app
from licensing.audit import services as audit
from tests.conftest import TEST_AUDIT_KEY, TEST_SECRET_KEY, DatabaseTemplate, make_config
from tests.support.checkout import this_checkout
from tests.support.servers import PostgresServer


def _licensing(*args: str, **environment: str) -> subprocess.CompletedProcess[str]:
    """The console script as the operator runs it, in a process of its own (whose
    connections end with it)."""
    return subprocess.run(
        [sys.executable, "-m", "licensing.cli", *args],
        env=this_checkout(**environment),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _client_url(server: PostgresServer, database: str) -> str:
    """The address for PostgreSQL's own tools: `postgresql://`, without `+psycopg`."""
    return f"postgresql://postgres@127.0.0.1:{server.port}/{database}"


def test_a_dump_restored_into_a_fresh_database_starts_and_verifies_its_audit_chain(
    postgres_server: PostgresServer, postgresql_template: DatabaseTemplate, tmp_path: Path
) -> None:
    # The live database is a copy of the session's migrated template (round 66: it
    # was migrated from empty here, the whole chain, some 5 s a CI run), which is
    # what `migrations.upgrade` made; `db upgrade` on the restored copy below still
    # finds nothing to run, so the dump is of a database at the heads.
    live = postgresql_template.new_url()
    live_name = live.rsplit("/", 1)[1]
    app = create_app(make_config(live))
    with app.app_context(), db.transaction() as session:
        for number in range(3):
            audit.record(
                session,
                action="walk.step",
                entity_type="walk",
                entity_id=number,
                before=None,
                after={"step": number},
                actor="system",
            )
    app.extensions["licensing.db"].engine.dispose()

    dump = tmp_path / "licensing.dump"
    bindir = postgres_server.bindir
    subprocess.run(
        [
            str(bindir / "pg_dump"),
            "-Fc",
            "-f",
            str(dump),
            _client_url(postgres_server, live_name),
        ],
        check=True,
    )
    restored = postgres_server.create_database("licensing_restored_r31")
    subprocess.run(
        [
            str(bindir / "pg_restore"),
            "--no-owner",
            "-d",
            _client_url(postgres_server, "licensing_restored_r31"),
            str(dump),
        ],
        check=True,
    )
    environment = {
        "LICENSING_ENV": "testing",
        "DATABASE_URL": restored,
        "SECRET_KEY": TEST_SECRET_KEY,
        "AUDIT_HMAC_KEY": TEST_AUDIT_KEY,
    }
    upgraded = _licensing("db", "upgrade", **environment)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "Running upgrade" not in upgraded.stderr  # nothing to run: the dump is current
    verified = _licensing("audit", "verify", **environment)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "Audit log intact: 3 events" in verified.stdout
    assert _licensing("db", "current", **environment).returncode == 0

    other_key = _licensing("audit", "verify", **{**environment, "AUDIT_HMAC_KEY": "other-" * 8})
    assert other_key.returncode == 1
    assert "Audit log BROKEN" in other_key.stderr  # problems on standard error
    assert "AUDIT_HMAC_RETIRED_KEYS" in other_key.stderr

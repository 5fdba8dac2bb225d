"""Round 17: whoever downloads an export can check what they downloaded.

The SHA-256 of each export was written to the audit log, which only admins
read: billing staff could not verify a file. `GET /api/v1/exports/downloads`
lists the caller's own exports with their rows, bytes and digest (an admin's:
everyone's); vendors never reach it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.audit.models import AuditEvent
from tests.integration.exports.conftest import Ledger
from tests.support import factories
from tests.support.factories import bearer

RECORDS = "/api/v1/exports/downloads"


# The module runs on one worker: the exports ledger three of its tests read, made once
# a module and backend (`prepared_ledger`), was made again on each worker they were
# handed to (round 65).
pytestmark = pytest.mark.xdist_group("export_records")


def test_billing_staff_check_a_download_against_their_own_record(
    ledger: Ledger, client: FlaskClient, billing_staff: User, admin: User, vendor: User
) -> None:
    headers = bearer(billing_staff)
    csv = client.get("/api/v1/exports/invoices?format=csv", headers=headers)
    assert csv.status_code == 200
    assert csv.data  # read to its end: the export is recorded when the stream ends
    lines = client.get("/api/v1/exports/invoice_lines?format=jsonl", headers=headers)
    assert lines.status_code == 200
    assert lines.data
    other = factories.make_staff(db.session(), roles=("billing",))
    theirs = client.get("/api/v1/exports/payments", headers=bearer(other))
    assert theirs.status_code == 200
    assert theirs.data

    mine = client.get(RECORDS, headers=headers)
    assert mine.status_code == 200
    records = mine.get_json()
    assert [r["dataset"] for r in records] == ["invoice_lines", "invoices"]  # newest first
    newest, first = records
    assert first["sha256"] == hashlib.sha256(csv.data).hexdigest()
    assert first["bytes"] == len(csv.data)
    assert first["rows"] == len(csv.data.splitlines()) - 1  # the header row aside
    assert (first["format"], first["schema_version"], first["complete"]) == ("csv", 1, True)
    assert first["exported_by"] == billing_staff.email
    assert newest["sha256"] == hashlib.sha256(lines.data).hexdigest()
    assert newest["format"] == "jsonl"
    assert mine.headers["X-Total-Count"] == "2"

    only = client.get(RECORDS, query_string={"dataset": "invoices"}, headers=headers)
    assert [r["sha256"] for r in only.get_json()] == [first["sha256"]]

    # Another billing staff member's download is not theirs; an admin sees all.
    assert [r["dataset"] for r in client.get(RECORDS, headers=bearer(other)).get_json()] == [
        "payments"
    ]
    everyone = client.get(RECORDS, headers=bearer(admin)).get_json()
    assert [r["dataset"] for r in everyone] == ["payments", "invoice_lines", "invoices"]
    assert client.get(RECORDS, headers=bearer(vendor)).status_code == 403
    assert client.get(RECORDS).status_code == 401


def test_an_unknown_dataset_filter_is_a_422_naming_it(
    app: Flask, client: FlaskClient, billing_staff: User
) -> None:
    refused = client.get(RECORDS, query_string={"dataset": "nope"}, headers=bearer(billing_staff))
    assert refused.status_code == 422
    assert set(refused.get_json()["errors"]) == {"query.dataset"}


def test_the_openapi_document_declares_the_records_and_their_digest(
    app: Flask, client: FlaskClient
) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    operation = document["paths"][RECORDS]["get"]
    item = operation["responses"]["200"]["content"]["application/json"]["schema"]["items"]
    name = item["$ref"].split("/")[-1]
    properties = document["components"]["schemas"][name]["properties"]
    assert {"sha256", "rows", "bytes", "dataset", "filter", "exported_at"} <= set(properties)
    said = f"{operation.get('summary', '')} {operation.get('description', '')}"
    assert "SHA-256" in said, operation


def test_an_export_the_command_runs_for_billing_staff_is_in_their_downloads(
    ledger: Ledger, app: Flask, client: FlaskClient, billing_staff: User, tmp_path: Path
) -> None:
    # The command recorded every export as the system's, which only admins list:
    # billing staff could not find, nor check, the file an operator ran for them.
    target = tmp_path / "invoices.csv"
    args = ["exports", "invoices", "--output", str(target), "--for", billing_staff.email]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output

    (record,) = client.get(RECORDS, headers=bearer(billing_staff)).get_json()
    assert record["exported_by"] == billing_staff.email
    assert record["sha256"] == hashlib.sha256(target.read_bytes()).hexdigest()
    event = db.session().scalars(select(AuditEvent).where(AuditEvent.entity_type == "export")).one()
    assert event.actor_user_id == billing_staff.id
    assert event.note is not None
    assert event.note.startswith("licensing exports on the command line (user ")
    assert event.note.endswith(f" for {billing_staff.email}")


def test_the_command_runs_an_export_only_for_someone_who_may_read_it(
    ledger: Ledger, app: Flask, tmp_path: Path
) -> None:
    licensing_officer = factories.make_staff(db.session(), roles=("licensing",))
    gone = factories.make_staff(db.session(), roles=("billing",))
    gone.is_active = False
    db.session().flush()
    target = tmp_path / "invoices.csv"
    for email in (licensing_officer.email, gone.email, "nobody@office.example"):
        args = ["exports", "invoices", "--output", str(target), "--for", email]
        result = app.test_cli_runner().invoke(args=args)
        assert result.exit_code == 2, result.output
        assert f"--for: {email} is not an active billing staff member or admin" in result.output
        assert not target.exists()
    assert (
        db.session().scalars(select(AuditEvent).where(AuditEvent.entity_type == "export")).all()
        == []
    )

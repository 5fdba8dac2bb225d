"""Round 50: `licensing exports --organization` took the organization's id alone; it
takes the legal name too (any case), and a name none or several have is a usage
error listing the candidates with their ids, as `licensing users move --to`."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from licensing import db
from licensing.accounts.models import Organization, User
from licensing.audit.models import AuditEvent
from tests.integration.exports.conftest import Ledger
from tests.support import factories
from tests.support.factories import bearer


def _export(app: Flask, organization: str, target: Path) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(
        args=["exports", "invoices", "--organization", organization, "--output", str(target)]
    )
    return result.exit_code, " ".join(result.output.split())


def test_the_export_of_one_organization_takes_its_name(
    ledger: Ledger, app: Flask, tmp_path: Path
) -> None:
    organization = db.session().get(Organization, ledger.org_a)
    assert organization is not None
    by_id, by_name = tmp_path / "by_id.csv", tmp_path / "by_name.csv"

    assert _export(app, str(ledger.org_a), by_id)[0] == 0
    assert _export(app, organization.legal_name.upper(), by_name)[0] == 0

    rows = by_name.read_text().splitlines()
    assert rows == by_id.read_text().splitlines()
    assert len(rows) > 2  # its invoices, not every one nor none
    assert all(organization.legal_name in row for row in rows[1:])

    twin = factories.make_organization(db.session(), legal_name=organization.legal_name.lower())
    code, output = _export(app, organization.legal_name, tmp_path / "none.csv")
    assert code == 2
    assert "Invalid value for --organization: 2 organizations are named" in output
    assert f"(id {ledger.org_a})" in output
    assert f"(id {twin.id})" in output
    assert not (tmp_path / "none.csv").exists()


def test_the_api_export_of_one_organization_takes_its_name_as_the_command_does(
    ledger: Ledger, app: Flask, client: FlaskClient, billing_staff: User, tmp_path: Path
) -> None:
    """Round 51: the API's filter took the id alone; `organization_name` beside it takes
    the legal name in any case, refused in the command's words."""
    organization = db.session().get(Organization, ledger.org_a)
    assert organization is not None
    url, headers = "/api/v1/exports/invoices", bearer(billing_staff)

    by_id = client.get(url, query_string={"organization": ledger.org_a}, headers=headers)
    by_name = client.get(
        url, query_string={"organization_name": organization.legal_name.upper()}, headers=headers
    )

    assert by_name.status_code == by_id.status_code == 200
    assert by_name.get_data() == by_id.get_data()
    assert len(by_name.get_data(as_text=True).splitlines()) > 2
    recorded = db.session().scalars(
        select(AuditEvent).where(AuditEvent.action == "export.downloaded").order_by(AuditEvent.seq)
    )
    # Recorded by the id it found, as the filter that repeats it.
    filters = [event.after_data["filter"] for event in recorded]
    assert filters
    assert all(each == {"organization": ledger.org_a} for each in filters)

    twin = factories.make_organization(db.session(), legal_name=organization.legal_name.lower())
    several = client.get(
        url, query_string={"organization_name": organization.legal_name}, headers=headers
    )
    assert several.status_code == 422
    assert several.mimetype == "application/problem+json"
    (said,) = several.get_json()["errors"]["query.organization_name"]
    assert said.startswith(f"2 organizations are named “{organization.legal_name}”")
    assert f"(id {ledger.org_a})" in said
    assert f"(id {twin.id})" in said
    code, output = _export(app, organization.legal_name, tmp_path / "none.csv")
    assert code == 2
    assert said in output

    both = client.get(
        url,
        query_string={"organization": ledger.org_a, "organization_name": "Anything"},
        headers=headers,
    )
    assert both.status_code == 422
    assert both.get_json()["errors"] == {
        "query.organization_name": ["Give organization or organization_name, not both."]
    }
    unstorable = client.get(url, query_string={"organization_name": "Acme\x00"}, headers=headers)
    assert unstorable.status_code == 422
    exports = select(func.count()).where(AuditEvent.action == "export.downloaded")
    assert db.session().scalar(exports) == len(filters)  # the refused ones exported nothing

"""Round 50: `licensing exports --organization` took the organization's id alone; it
takes the legal name too (any case), and a name none or several have is a usage
error listing the candidates with their ids, as `licensing users move --to`."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from licensing import db
from licensing.accounts.models import Organization
from tests.integration.exports.conftest import Ledger
from tests.support import factories


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

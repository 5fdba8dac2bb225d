"""Round 47: the console's organization page reads only the newest of each of the
organization's records (`organization_records.LIMIT`) and says how many there are,
linking the feature's own list of that organization's, which pages the rest. It read
every application and agreement (and 500 invoices) to show the newest 50, and said
nothing of the others."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import db
from licensing.agreements import queries
from licensing.web import organization_records
from tests.integration.agreements.conftest import STAFF_USE
from tests.integration.agreements.conftest import apply as apply
from tests.integration.pricing.conftest import example_card as example_card
from tests.integration.royalties.conftest import (  # noqa: F401 - fixtures
    SMALL_SOFTWARE,
    active_agreement,
    file_report,
    row,
)
from tests.support.pages import text_of, without_time_tags


def test_the_organization_page_lists_the_newest_of_each_and_links_the_rest(
    app: Flask,
    vendor: Any,
    admin: Any,
    apply: Callable[..., Any],
    active_agreement: Callable[..., Any],  # noqa: F811
    file_report: Callable[..., Any],  # noqa: F811
    signed_in: Callable[..., FlaskClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    organization = vendor.organization
    for _ in range(2):
        apply(vendor, STAFF_USE)
    agreements = [active_agreement(vendor, SMALL_SOFTWARE) for _ in range(2)]
    for index, agreement in enumerate(agreements):
        file_report(vendor, agreement, 1, [row(1, f"C-{index}", quantity=10)])
    client = signed_in(app.test_client(), admin)
    url = f"/console/organizations/{organization.id}"
    oid = organization.id

    everything = text_of(client.get(url))
    assert "The newest" not in everything

    monkeypatch.setattr(organization_records, "LIMIT", 1)
    answer = client.get(url)
    page = without_time_tags(answer.get_data(as_text=True))
    said = text_of(answer)
    # Four applications (two applied for, two under the agreements), each agreement's
    # up-front invoice, two reports: one of each shown, the rest counted and linked.
    assert re.findall(r"The newest 1 of (\d+) ([a-z ]+?) are listed", said) == [
        ("4", "applications"),  # two applied for, two under the agreements
        ("2", "agreements"),
        ("4", "invoices"),  # each agreement's up-front invoice and its report's
        ("2", "royalty reports"),
    ]
    for noun, link in (
        ("applications", f"/console/applications?organization={oid}"),
        ("agreements", f"/console/agreements?organization={oid}"),
        ("invoices", f"/console/invoices?organization={oid}"),
        ("royalty reports", f"/console/royalty-reports?organization={oid}"),
    ):
        assert f'href="{link}">every one of {organization.legal_name}\u2019s {noun}</a>' in page
        assert client.get(link).status_code == 200, link
    # Only the first application of the list's order is listed.
    chosen = queries.QueueFilter(organization_id=oid, sort=queries.VENDOR_SORT)
    first = queries.applications(db.session(), queue=chosen)[0]
    assert re.findall(r"/console/applications/(\d+)\"", page) == [str(first.id)]

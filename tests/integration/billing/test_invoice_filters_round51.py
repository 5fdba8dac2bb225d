"""Round 51's review of round 50's invoice filters (docs/security.md, "Round 51: what
round 50 added, reviewed"): the portal's overdue-only list (`?overdue=1`), the
console's and the API's `held` beside `overdue`, under any query string. Never a
5xx, a problem document for the API's refusals, and a vendor never sees another
organization's invoice, overdue, held by a dispute or not."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from flask import Flask
from hypothesis import given

from licensing.billing.models import Invoice
from tests.integration.billing.dispute_support import held_by_disputes
from tests.support import factories
from tests.support.nasty import SWEEP, is_problem, query

# Invoices issued on the default day are due 2027-02-14: overdue on 2027-03-01.
OVERDUE = datetime(2027, 3, 1, 18, 0, tzinfo=UTC)
FILTERS = ["overdue", "held", "due_week", "to_pay", "state", "q", "organization_id", "organization"]


@pytest.fixture
def vendor_bearer(vendor: Any) -> dict[str, str]:
    return factories.bearer(vendor)  # once: every example would make a token


@pytest.fixture
def theirs(vendor: Any, other_vendor: Any, invoice_for: Callable[..., Invoice]) -> tuple[str, str]:
    """The vendor's overdue invoice, and another organization's two: one overdue, one
    a dispute holds (their numbers)."""
    invoice_for(vendor, ("100.00",))
    overdue, held = invoice_for(other_vendor, ("100.00",)), invoice_for(other_vendor, ("50.00",))
    held_by_disputes([held])
    return overdue.number, held.number


@pytest.mark.parametrize("config_changes", [{"auth_rate_limit": "off"}])
@SWEEP
@given(query_args=query(FILTERS))
def test_the_invoice_lists_answer_any_filter_and_show_a_vendor_only_its_own(
    app: Flask,
    signed_in: Any,
    vendor: Any,
    vendor_bearer: dict[str, str],
    billing_staff: Any,
    theirs: tuple[str, str],
    query_args: dict[str, str],
) -> None:
    with time_machine.travel(OVERDUE, tick=False):
        portal = signed_in(app.test_client(), vendor)
        console = signed_in(app.test_client(), billing_staff)
        answers = {
            "portal": portal.get("/portal/invoices", query_string=query_args),
            "api": app.test_client().get(
                "/api/v1/invoices", query_string=query_args, headers=vendor_bearer
            ),
            "console": console.get("/console/invoices", query_string=query_args),
        }
    for where, answer in answers.items():
        assert answer.status_code < 500, (where, query_args)
        if where == "api" and answer.status_code >= 400:
            assert is_problem(answer), query_args
        if where != "console":
            for number in theirs:
                assert number not in answer.get_data(as_text=True), (where, query_args)

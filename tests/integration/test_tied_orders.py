"""Lists whose leading key can tie (two staff with one name, two organizations
with one legal name, two invoices due on one day) keep a stated order: the id
breaks the tie, so two views of a list, and PostgreSQL and SQLite, agree. SQLite
keeps tied rows in id order whatever the ORDER BY says, so without the id these
fail on PostgreSQL alone (`CI=true`; `tests/support/ties.py`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient

from licensing import db
from licensing.accounts.models import name_key, sort_key
from licensing.billing import services as billing
from licensing.billing.models import Invoice
from licensing.exports import queries as exports
from licensing.permissions import queries as permissions
from tests.integration.billing.conftest import invoice_for as invoice_for
from tests.support import factories
from tests.support.ties import rewritten


def test_staff_sharing_a_name_are_offered_as_assignees_in_the_order_they_joined(
    app: Any,
) -> None:
    session = db.session()
    joined = [factories.make_staff(session, roles=("licensing",)) for _ in range(3)]
    for user in joined:
        user.full_name = "Jordan Okafor"
    moved = "moved@licensing-office.example"
    # Its sort key beside it (round 53): a bulk write of an address without it is refused.
    rewritten(session, joined[0], through={"email": moved, "email_sort_key": sort_key(moved)})
    offered = [user.id for user in permissions.licensing_staff(session)]
    assert [id for id in offered if id in {u.id for u in joined}] == [u.id for u in joined]


def test_organizations_sharing_a_legal_name_are_offered_in_the_order_they_were_made(
    app: Any,
) -> None:
    session = db.session()
    made = [factories.make_organization(session, legal_name="Harborlight Labs") for _ in range(3)]
    rewritten(session, made[0])
    offered = [
        id for id, name in exports.organization_choices(session) if name == "Harborlight Labs"
    ]
    assert offered == [organization.id for organization in made]


def test_invoices_due_the_same_day_are_named_overdue_in_the_order_they_were_issued(
    vendor: Any, invoice_for: Callable[..., Invoice]
) -> None:
    issued = [invoice_for(vendor) for _ in range(3)]
    assert len({invoice.due_date for invoice in issued}) == 1
    today = issued[0].due_date + timedelta(days=40)
    rewritten(db.session(), issued[0], through={"number": "INV-MOVED", "due_date": today})
    named = billing.overdue_invoices(db.session(), vendor.organization_id, today, 30)
    assert named == [f"invoice {invoice.number} is 40 days overdue" for invoice in issued]


def _walked(client: FlaskClient, path: str, headers: dict[str, str], pages: int) -> list[int]:
    """The ids of `pages` pages of one record each, in the order the API gave them."""
    ids = []
    for page in range(1, pages + 1):
        response = client.get(f"{path}page={page}&per_page=1", headers=headers)
        assert response.status_code == 200, response.get_json()
        ids += [item["id"] for item in response.get_json()]
    return ids


def test_invoices_made_in_the_same_second_are_each_on_one_page_of_the_api_newest_first(
    client: FlaskClient, vendor: Any, invoice_for: Callable[..., Invoice]
) -> None:
    issued = [invoice_for(vendor) for _ in range(3)]
    session = db.session()
    moment = issued[0].created_at
    for invoice in issued:
        invoice.created_at = moment
    rewritten(session, issued[-1], through={"number": "INV-MOVED"})
    session.commit()
    walked = _walked(client, "/api/v1/invoices?", factories.bearer(vendor), pages=3)
    assert walked == sorted((invoice.id for invoice in issued), reverse=True)


def test_organizations_sharing_a_legal_name_are_each_on_one_page_of_the_api(
    client: FlaskClient, app: Any
) -> None:
    session = db.session()
    made = [factories.make_organization(session, legal_name="Harborlight Labs") for _ in range(3)]
    # The name's key too: the search reads it (round 51), and a bulk write of a name
    # without its key is refused (round 52).
    moved = "Harborlight Labs moved"
    through = {
        "legal_name": moved,
        "legal_name_key": name_key(moved),
        "legal_name_sort_key": sort_key(moved),  # round 53: the lists' order too
    }
    rewritten(session, made[0], through=through)
    session.commit()
    staff = factories.make_staff(session, roles=("licensing",))
    walked = _walked(
        client, "/api/v1/organizations?q=Harborlight+Labs&", factories.bearer(staff), pages=3
    )
    assert walked == [organization.id for organization in made]

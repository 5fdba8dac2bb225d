"""Issue 16: the vendor's applications list prints its rows from text escaped once
in Python (licensing/agreements/vendor_rows.py) instead of through Jinja's lookups,
the `state_badge` macro, filters and autoescaping per cell. What the vendor sees
must not change: every value escaped exactly as Jinja escapes it, and each row's
markup as the template's general path printed it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from flask import Flask, render_template_string
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import update

from licensing import db
from licensing.accounts import services as accounts
from licensing.agreements import queries
from licensing.agreements.models import Agreement, Application, ApplicationUse
from licensing.agreements.queries import vendor_filter
from tests.integration.agreements.conftest import AUTO_USE, NOW, STAFF_USE
from tests.support.agreements import make_active_agreement

Apply = Callable[..., Application]
HOUR = timedelta(hours=1)
HOSTILE = "<b>\"Quoted\" & 'Sons'</b>"

# The row as applications.html printed it before its rows were prepared in Python:
# the general path every row is held to.
GENERAL_ROW = """{% from "layout/forms.html" import state_badge %}
    <tr>
      <td><a href="{{ url_for('agreements.application', application_id=application.id) }}">{{ application.reference }}</a>{% if application.renewal_of %}<br><span class="muted">renews {{ application.renewal_of.number }}</span>{% endif %}</td>
      <td>{{ state_badge(application.state, 'application') }}</td>
      <td>{{ products or '—' }}</td>
      <td>{{ application.term_start|when }} to {{ application.term_end|when }}</td>
      <td class="num">{% if application.submitted_at is not none and application.total is none %}<span class="muted">to be priced</span>{% elif application.total is none %}—{% else %}<span class="money">{{ application.total|money(application.currency or 'USD') }} {{ application.currency or 'USD' }}</span>{% endif %}</td>
      <td>{{ application.updated_at|when }}</td>
    </tr>
  """  # noqa: E501 - the template's own lines


def _list(client: FlaskClient, query: str = "") -> str:
    response = client.get(f"/portal/applications{query}")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def _rows(page: str) -> str:
    found = re.search(r"<tbody>(.*?)</tbody>", page, re.DOTALL)
    assert found, "no table body"
    return found.group(1)


def _row(page: str, application_id: int) -> str:
    found = re.search(
        rf'<tr>\s*<td><a href="/portal/applications/{application_id}">.*?</tr>', page, re.DOTALL
    )
    assert found, f"no row for application {application_id}"
    return found.group(0)


def _general_rows(app: Flask, ids: list[int]) -> str:
    """The rows of `ids`, in that order, as the template's general path printed them
    from the applications as stored."""
    session = db.session()
    session.expire_all()
    printed = []
    with app.test_request_context():
        for application_id in ids:
            application = session.get(Application, application_id)
            assert application is not None
            named = ", ".join(use.product_name for use in application.uses if use.product_name)
            printed.append(
                render_template_string(GENERAL_ROW, application=application, products=named)
            )
    return "".join(printed)


def test_every_text_in_a_vendor_s_row_is_escaped_once_as_jinja_escapes_it(
    app: Flask,
    vendor: Any,
    licensing_staff: Any,
    signed_in: Callable[..., FlaskClient],
    apply: Apply,
) -> None:
    renewed = make_active_agreement(vendor, licensing_staff, AUTO_USE)
    application = apply(
        vendor,
        {**STAFF_USE, "product_name": f"{HOSTILE} Feed"},
        {**AUTO_USE, "product_name": f"Second {HOSTILE}"},
    )
    session = db.session()
    session.execute(update(Agreement).where(Agreement.id == renewed.id).values(number="<i>&'\"1"))
    session.execute(
        update(Application)
        .where(Application.id == application.id)
        .values(renewal_of_id=renewed.id, currency="<&>")
    )
    session.commit()
    row = _row(_list(signed_in(app.test_client(), vendor)), application.id)
    escaped = str(escape(HOSTILE))
    assert f"<td>{escaped} Feed, Second {escaped}</td>" in row
    assert '<br><span class="muted">renews &lt;i&gt;&amp;&#39;&#34;1</span></td>' in row
    assert re.search(r'<span class="money">[\d.,]+ &lt;&amp;&gt;</span>', row)
    assert "<b>" not in row
    assert "<i>" not in row
    assert "&amp;lt;" not in row


def test_every_row_is_printed_as_the_template_s_general_path_printed_it(
    app: Flask,
    vendor: Any,
    licensing_staff: Any,
    signed_in: Callable[..., FlaskClient],
    apply: Apply,
) -> None:
    renewed = make_active_agreement(vendor, licensing_staff, AUTO_USE)
    quoted = apply(vendor, STAFF_USE)
    to_be_priced = apply(vendor, {**STAFF_USE, "product_name": f"{HOSTILE} Feed"})
    draft = apply(vendor, AUTO_USE, submit=False)
    unnamed = apply(vendor, STAFF_USE, AUTO_USE)
    renewal = apply(vendor, AUTO_USE)
    session = db.session()
    # Received in another order than made: newest first is not the ids' order.
    changes: list[tuple[Application, dict[str, Any]]] = [
        (to_be_priced, {"total": None, "submitted_at": NOW + timedelta(hours=3)}),
        (draft, {"total": None, "term_start": None, "term_end": None}),
        (quoted, {"total": Decimal("1234567.5"), "currency": None, "submitted_at": NOW + HOUR}),
        (unnamed, {"submitted_at": NOW - HOUR}),
        (
            renewal,
            {
                "renewal_of_id": renewed.id,
                "currency": "EUR",
                "state": "in_review",
                "submitted_at": NOW + 2 * HOUR,
            },
        ),
    ]
    for application, values in changes:
        session.execute(update(Application).where(Application.id == application.id).values(values))
    session.execute(
        update(ApplicationUse)
        .where(ApplicationUse.application_id == unnamed.id)
        .values(product_name="")
    )
    session.commit()
    page = _list(signed_in(app.test_client(), vendor))
    listed = [int(found) for found in re.findall(r'<a href="/portal/applications/(\d+)">', page)]
    assert set(listed) >= {quoted.id, to_be_priced.id, draft.id, unnamed.id, renewal.id}
    newest = queries.applications(session, accounts.principal_for(vendor), vendor_filter())
    assert listed == [application.id for application in newest]
    assert _rows(page) == _general_rows(app, listed) + "\n  "  # then </tbody>

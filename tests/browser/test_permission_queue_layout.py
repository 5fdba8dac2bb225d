"""Round 6: the queues' bulk assignment, as licensing staff see it."""

from __future__ import annotations

import re
from typing import Any

from licensing import db
from licensing.permissions import services as permissions
from tests.browser.conftest import signed_in_tab
from tests.integration.permissions.conftest import last_mail, request_input
from tests.support import factories
from tests.support.servers import LiveServer
from tests.support.settings import permission_sla_days


def test_the_assign_button_is_a_button_not_a_block_filling_half_the_row(
    browser: Any, live_server: LiveServer
) -> None:
    # Under the permission queue (and the applications queue), "Assign the selected
    # requests" stretched over its grid cell: a dark block 600 px wide and as tall as
    # the field beside it, label included.
    with live_server.app.app_context():
        session = db.session()
        staff = factories.make_staff(session, roles=("licensing",))
        session.commit()
        created = permissions.submit_request(request_input())
        found = re.search(
            r"/permissions/confirm/(\S+)", last_mail(created.requester_email).body_text
        )
        assert found
        permissions.confirm_email(found.group(1), sla_days=permission_sla_days())
    tab = signed_in_tab(browser, live_server, staff.email, 1280)
    tab.goto("/console/permissions")
    button = tab.get_by_role("button", name="Assign the selected requests").bounding_box()
    select = tab.get_by_label("Assign the selected requests to").bounding_box()
    assert button is not None
    assert select is not None
    assert button["height"] < 50, button
    assert button["width"] < 400, button
    # Level with the choice it acts on.
    assert abs((button["y"] + button["height"]) - (select["y"] + select["height"])) < 4

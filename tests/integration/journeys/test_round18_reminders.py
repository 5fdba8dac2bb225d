"""Round 18: reminders and renewals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

from licensing.permissions.models import PermissionRequest
from tests.integration.permissions.conftest import (
    last_mail,
    submit,  # noqa: F401 - the fixture
)

Submit = Callable[..., tuple[PermissionRequest, str]]


def test_the_staff_email_about_a_new_request_says_its_audience_as_the_letter_does(
    app: Flask,
    submit: Submit,  # noqa: F811
    licensing_staff: Any,
) -> None:
    # The requester's emails, the pages and the letter said "Audience: up to
    # 1,200"; the email telling staff of the new request did not say it at all.
    request, _token = submit(audience_size=1200)
    notice = last_mail(licensing_staff.email)
    assert notice.subject == f"Permission request {request.reference}: new request"
    assert "Audience: up to 1,200\n" in notice.body_text

"""Organizations, users, staff roles, API tokens, and who is calling.

`init_app` registers how a request's caller is recognised (see `auth`): the
Flask-Login session on pages, a bearer token on the API; and tells the outbox
who the staff holding a role are.
"""

from __future__ import annotations

from flask import Flask

from licensing.accounts import auth, queries
from licensing.mail import services as mail


def init_app(app: Flask) -> None:
    auth.init_app(app)
    mail.install_staff_directory(app, queries.staff_recipients)

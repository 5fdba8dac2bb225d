"""Organizations, users, staff roles, API tokens, and who is calling.

`init_app` registers how a request's caller is recognised (see `auth`): the
Flask-Login session on pages, a bearer token on the API.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from licensing.accounts import auth

    auth.init_app(app)

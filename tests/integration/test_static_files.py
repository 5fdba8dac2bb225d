"""Round 64: static files were served without `max-age`, so every page load asked
again for each stylesheet and script (304s). Pages link each with its content's
version (`?v=...`, `licensing.static_files`), and a request naming the file's current
version is kept a year by the browser (`immutable`); other requests are served as
before. The Content-Security-Policy still allows them: the same origin."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from licensing.accounts.models import User
from licensing.static_files import content_version

KEPT = "public, max-age=31536000, immutable"


def _version(app: Flask, filename: str) -> str:
    assert app.static_folder is not None
    version = content_version(app.static_folder, filename)
    assert version is not None
    return version


def test_pages_link_each_static_file_with_its_contents_version(
    app: Flask, signed_in: Callable[..., FlaskClient], vendor: User
) -> None:
    home = app.test_client().get("/").get_data(as_text=True)
    linked = re.findall(r'(?:href|src)="(/static/[^"]+)"', home)
    assert f"/static/css/app.css?v={_version(app, 'css/app.css')}" in linked
    assert f"/static/js/error-summary.js?v={_version(app, 'js/error-summary.js')}" in linked
    assert all(re.search(r"\?v=[0-9a-f]{12}$", url) for url in linked), linked
    # A signed-in page's own script, and the API documentation (Swagger UI's page).
    portal = signed_in(app.test_client(), vendor)
    sign_in = app.test_client().get("/sign-in").get_data(as_text=True)
    assert f"/static/js/passkeys.js?v={_version(app, 'js/passkeys.js')}" in sign_in
    assert f"/static/css/app.css?v={_version(app, 'css/app.css')}" in portal.get(
        "/portal/"
    ).get_data(as_text=True)
    docs = app.test_client().get("/api/v1/docs").get_data(as_text=True)
    assert f"/static/js/api-docs.js?v={_version(app, 'js/api-docs.js')}" in docs


def test_a_versioned_file_is_kept_a_year_and_an_unversioned_one_revalidated(
    client: FlaskClient, app: Flask
) -> None:
    version = _version(app, "css/app.css")
    kept = client.get(f"/static/css/app.css?v={version}")
    assert kept.status_code == 200
    assert kept.headers["Cache-Control"] == KEPT
    assert kept.get_data() == client.get("/static/css/app.css").get_data()
    # Same origin, as the policy says: the page's stylesheet and scripts load.
    assert "style-src 'self'" in kept.headers["Content-Security-Policy"]
    # As before round 64: no-cache, so the browser asks again (and gets a 304).
    plain = client.get("/static/css/app.css")
    assert plain.headers["Cache-Control"] == "no-cache"
    again = client.get("/static/css/app.css", headers={"If-None-Match": plain.headers["ETag"]})
    assert again.status_code == 304
    # A version that is not the file's (a page from before a release): not kept.
    stale = client.get("/static/css/app.css?v=000000000000")
    assert stale.status_code == 200
    assert stale.headers["Cache-Control"] == "no-cache"
    # A file that is not there, versioned or not, is still a 404.
    assert client.get(f"/static/css/missing.css?v={version}").status_code == 404

"""The service's skeleton: pages, health, the API document and error shapes."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from licensing import access
from licensing import db as db_module
from licensing.app import create_app
from tests.conftest import make_config, unavailable

PROBLEM = "application/problem+json"


def test_home_page_explains_who_needs_a_license(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "License CPT content for your product" in page
    assert 'href="/static/css/app.css' in page
    assert '<a class="skip-link" href="#main">' in page


def test_pages_and_the_api_docs_load_no_asset_from_another_host(client: FlaskClient) -> None:
    for path in ("/", "/api/v1/docs"):
        page = client.get(path).get_data(as_text=True)
        external = re.findall(r'(?:src|href)="(https?://[^"]+)"', page)
        assert external == [], f"{path} loads {external}"


def test_swagger_assets_are_served_by_the_app(client: FlaskClient) -> None:
    page = client.get("/api/v1/docs").get_data(as_text=True)
    for asset in re.findall(r'(?:src|href)="(/api/v1/docs/assets/[^"]+)"', page):
        assert client.get(asset).status_code == 200, asset


def test_healthz_answers_without_the_database(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_reports_the_database_ready(committed_app: Flask) -> None:
    # committed_app: the `app` fixture's outer test transaction holds SQLite's
    # write lock, which readiness rightly reports.
    response = committed_app.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["database"] == "ok"


def test_readyz_is_503_when_the_database_is_unreachable(app: Flask) -> None:
    from licensing.db import make_engine

    database = app.extensions["licensing.db"]
    working = database.engine
    database.engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    try:
        response = app.test_client().get("/readyz")
    finally:
        database.engine = working
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"


def test_openapi_document_describes_the_api(client: FlaskClient) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.")
    assert "/api/v1/" in document["paths"]
    assert "bearerAuth" in document["components"]["securitySchemes"]


def test_unknown_api_path_is_a_problem_document(client: FlaskClient) -> None:
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.mimetype == PROBLEM
    assert response.get_json()["status"] == 404


def test_unknown_page_is_an_html_page(client: FlaskClient) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Page not found" in response.get_data(as_text=True)


def test_wrong_method_on_the_api_is_405_with_allow(client: FlaskClient) -> None:
    response = client.delete("/api/v1/")
    assert response.status_code == 405
    assert response.mimetype == PROBLEM


def _api_write_urls(app: Flask) -> list[tuple[str, str]]:
    urls = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}):
            values = dict.fromkeys(rule.arguments, 1)
            path = rule.rule
            for arg in rule.arguments:
                path = re.sub(rf"<(?:[^:<>]+:)?{arg}>", str(values[arg]), path)
            urls.append((method, path))
    return urls


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        ("{not json", "application/json", {400}),
        ('{"a": NaN}', "application/json", {400}),
        (b"\xff\xfe", "application/json", {400}),
        ("a=1&b=2", "application/x-www-form-urlencoded", {415}),
        ("plain words", "text/plain", {415}),
    ],
)
def test_every_api_write_refuses_unreadable_bodies_with_a_problem(
    app: Flask, client: FlaskClient, body: str | bytes, content_type: str, expected: set[int]
) -> None:
    urls = _api_write_urls(app)
    assert ("POST", "/api/v1/quotes") in urls
    for method, path in urls:
        response = client.open(path, method=method, data=body, content_type=content_type)
        assert response.status_code < 500, (method, path, response.status_code)
        assert response.mimetype == PROBLEM, (method, path)
        # Authentication may be checked first; otherwise the body is refused.
        assert response.status_code in expected | {401, 405}, (method, path)


def test_an_unexpected_error_shows_no_stack_trace(app: Flask) -> None:
    @app.route("/api/v1/_boom", methods=["GET"])
    @access.public
    def boom() -> str:
        raise RuntimeError("secret internals")

    @app.route("/_boom_page")
    @access.public
    def boom_page() -> str:
        raise RuntimeError("secret internals")

    client = app.test_client()
    api = client.get("/api/v1/_boom")
    assert api.status_code == 500
    assert api.mimetype == PROBLEM
    assert "secret internals" not in api.get_data(as_text=True)
    assert "Traceback" not in api.get_data(as_text=True)

    page = client.get("/_boom_page")
    assert page.status_code == 500
    assert page.mimetype == "text/html"
    assert "secret internals" not in page.get_data(as_text=True)


def test_a_route_without_an_access_declaration_is_refused(app: Flask) -> None:
    @app.route("/_undeclared")
    def undeclared() -> str:
        return "should never be served"

    response = app.test_client().get("/_undeclared")
    assert response.status_code == 403
    assert "should never be served" not in response.get_data(as_text=True)


def test_every_response_carries_a_request_id(client: FlaskClient) -> None:
    response = client.get("/healthz", headers={"X-Request-Id": "abcdef123456"})
    assert response.headers["X-Request-Id"] == "abcdef123456"
    generated = client.get("/healthz").headers["X-Request-Id"]
    assert len(generated) == 32


def test_an_id_too_large_for_any_record_is_404_not_a_database_error(
    client: FlaskClient, admin: Any
) -> None:
    from tests.support.factories import bearer

    huge = 10**20
    assert client.get(f"/api/v1/invoices/{huge}", headers=bearer(admin)).status_code == 404
    assert client.get(f"/api/v1/invoices/{2**31 - 1}", headers=bearer(admin)).status_code == 404


def test_readyz_is_503_while_another_writer_holds_the_sqlite_database(
    sqlite_template: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite only (its single write lock): PostgreSQL has no such lock to hold.
    committed_app = create_app(make_config(sqlite_template.new_url()))
    path = committed_app.extensions["licensing.db"].engine.url.database
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    # The app's writers would queue for an hour here: readyz answers at once
    # all the same (a check that waited like a writer would hang this test).
    monkeypatch.setattr(db_module, "SQLITE_BUSY_TIMEOUT_MS", 3_600_000)
    try:
        response = committed_app.test_client().get("/readyz")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert response.status_code == 503
    assert response.get_json()["database"] == "not writable"
    assert "locked" in response.get_json()["detail"]
    assert committed_app.test_client().get("/readyz").status_code == 200
    committed_app.extensions["licensing.db"].engine.dispose()


def test_readyz_is_503_when_the_database_is_read_only(
    database_template: Any, backend: str, request: pytest.FixtureRequest
) -> None:
    url = database_template.new_url()
    if backend == "sqlite":
        path = url.removeprefix("sqlite:///")
        url = f"sqlite:///file:{path}?mode=ro&uri=true"
    else:
        database = url.rsplit("/", 1)[-1]
        request.getfixturevalue("postgres_server").execute(
            f'ALTER DATABASE "{database}" SET default_transaction_read_only = on'
        )
    application = create_app(make_config(url))
    try:
        response = application.test_client().get("/readyz")
    finally:
        application.extensions["licensing.db"].engine.dispose()
    assert response.status_code == 503
    assert response.get_json()["database"] == "not writable"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB filesystem of its own (tmpfs), to be filled up; mounting needs root,
    which CI has."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    if os.geteuid() != 0:
        unavailable("mounting a small tmpfs to fill up needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        unavailable(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(path: Path) -> None:
    # Unbuffered: a buffered file would keep the bytes that did not fit and raise
    # ENOSPC again when closed, depending on how the free space divides by 64 KiB
    # (that is, on the size of the migrated database).
    with path.open("wb", buffering=0) as filler:
        try:
            while True:
                filler.write(b"\0" * 65536)
                filler.flush()
        except OSError:
            pass


def test_readyz_is_503_when_the_sqlite_disk_is_full_and_200_once_there_is_room(
    sqlite_template: Any, small_disk: Path
) -> None:
    # SQLite only: the database file lives on this host's disk.
    source = Path(sqlite_template.new_url().removeprefix("sqlite:///"))
    database = small_disk / "licensing.db"
    shutil.copyfile(source, database)
    application = create_app(make_config(f"sqlite:///{database}"))
    try:
        assert application.test_client().get("/readyz").status_code == 200
        _fill(small_disk / "filler")
        response = application.test_client().get("/readyz")
        assert response.status_code == 503
        assert response.get_json()["database"] == "not writable"
        (small_disk / "filler").unlink()
        assert application.test_client().get("/readyz").status_code == 200
    finally:
        application.extensions["licensing.db"].engine.dispose()


def test_a_sqlite_uri_database_makes_no_folder_named_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from licensing.db import make_engine

    monkeypatch.chdir(tmp_path)
    database = tmp_path / "data" / "licensing.db"
    database.parent.mkdir()
    sqlite3.connect(database).close()
    engine = make_engine(f"sqlite:///file:{database}?mode=rw&uri=true")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT 1").scalar() == 1
    engine.dispose()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
    # A plain path still gets its folder made.
    make_engine(f"sqlite:///{tmp_path}/new/licensing.db").dispose()
    assert (tmp_path / "new").is_dir()


def test_readyz_is_503_until_the_database_has_the_codes_migrations(tmp_path: Path) -> None:
    """Round 13: a server started before `licensing db upgrade` answered "ok" here
    while every page on a newer table was a 500 (`relation "rate_cards" does not
    exist`), so a load balancer sent it traffic."""
    from licensing import migrations

    url = f"sqlite:///{tmp_path / 'older.db'}"
    migrations.upgrade(url, "billing_0005")
    behind = create_app(make_config(url))
    try:
        response = behind.test_client().get("/readyz")
        assert response.status_code == 503
        answer = response.get_json()
        assert answer["database"] == "schema behind"
        billing_head = next(name for name in migrations.heads(url) if name.startswith("billing_"))
        assert billing_head in answer["detail"]
        assert "run `licensing db upgrade`" in answer["detail"]
        migrations.upgrade(url)
        assert behind.test_client().get("/readyz").status_code == 200
    finally:
        behind.extensions["licensing.db"].engine.dispose()


def test_a_database_migrated_by_a_newer_release_is_not_behind() -> None:
    """Through a rolling upgrade the older processes keep serving a database
    that records a revision they do not know."""
    from licensing import migrations

    assert migrations.behind(migrations.heads("")) == ()
    assert migrations.behind(["billing_0099_from_a_newer_release"]) == ()
    assert migrations.behind(["billing_0005"]) != ()

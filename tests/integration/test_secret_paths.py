"""No log keeps a one-time link's secret: the access log of `licensing serve`
wrote every path whole (`GET /reset/<token>`), and the `Referer` of the page's
own stylesheet too, so whoever read the logs could reset a password, join an
organization or pay and read an invoice (`licensing.secret_paths`)."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from flask import Flask

from licensing.secret_paths import HIDDEN, hide_secrets
from tests.support.checkout import this_checkout
from tests.support.servers import free_port, until

BIN = Path(sys.executable).parent
SECRET = "Zq3xW9_secretPart-0123456789abcdefghijkLMNOP"


def _example(rule: str) -> str:
    """The rule with every id 7 and every token the secret."""
    path = re.sub(r"<token>", SECRET, rule)
    return re.sub(r"<(?:[^:<>]+:)?[^<>]+>", "7", path)


def test_every_route_with_a_token_in_its_path_has_the_token_hidden(app: Flask) -> None:
    rules = [rule.rule for rule in app.url_map.iter_rules() if "<token>" in rule.rule]
    assert len(rules) >= 10  # reset, invitation, verification, invoice and permission links
    for rule in rules:
        path = _example(rule)
        hidden = hide_secrets(f'GET {path}?page=2 HTTP/1.1 "http://office.example{path}"')
        assert SECRET not in hidden, rule
        assert hidden.count(HIDDEN) == 2, rule
        assert "?page=2" in hidden, rule


def test_paths_without_a_secret_are_written_whole(app: Flask) -> None:
    # Record ids after the same words (`/api/v1/invitations/7`) are not secrets.
    for rule in app.url_map.iter_rules():
        if "<token>" not in rule.rule:
            path = _example(rule.rule)
            assert hide_secrets(path) == path, rule.rule


def test_the_access_log_of_the_server_hides_the_secret_of_a_link(tmp_path: Path) -> None:
    port = free_port()
    environment = this_checkout(
        HOME=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'served.sqlite'}",
        SECRET_KEY="s" * 64,
        AUDIT_HMAC_KEY="a" * 64,
    )
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "access.log"
    with log.open("w") as stdout:
        server = subprocess.Popen(
            [str(BIN / "licensing"), "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
            env=environment,
            cwd=tmp_path,
            stdout=stdout,
            stderr=subprocess.DEVNULL,
        )
    try:
        until(lambda: urllib.request.urlopen(f"{base}/healthz", timeout=5).status == 200)  # noqa: S310
        for path, referrer in (
            (f"/reset/{SECRET}", None),
            (f"/invoice-links/7/{SECRET}/invoice.pdf", None),
            ("/healthz", f"{base}/permissions/status/{SECRET}"),
        ):
            request = urllib.request.Request(base + path)  # noqa: S310 - loopback
            if referrer:
                request.add_header("Referer", referrer)
            # Refused links (the database has none) are logged all the same.
            with contextlib.suppress(urllib.error.HTTPError):
                urllib.request.urlopen(request, timeout=5).close()  # noqa: S310
        until(lambda: log.read_text().count(HIDDEN) >= 3)
    finally:
        server.terminate()
        server.wait(timeout=30)
    written = log.read_text()
    assert SECRET not in written
    assert f"GET /reset/{HIDDEN} HTTP/1.1" in written
    assert f"GET /invoice-links/7/{HIDDEN}/invoice.pdf HTTP/1.1" in written
    assert f'"{base}/permissions/status/{HIDDEN}"' in written

"""Round 54's security review of what round 54 added (docs/security.md, "Round 54:
review54"): each finding's test, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.integration.agreements.conftest import AUTO_USE, apply  # noqa: F401
from tests.integration.pricing.conftest import example_card, example_document  # noqa: F401
from tests.support.agreements import agreement_of
from tests.support.pages import text_of

DEEP = 100_000


def _check(app: Flask, path: Path) -> Any:
    return app.test_cli_runner().invoke(args=["ratecards", "check", str(path)])


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("deep.json", b"[" * DEEP + b"]" * DEEP),
        ("deep.yaml", b"[" * DEEP + b"]" * DEEP),
        ("deep-map.yaml", b"a: " + b"{a: " * 3_000 + b"1" + b"}" * 3_000),
        ("latin1.json", b'{"version": "2027.\xe9"}'),
        ("number.json", b'{"version": "2027.1", "rules": 1' + b"0" * 5_000 + b"}"),
    ],
)
def test_checking_a_hostile_file_on_the_command_line_says_why_without_a_traceback(
    app: Flask, tmp_path: Path, name: str, content: bytes
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = _check(app, path)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.output.startswith("Error: "), result.output


def test_a_yaml_bomb_is_refused_at_once_saying_so(app: Flask, tmp_path: Path) -> None:
    """Ten anchors of nine aliases each: a few hundred bytes that expand to 9**10
    values for whatever walks the document."""
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for index in range(1, 10):
        name, previous = chr(ord("a") + index), chr(ord("a") + index - 1)
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    result = _check(app, path)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "aliases expand to more than 1,000,000 values" in result.output


@pytest.mark.usefixtures("example_card")
def test_a_yaml_card_sharing_a_value_by_an_alias_still_checks(app: Flask, tmp_path: Path) -> None:
    """The bound is on what aliases expand to, not on aliases: a card may share text."""
    document = example_document()
    document["version"] = "2027.2"
    document["rules"][0]["description"] = "ALIAS"
    text = json.dumps(document, indent=1)  # JSON is YAML's flow style
    title = json.dumps(document["title"])
    text = text.replace(f'"title": {title}', f'"title": &title {title}')
    path = tmp_path / "card.yaml"
    path.write_text(text.replace('"ALIAS"', "*title"))
    result = _check(app, path)
    assert result.exit_code == 0, result.output
    assert "Rate card 2027.2 is valid; nothing is published." in result.output


def test_a_card_file_past_ten_megabytes_is_refused_reading_no_more(
    app: Flask, tmp_path: Path
) -> None:
    path = tmp_path / "huge.json"
    path.write_bytes(b'{"a": "' + b"x" * 10_000_000 + b'"}')
    result = _check(app, path)
    assert result.exit_code == 1, result.output
    assert "the file is larger than 10 MB" in result.output


def test_a_deeply_nested_card_uploaded_to_the_check_page_is_refused_on_the_form(
    client: FlaskClient, signed_in: Any, admin: Any
) -> None:
    signed_in(client, admin)
    response = client.post(
        "/console/rate-cards/",
        data={"action": "check", "card": (io.BytesIO(b"[" * DEEP + b"]" * DEEP), "c.json")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422, response.status_code
    assert "The file cannot be read: Nested deeper than 32 levels." in text_of(response)


def test_a_deeply_nested_document_posted_to_publish_the_checked_card_is_a_422(
    client: FlaskClient, signed_in: Any, admin: Any
) -> None:
    signed_in(client, admin)
    nested = "[" * 50_000 + "]" * 50_000
    response = client.post("/console/rate-cards/checked", data={"document": nested})
    assert response.status_code == 422, response.status_code


# An operating system command (the window's title set) and an override that lays out
# what follows reversed: what a card's text may hold, which a terminal obeys.
TITLE_SET, OVERRIDE = "\x1b]0;pwned\x07", "\u202e"


@pytest.mark.usefixtures("example_card")
def test_checking_a_card_prints_its_control_characters_escaped(app: Flask, tmp_path: Path) -> None:
    """Round 54's `ratecards check` echoes a card's title, rule ids and field names
    (in differences and refusals); a card drafted elsewhere could hold escape
    sequences or bidirectional controls, which the operator's terminal obeyed (round
    52 escaped them in the commands naming organizations)."""
    document = example_document()
    document.update(version="2027.2", title=f"Schedule {TITLE_SET}{OVERRIDE}2027")
    path = tmp_path / "card.json"
    path.write_text(json.dumps(document))
    checked = _check(app, path)
    assert checked.exit_code == 0, checked.output
    assert "Schedule \\x1b]0;pwned\\x07\\u202e2027" in checked.output
    document[f"x{TITLE_SET}"] = 1
    path.write_text(json.dumps(document))
    refused = _check(app, path)
    assert refused.exit_code == 1
    assert "x\\x1b]0;pwned\\x07" in refused.output
    for output in (checked.output, refused.output):
        assert not {"\x1b", "\x07", OVERRIDE} & set(output)


def test_a_card_file_that_cannot_be_opened_is_refused_saying_why(
    app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file the operator may not read (root reads every file, so refused here by a
    stand-in) was an OSError traceback."""
    path = tmp_path / "card.json"
    path.write_text("{}")

    def refused(*_args: object, **_kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    # Round 55: the file is opened with os.open (without waiting, should it be a pipe).
    monkeypatch.setattr(os, "open", refused)
    result = _check(app, path)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "cannot be read: [Errno 13] Permission denied" in result.output


def test_a_forged_confirmation_is_not_repeated_in_the_terminations_refusal(
    apply: Any,  # noqa: F811 - the fixture
    vendor: Any,
    licensing_staff: Any,
    signed_in: Any,
    app: Flask,
) -> None:
    """Round 54's termination confirmation carried `shown_state`; a post of anything
    else was repeated whole in the 409's sentence (escaped, but any text at any length
    shown as the office's words). Round 55 signs what it carries: a forged one is a
    400 that repeats none of it, and a plain `shown_state` is not read at all."""
    agreement = agreement_of(apply(vendor, AUTO_USE))
    staff = signed_in(app.test_client(), licensing_staff)
    forged = "Call 555-0100 to keep your license. " * 500
    for carried in ({"confirmation": forged}, {"shown_state": forged}):
        refused = staff.post(
            f"/console/agreements/{agreement.id}/terminate",
            data={"reason": "Breach", "confirmed": "yes", **carried},
        )
        assert refused.status_code == 400
        said = text_of(refused)
        assert "555-0100" not in said
        assert "Not terminated: the confirmation" in said

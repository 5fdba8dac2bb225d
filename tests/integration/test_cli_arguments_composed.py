"""Round 60 (pagesfix60): the console script's text arguments are composed as forms'
and the API's text is (`printable.composed`, kana60). A name given to `users
create-admin`, a token's name and a reason given to `users two-step-off` typed
decomposed (か and U+3099, as macOS and some input methods send it; e and U+0301) were
stored as typed, so the same name typed on a page and on the command line were two
names. Passwords (read from standard input, never an argument) and a file's path
(`exports --output`) stay as typed."""

from __future__ import annotations

import hashlib
import unicodedata
from pathlib import Path

import click
from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.accounts import services
from licensing.accounts.models import ApiToken, User
from licensing.options import AS_TYPED, COMPOSED_TEXT
from tests.support.two_step import events_of, turn_on

# Invented words, typed decomposed: が as か and U+3099, é as e and U+0301.
DECOMPOSED_NAME = "Re\u0301mi なか\u3099わ"
COMPOSED_NAME = "Rémi ながわ"
PASSWORD = "copper-lighthouse-cafe\u0301-27"  # decomposed, kept so


def test_the_decomposed_and_composed_spellings_differ() -> None:
    assert DECOMPOSED_NAME != COMPOSED_NAME
    assert unicodedata.normalize("NFC", DECOMPOSED_NAME) == COMPOSED_NAME


def test_an_admins_name_given_decomposed_is_stored_composed_and_the_password_as_typed(
    app: Flask,
) -> None:
    email = "composed-admin@licensing-office.example"
    result = app.test_cli_runner().invoke(
        args=["users", "create-admin", email, "--name", DECOMPOSED_NAME], input=f"{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    user = db.session().scalars(select(User).where(User.email == email)).one()
    assert user.full_name == COMPOSED_NAME
    assert services.sign_in(email, PASSWORD).id == user.id


def test_a_tokens_name_and_a_reason_given_decomposed_are_stored_composed(
    app: Flask, vendor: User
) -> None:
    runner = app.test_cli_runner()
    made = runner.invoke(args=["tokens", "create", vendor.email, "--name", DECOMPOSED_NAME])
    assert made.exit_code == 0, made.output
    digest = hashlib.sha256(made.stdout.strip().encode()).hexdigest()
    token = db.session().scalars(select(ApiToken).where(ApiToken.token_hash == digest)).one()
    assert token.name == COMPOSED_NAME

    turn_on(vendor)
    reason = "Lost the phone at Re\u0301mi's"
    off = runner.invoke(args=["users", "two-step-off", vendor.email, "--reason", reason])
    assert off.exit_code == 0, off.output
    (event,) = events_of(vendor, "user.two_step_disabled")
    assert event.note.startswith("Lost the phone at Rémi's (licensing users two-step-off")


def test_an_exports_file_path_is_written_as_typed(app: Flask, tmp_path: Path) -> None:
    typed = tmp_path / "invoices-cafe\u0301.csv"
    result = app.test_cli_runner().invoke(args=["exports", "invoices", "--output", str(typed)])
    assert result.exit_code == 0, result.output
    assert [path.name for path in tmp_path.iterdir()] == [typed.name]  # not "café"


def test_every_plain_text_argument_of_every_command_is_composed_but_file_paths(
    app: Flask,
) -> None:
    """A command added later is composed too: no text parameter is left plain."""
    kinds: dict[str, object] = {}

    def walk(command: click.Command, path: str) -> None:
        for param in command.params:
            if isinstance(param.type, click.types.StringParamType):
                kinds[f"{path} {param.name}"] = param.type
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, f"{path} {name}".strip())

    walk(app.cli, "")
    assert kinds["users create-admin full_name"] is COMPOSED_TEXT
    assert kinds["users two-step-off reason"] is COMPOSED_TEXT
    assert kinds["tokens create name"] is COMPOSED_TEXT
    assert kinds["exports output"] is AS_TYPED
    assert set(map(id, kinds.values())) <= {id(COMPOSED_TEXT), id(AS_TYPED)}

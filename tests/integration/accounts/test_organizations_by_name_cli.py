"""Round 50: `licensing users move --to` took an organization's id alone; staff know
organizations by name. It takes the legal name too, in any case; a name several
organizations have, or none has, is a usage error (exit 2) listing the candidates,
at most 10, with their ids, and nothing moves; an id (`42`, `#42`) works as before."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from licensing import db
from licensing.accounts.models import User
from licensing.mail.models import OutboxMessage
from tests.support import factories

REASON = "Joined them in March."


def _move(app: Flask, email: str, to: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(
        args=["users", "move", email, "--to", to, "--reason", REASON]
    )
    return result.exit_code, " ".join(result.output.split())


def _organization_of(user: User) -> int | None:
    return (
        db.session()
        .scalars(
            select(User.organization_id)
            .where(User.id == user.id)
            .execution_options(populate_existing=True)
        )
        .one()
    )


def test_the_move_takes_the_organizations_name_in_any_case(app: Flask, vendor: User) -> None:
    session = db.session()
    clerk = factories.make_vendor(session, organization=vendor.organization)
    harbor = factories.make_organization(session, legal_name="Harbor Analytics LLC")
    factories.make_organization(session, legal_name="Harbor Analytics LLC Europe")

    code, output = _move(app, clerk.email, "  harbor ANALYTICS llc ")

    assert code == 0, output
    assert "now acts for Harbor Analytics LLC (left" in output
    assert _organization_of(clerk) == harbor.id


def test_the_move_still_takes_an_id_with_or_without_a_hash(app: Flask, vendor: User) -> None:
    session = db.session()
    first = factories.make_vendor(session, organization=vendor.organization)
    second = factories.make_vendor(session, organization=vendor.organization)
    joined = factories.make_organization(session)

    assert _move(app, first.email, str(joined.id))[0] == 0
    assert _move(app, second.email, f"#{joined.id}")[0] == 0
    assert _organization_of(first) == _organization_of(second) == joined.id


def test_a_name_with_letters_beyond_ascii_is_found_as_typed(app: Flask, vendor: User) -> None:
    session = db.session()
    clerk = factories.make_vendor(session, organization=vendor.organization)
    school = factories.make_organization(session, legal_name="École Européenne SA")

    code, output = _move(app, clerk.email, "École Européenne SA")

    assert code == 0, output
    assert _organization_of(clerk) == school.id


def test_a_name_several_organizations_have_lists_them_with_their_ids_and_moves_nobody(
    app: Flask, vendor: User
) -> None:
    session = db.session()
    clerk = factories.make_vendor(session, organization=vendor.organization)
    one = factories.make_organization(session, legal_name="Acme Trading")
    two = factories.make_organization(session, legal_name="ACME TRADING", standing="closed")

    code, output = _move(app, clerk.email, "acme trading")

    assert code == 2
    assert (
        f"Invalid value for --to: 2 organizations are named “acme trading”: "
        f"Acme Trading (id {one.id}); ACME TRADING (id {two.id}, closed). Give the id."
    ) in output
    assert _organization_of(clerk) == vendor.organization_id
    assert (
        not db.session()
        .scalars(select(OutboxMessage).where(OutboxMessage.template == "account_moved"))
        .all()
    )


def test_an_unknown_name_lists_at_most_ten_whose_names_contain_it(app: Flask, vendor: User) -> None:
    session = db.session()
    clerk = factories.make_vendor(session, organization=vendor.organization)
    made = [
        factories.make_organization(session, legal_name=f"Tidewater Holdings {number:02d}")
        for number in range(12, 0, -1)
    ]
    by_name = sorted(made, key=lambda organization: organization.legal_name)

    code, output = _move(app, clerk.email, "tidewater")

    assert code == 2
    listed = "; ".join(f"{each.legal_name} (id {each.id})" for each in by_name[:10])
    assert (
        f"No organization is named “tidewater” exactly; 12 have names containing it: "
        f"{listed}; and 2 more. Give the legal name exactly or the id."
    ) in output
    assert "Tidewater Holdings 11" not in output
    # A `%` is a letter, not a wildcard; nothing at all found says so.
    code, output = _move(app, clerk.email, "Tide%water")
    assert code == 2
    assert "No organization is named “Tide%water”, nor has a name containing it." in output
    assert _organization_of(clerk) == vendor.organization_id

"""How the audit log (and any page naming records by `web.records`) names the
accounts' records that no single column names: an API token by its name, first
characters and owner, as the console's account page lists tokens; an invitation
by whom it invited where. Each type's records are read in one query a page
(`accounts.views` registers them)."""

from __future__ import annotations

from sqlalchemy import select

from licensing import db
from licensing.accounts.models import ApiToken, OneTimeToken, Organization, User
from licensing.web.records import RecordRef, record_url


def _page(entity_type: str, record_id: int, anchor: str) -> str | None:
    url = record_url(entity_type, record_id)
    return f"{url}#{anchor}" if url else None


def api_tokens(ids: list[int]) -> dict[int, RecordRef]:
    """`API token "nightly sync" (lic_Km9OXKBK…) of Dana Ruiz (dana@...)`, linked
    to the owner's account page's tokens."""
    rows = db.session().execute(
        select(ApiToken.id, ApiToken.name, ApiToken.prefix, User.id, User.full_name, User.email)
        .join(User, ApiToken.user_id == User.id)
        .where(ApiToken.id.in_(ids))
    )
    return {
        token_id: RecordRef(
            f'API token "{name}" ({prefix}…) of {full_name} ({email})',
            _page("user", user_id, "tokens"),
        )
        for token_id, name, prefix, user_id, full_name, email in rows
    }


def invitations(ids: list[int]) -> dict[int, RecordRef]:
    """`Invitation of ana@... to join Kestrel Health Software`, linked to the
    organization page's members and invitations."""
    rows = db.session().execute(
        select(OneTimeToken.id, OneTimeToken.email, Organization.id, Organization.legal_name)
        .join(Organization, OneTimeToken.organization_id == Organization.id)
        .where(OneTimeToken.id.in_(ids))
    )
    return {
        link_id: RecordRef(
            f"Invitation of {email} to join {legal_name}",
            _page("organization", organization_id, "members"),
        )
        for link_id, email, organization_id, legal_name in rows
    }

"""Accounts use cases: sign-up, sign-in, links by email, one's profile, organizations,
staff, tokens.

One module per use case; this package re-exports their public names, so the
rest of the service imports them from `licensing.accounts.services` alone.

Functions that take a `session` compose into a caller's transaction
(`create_organization`, `create_vendor_user`, `change_standing`); the others
are use cases that own theirs (`with db.transaction() as s:`). Every change
is written to the audit log in the same transaction; every email goes
through the outbox in the same transaction.
"""

from __future__ import annotations

from licensing.accounts.services._common import (
    LINK_VALIDITY,
    LINKS_PER_HOUR,
    STAFF_ONLY,
    VENDOR_EDITABLE,
    check_link,
    normalize_email,
)
from licensing.accounts.services.authentication import (
    LOCKOUT_PERIOD,
    LOCKOUT_THRESHOLD,
    SIGN_IN_REFUSED,
    UNCONFIRMED_EMAIL,
    confirm_password,
    sign_in,
    sign_out,
)
from licensing.accounts.services.invitations import (
    MAX_PENDING_INVITATIONS,
    accept_invitation,
    expired_invitation_help,
    invite_member,
    revoke_invitation,
)
from licensing.accounts.services.members import restorable_members, set_user_active, update_user
from licensing.accounts.services.organizations import create_organization, update_organization
from licensing.accounts.services.password_reset import request_password_reset, reset_password
from licensing.accounts.services.profile import (
    change_name,
    change_password,
    request_email_change,
)
from licensing.accounts.services.registration import (
    create_vendor_user,
    resend_verification,
    sign_up,
    verify_email,
)
from licensing.accounts.services.roles import (
    active_administrators,
    set_organization_role,
    set_organization_role_by_email,
    whom_to_ask,
    with_article,
)
from licensing.accounts.services.staff import (
    STAFF_WELCOME_VALIDITY,
    create_admin,
    create_staff_user,
    set_staff_roles,
    unlock_user,
)
from licensing.accounts.services.standing import (
    OPEN_NAMED,
    REASON_MAX,
    Hold,
    OpenBusinessCheck,
    OverdueCheck,
    StillOpen,
    change_organization_standing,
    change_standing,
    ensure_good_standing,
    ensure_licensable,
    hold_for_overdue,
    hold_now_if_overdue,
    licensable,
    named_and_more,
    open_business,
    organization_in_good_standing,
    overdue_obligations,
    pending_payment_hold,
    register_open_business,
    register_overdue_check,
    restore_standing_if_clear,
    standing_block_reason,
    standing_block_reason_now,
)
from licensing.accounts.services.tokens import (
    API_TOKEN_PREFIX,
    DEFAULT_EXPIRY_DAYS,
    EXPIRY_DAYS,
    EXPIRY_REMINDED,
    EXPIRY_REMINDER,
    MAX_ACTIVE_TOKENS,
    TOKEN_USE_RESOLUTION,
    authenticate_token,
    create_api_token,
    create_api_token_for,
    principal_for,
    remind_expiring_tokens,
    revoke_api_token,
)

__all__ = [
    "API_TOKEN_PREFIX",
    "DEFAULT_EXPIRY_DAYS",
    "EXPIRY_DAYS",
    "EXPIRY_REMINDED",
    "EXPIRY_REMINDER",
    "LINKS_PER_HOUR",
    "LINK_VALIDITY",
    "LOCKOUT_PERIOD",
    "LOCKOUT_THRESHOLD",
    "MAX_ACTIVE_TOKENS",
    "MAX_PENDING_INVITATIONS",
    "OPEN_NAMED",
    "REASON_MAX",
    "SIGN_IN_REFUSED",
    "STAFF_ONLY",
    "STAFF_WELCOME_VALIDITY",
    "TOKEN_USE_RESOLUTION",
    "UNCONFIRMED_EMAIL",
    "VENDOR_EDITABLE",
    "Hold",
    "OpenBusinessCheck",
    "OverdueCheck",
    "StillOpen",
    "accept_invitation",
    "active_administrators",
    "authenticate_token",
    "change_name",
    "change_organization_standing",
    "change_password",
    "change_standing",
    "check_link",
    "confirm_password",
    "create_admin",
    "create_api_token",
    "create_api_token_for",
    "create_organization",
    "create_staff_user",
    "create_vendor_user",
    "ensure_good_standing",
    "ensure_licensable",
    "expired_invitation_help",
    "hold_for_overdue",
    "hold_now_if_overdue",
    "invite_member",
    "licensable",
    "named_and_more",
    "normalize_email",
    "open_business",
    "organization_in_good_standing",
    "overdue_obligations",
    "pending_payment_hold",
    "principal_for",
    "register_open_business",
    "register_overdue_check",
    "remind_expiring_tokens",
    "request_email_change",
    "request_password_reset",
    "resend_verification",
    "reset_password",
    "restorable_members",
    "restore_standing_if_clear",
    "revoke_api_token",
    "revoke_invitation",
    "set_organization_role",
    "set_organization_role_by_email",
    "set_staff_roles",
    "set_user_active",
    "sign_in",
    "sign_out",
    "sign_up",
    "standing_block_reason",
    "standing_block_reason_now",
    "unlock_user",
    "update_organization",
    "update_user",
    "verify_email",
    "whom_to_ask",
    "with_article",
]

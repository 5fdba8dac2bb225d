"""Accounts use cases: sign-up, sign-in, links by email, one's profile, organizations,
staff, tokens.

One module per use case; this package re-exports their public names, so the
rest of the service imports them from `licensing.accounts.services` alone.

Functions that take a `session` compose into a caller's transaction
(`create_organization`, `create_vendor_user`, `change_standing`); the others
are use cases that own theirs (`with db.transaction() as s:`). Every change
is written to the audit log in the same transaction; every email goes
through the outbox in the same transaction.

The lock order (round 55; round 58: the audit log's head at commit). Every audited
step's events are chained as it commits, under the audit chain's head, its last lock
(`audit.services`; until round 58 it locked the head at its first event, and what it
locked before that no other step could lock after its own: `take_turn`, gone, put
the head before a step's organization). A locked row is read as it is once locked
(`licensing.db`, round 55, stale55). A step that locks more than one of these locks
them in this order:

    1. the organization (`locked_organization`: the steps that count its
       administrators, invitations, the two-step requirement, a member's access, a
       change of standing by staff; a move locks both organizations, by id), after
       the records a step starts from and before any number sequence (the lock order
       in docs/architecture.md). Billing's steps (a payment settling an invoice, a
       credit note, a void), an acceptance and a royalty filing lock the organization
       after their own records (`tests/integration/accounts/test_organization_lock_order.py`).
       FOR NO KEY UPDATE (round 57): none of them changes the organization's key or
       deletes it, and FOR UPDATE also waits for the key share a step storing a row
       naming the organization (the monthly run's statement sent, a payment, an
       invitation's new account, a royalty report) holds until it commits: with the
       head between them, "deadlock detected", for every caller
       (`tests/integration/accounts/test_organization_no_key_lock_order.py`,
       `tests/integration/agreements/test_organization_no_key_lock_order.py`). So
       nothing locks the organization FOR UPDATE: a row naming it is stored without
       waiting for these steps;
    2. the account (`_common.locked_account`), then its credentials: passkeys,
       tokens, remembered browsers. A passkey sign-in locked the passkey, then the
       account, until round 55, and deadlocked with a removal
       (`tests/integration/accounts/test_passkey_lock_order.py`). FOR NO KEY UPDATE
       (round 57): a row naming the account written a second time (an application
       it submits) takes the account's key share there,
       and FOR UPDATE (a sign-out by the office) deadlocked with it
       (`tests/integration/accounts/test_account_written_twice_lock_order.py`).
       Its one-time links come after it (round 59): a request for a new address
       locks the account before it withdraws the earlier links, and following a
       link (`profile.lock_for_following`) locks the account, then the link, read
       afresh. An email change is the one step that locks the account FOR UPDATE:
       its UPDATE of the address, a column under a unique constraint, takes FOR
       UPDATE whatever the step asks, so it is asked for first, before the step
       writes anything; after it the step locks only the account's own links
       (`tests/integration/accounts/test_email_change_lock_order.py`). A reset or
       welcome link followed (`password_reset._lock_for_following`, retrycheck59)
       locks the account, then the link, read afresh: read unlocked, two follows at
       once both set the password
       (`tests/integration/accounts/test_password_reset_lock_order.py`). An
       invitation's link comes after its organization: sending one locks the
       organization, then withdraws the one it replaces; accepting one locks the
       organization, reads its standing, then the link
       (`tests/integration/accounts/test_invitation_standing_locked.py`).

Before its first event (round 55, lockrest55), a step hands other packages' records
it will end to their packages to lock, by signal, since each of their steps locks
its record and then audits: a staff member's deactivation sends
`reviewer_withdrawing` (their open applications and permission requests, which
`reviewer_withdrawn` then gives back; it audited the account first and deadlocked
with a colleague's step on one of them:
`tests/integration/accounts/test_reviewer_withdrawn_lock_order.py`), and a closing
sends `organization_closing` before it locks the organization (the
undecided applications `organization_closed` withdraws, which it locked holding the
log and deadlocked with an approval: `tests/integration/agreements/
test_standing_read_locked.py`). A role change needs none: it releases the work
before it audits.

A batch job moving an organization's standing (`hold_for_overdue`) claims the
organization (it took the log's turn first from round 55 to round 58:
`tests/integration/accounts/test_standing_hold_lock_order.py`). A billing contact's
change of address locks the organization's issued invoices before it writes the
organization (round 54, billing's order).
"""

from __future__ import annotations

from licensing.accounts.services._common import (
    LINK_VALIDITY,
    LINKS_PER_HOUR,
    ONE_LINE,
    STAFF_ONLY,
    VENDOR_EDITABLE,
    check_link,
    is_one_line,
    normalize_email,
)
from licensing.accounts.services.authentication import (
    LOCKOUT_PERIOD,
    LOCKOUT_THRESHOLD,
    SIGN_IN_REFUSED,
    UNCONFIRMED_EMAIL,
    PasswordAccepted,
    confirm_password,
    sign_in,
    sign_in_from,
    sign_out,
)
from licensing.accounts.services.invitations import (
    MAX_PENDING_INVITATIONS,
    accept_invitation,
    expired_invitation_help,
    invite_member,
    revoke_invitation,
)
from licensing.accounts.services.members import (
    check_user_active,
    restorable_members,
    set_user_active,
    update_user,
)
from licensing.accounts.services.moves import (
    Move,
    MovedMeanwhile,
    administrators_to_tell,
    check_move,
    leaving_refusal,
    move_user,
    move_user_by_email,
    who_is_told,
)
from licensing.accounts.services.organizations import (
    ProfileSaved,
    create_organization,
    organization_by_name,
    organization_named,
    update_organization,
)
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
from licensing.accounts.services.remembered_browsers import (
    ACCOUNTS_PER_BROWSER,
    SIGNED_OUT_EMAILED_ONCE_IN,
    BrowsersForgotten,
    SignedOut,
    check_office_sign_out,
    delete_expired_browsers,
    forget_all_browsers,
    forget_browser,
    forget_browsers_for,
    remember_browser,
    remembered_browser_count,
    remembered_browsers_of,
    sign_out_for,
    tokens_still_remembered,
)
from licensing.accounts.services.roles import (
    active_administrators,
    emailed_summary,
    locked_organization,
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
    EndedByClosingCheck,
    Hold,
    OpenBusinessCheck,
    OverdueCheck,
    StillOpen,
    change_organization_standing,
    change_standing,
    check_standing_change,
    closing_confirmation,
    ended_by_closing,
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
    register_ended_by_closing,
    register_open_business,
    register_overdue_check,
    restore_standing_if_clear,
    standing_block_reason,
    standing_block_reason_now,
    standing_emailed_summary,
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
from licensing.accounts.services.two_step import (
    CODE_REFUSED,
    NEW_PHONE,
    Keys,
    PendingSetUp,
    Requirement,
    confirm_set_up,
    pending_set_up,
    regenerate_recovery_codes,
    require_for_organization,
    second_step,
    turn_off,
    turn_off_for,
    turn_off_two_step_by_email,
    unused_recovery_codes,
)
from licensing.accounts.services.two_step import (
    turn_off_for as turn_off_two_step_for,
)

__all__ = [
    "ACCOUNTS_PER_BROWSER",
    "API_TOKEN_PREFIX",
    "CODE_REFUSED",
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
    "NEW_PHONE",
    "ONE_LINE",
    "OPEN_NAMED",
    "REASON_MAX",
    "SIGNED_OUT_EMAILED_ONCE_IN",
    "SIGN_IN_REFUSED",
    "STAFF_ONLY",
    "STAFF_WELCOME_VALIDITY",
    "TOKEN_USE_RESOLUTION",
    "UNCONFIRMED_EMAIL",
    "VENDOR_EDITABLE",
    "BrowsersForgotten",
    "EndedByClosingCheck",
    "Hold",
    "Keys",
    "Move",
    "MovedMeanwhile",
    "OpenBusinessCheck",
    "OverdueCheck",
    "PasswordAccepted",
    "PendingSetUp",
    "ProfileSaved",
    "Requirement",
    "SignedOut",
    "StillOpen",
    "accept_invitation",
    "active_administrators",
    "administrators_to_tell",
    "authenticate_token",
    "change_name",
    "change_organization_standing",
    "change_password",
    "change_standing",
    "check_link",
    "check_move",
    "check_office_sign_out",
    "check_standing_change",
    "check_user_active",
    "closing_confirmation",
    "confirm_password",
    "confirm_set_up",
    "create_admin",
    "create_api_token",
    "create_api_token_for",
    "create_organization",
    "create_staff_user",
    "create_vendor_user",
    "delete_expired_browsers",
    "emailed_summary",
    "ended_by_closing",
    "ensure_good_standing",
    "ensure_licensable",
    "expired_invitation_help",
    "forget_all_browsers",
    "forget_browser",
    "forget_browsers_for",
    "hold_for_overdue",
    "hold_now_if_overdue",
    "invite_member",
    "is_one_line",
    "leaving_refusal",
    "licensable",
    "locked_organization",
    "move_user",
    "move_user_by_email",
    "named_and_more",
    "normalize_email",
    "open_business",
    "organization_by_name",
    "organization_in_good_standing",
    "organization_named",
    "overdue_obligations",
    "pending_payment_hold",
    "pending_set_up",
    "principal_for",
    "regenerate_recovery_codes",
    "register_ended_by_closing",
    "register_open_business",
    "register_overdue_check",
    "remember_browser",
    "remembered_browser_count",
    "remembered_browsers_of",
    "remind_expiring_tokens",
    "request_email_change",
    "request_password_reset",
    "require_for_organization",
    "resend_verification",
    "reset_password",
    "restorable_members",
    "restore_standing_if_clear",
    "revoke_api_token",
    "revoke_invitation",
    "second_step",
    "set_organization_role",
    "set_organization_role_by_email",
    "set_staff_roles",
    "set_user_active",
    "sign_in",
    "sign_in_from",
    "sign_out",
    "sign_out_for",
    "sign_up",
    "standing_block_reason",
    "standing_block_reason_now",
    "standing_emailed_summary",
    "tokens_still_remembered",
    "turn_off",
    "turn_off_for",
    "turn_off_two_step_by_email",
    "turn_off_two_step_for",
    "unlock_user",
    "unused_recovery_codes",
    "update_organization",
    "update_user",
    "verify_email",
    "who_is_told",
    "whom_to_ask",
    "with_article",
]

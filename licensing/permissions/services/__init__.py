"""Permission-request use cases, one module per use case: `requests` (the
public form, its confirmation, uses routed from license applications),
`review` (the staff queue and the requester's answers), `decisions` (grant or
deny, with `letters`), `reconsideration`, `withdrawal`, `expiry` (the
scheduled job) and `metrics`.

Each use case owns its transaction (`with db.transaction() as s:`), except the
routed-use receiver, which runs inside the sender's. Steps go through
`PERMISSION_REQUEST.apply` (state, time stamp, audit event, notification
hooks), in the same transaction. Staff use cases take the acting `Actor` and
check its role; the requester acts through the secret in their link. Use
cases that depend on the time take `now`, so tests control the clock.

The lock order (round 55, checked and left as it was). A step locks its one request
(`locked`, `by_status_token(lock=True)`, FOR UPDATE), then audits (the audit
chain's head, held until commit); several requests at once (`assign`,
`release_reviewer`, `give_back_waits`) are locked by id, and the expiry run claims
its batches, SKIP LOCKED. A letter's number is the request's own (no sequence row).
A request routed from an application is inserted under the application's lock, and
no permission step locks an application. A staff member's deactivation locks their
open requests before its first event (`reviewer_withdrawing`:
`lock_reviewers_requests`); it locked them after auditing the account, through
`reviewer_withdrawn`, and deadlocked with a step on one of them until round 55
(lockrest55, `tests/integration/accounts/test_reviewer_withdrawn_lock_order.py`).

A locked row is read as it is once locked (round 55, stale55): `licensing.db`
loads every FOR UPDATE read with `populate_existing`, so a step that waited for
another acts on what that one committed, not on the copy its page read before
(a requester withdrawing from the status page while staff approved withdrew the
granted request: `tests/integration/permissions/test_decision_read_locked.py`).
"""

from ..commands import PermissionRequestInput
from ..states import ANSWER_BUSINESS_DAYS
from ._common import (
    CONFIRM_LINK_VALIDITY,
    LABELS,
    NOT_VALID_MESSAGE,
    RECONSIDERATION_DAYS,
    STATUS_LINK_AFTER_CLOSING,
    LinkExpired,
    LinkNotValid,
    RequesterTold,
    colleagues_instead,
    label,
    requester_told,
    status_token,
    status_url,
)
from .decisions import LETTER_SOURCE, MAX_CONDITIONS, approve, deny, letter_bytes
from .expiry import (
    ENDING_REMINDED,
    EXPIRY_BATCH,
    ExpiryReport,
    Granted,
    GrantEnding,
    expire_due,
    grant_ending,
)
from .metrics import METRICS_WINDOW, QueueMetrics, metrics
from .reconsideration import reconsideration_open, request_reconsideration
from .requests import (
    COMMERCIAL_MESSAGE,
    NONCOMMERCIAL_MESSAGE,
    CommercialUse,
    LicensedUse,
    clean_request,
    confirm_email,
    correctable,
    create_from_routed_use,
    estimate_query,
    licensed_instead,
    request_for_link,
    submit_request,
)
from .review import (
    NOT_LICENSING_STAFF,
    add_note,
    answer,
    ask_for_info,
    assign,
    give_back_earlier_waits,
    lock_reviewers_requests,
    release_reviewer,
    start_review,
)
from .term import (
    DEFAULT_VALIDITY,
    MAX_VALIDITY_YEARS,
    asked_term,
    check_term,
    default_term_sentence,
    default_validity,
    default_validity_end,
    term_words,
    use_days,
)
from .withdrawal import withdraw

__all__ = [
    "ANSWER_BUSINESS_DAYS",
    "COMMERCIAL_MESSAGE",
    "CONFIRM_LINK_VALIDITY",
    "DEFAULT_VALIDITY",
    "ENDING_REMINDED",
    "EXPIRY_BATCH",
    "LABELS",
    "LETTER_SOURCE",
    "MAX_CONDITIONS",
    "MAX_VALIDITY_YEARS",
    "METRICS_WINDOW",
    "NONCOMMERCIAL_MESSAGE",
    "NOT_LICENSING_STAFF",
    "NOT_VALID_MESSAGE",
    "RECONSIDERATION_DAYS",
    "STATUS_LINK_AFTER_CLOSING",
    "CommercialUse",
    "ExpiryReport",
    "GrantEnding",
    "Granted",
    "LicensedUse",
    "LinkExpired",
    "LinkNotValid",
    "PermissionRequestInput",
    "QueueMetrics",
    "RequesterTold",
    "add_note",
    "answer",
    "approve",
    "ask_for_info",
    "asked_term",
    "assign",
    "check_term",
    "clean_request",
    "colleagues_instead",
    "confirm_email",
    "correctable",
    "create_from_routed_use",
    "default_term_sentence",
    "default_validity",
    "default_validity_end",
    "deny",
    "estimate_query",
    "expire_due",
    "give_back_earlier_waits",
    "grant_ending",
    "label",
    "letter_bytes",
    "licensed_instead",
    "lock_reviewers_requests",
    "metrics",
    "reconsideration_open",
    "release_reviewer",
    "request_for_link",
    "request_reconsideration",
    "requester_told",
    "start_review",
    "status_token",
    "status_url",
    "submit_request",
    "term_words",
    "use_days",
    "withdraw",
]

"""A permission request's states: the one table of how it may change.

    unconfirmed ──confirm──▶ submitted ──start_review──▶ in_review
         │                      │  ▲                       │
       expire                   │  └───── answer ─────┐    │
         ▼                      ├──ask_for_info──▶ needs_info ──expire──▶ expired
      expired                   ├──approve──▶ approved
                                ├──deny──▶ denied ──request_reconsideration──▶ reconsideration
                                └──withdraw──▶ withdrawn

A request from the public form waits `unconfirmed` until the requester follows
the emailed link; only then does it reach the staff queue. `reconsideration`
is reviewed like `in_review`. A denial may be reconsidered once, within
`RECONSIDERATION_DAYS` of the decision (the service checks the clock).
"""

from __future__ import annotations

from licensing.statemachine import StateMachine

UNCONFIRMED = "unconfirmed"
SUBMITTED = "submitted"
IN_REVIEW = "in_review"
NEEDS_INFO = "needs_info"
RECONSIDERATION = "reconsideration"
APPROVED = "approved"
DENIED = "denied"
WITHDRAWN = "withdrawn"
EXPIRED = "expired"

STATES = (
    UNCONFIRMED,
    SUBMITTED,
    IN_REVIEW,
    NEEDS_INFO,
    RECONSIDERATION,
    APPROVED,
    DENIED,
    WITHDRAWN,
    EXPIRED,
)
# In the staff queue, waiting on somebody.
OPEN_STATES = (SUBMITTED, IN_REVIEW, NEEDS_INFO, RECONSIDERATION)
# Waiting on the licensing office (the service-level clock runs).
WITH_STAFF = (SUBMITTED, IN_REVIEW, RECONSIDERATION)
DECIDED = (APPROVED, DENIED)

_UNDER_REVIEW = (SUBMITTED, IN_REVIEW, RECONSIDERATION)

PERMISSION_REQUEST = StateMachine(
    "permission request",
    {
        (UNCONFIRMED, "confirm"): SUBMITTED,
        (UNCONFIRMED, "expire"): EXPIRED,
        (SUBMITTED, "start_review"): IN_REVIEW,
        (RECONSIDERATION, "start_review"): IN_REVIEW,
        **{(state, "ask_for_info"): NEEDS_INFO for state in _UNDER_REVIEW},
        **{(state, "approve"): APPROVED for state in _UNDER_REVIEW},
        **{(state, "deny"): DENIED for state in _UNDER_REVIEW},
        **{(state, "withdraw"): WITHDRAWN for state in (*_UNDER_REVIEW, NEEDS_INFO)},
        (NEEDS_INFO, "answer"): IN_REVIEW,
        (NEEDS_INFO, "expire"): EXPIRED,
        (DENIED, "request_reconsideration"): RECONSIDERATION,
    },
    STATES,
    # The audit log's names for the steps that are not their past tense (`confirm`
    # is `permission_request.confirmed`).
    events={
        "start_review": "review_started",
        "ask_for_info": "information_requested",
        "request_reconsideration": "reconsideration_requested",
    },
    stamps={"confirm": "submitted_at", "approve": "decided_at", "deny": "decided_at"},
    # What a refused step says happens to the request, where it is not "be" and the
    # action's past tense ("cannot be approved").
    steps={
        "expire": "expire",
        "start_review": "be taken into review",
        "ask_for_info": "be put on hold for more information",
        "answer": "be answered by the requester",
        "request_reconsideration": "have reconsideration requested",
    },
    state_words={
        NEEDS_INFO: "waiting for the requester's information",
        RECONSIDERATION: "being reconsidered",
    },
)

# Actions staff take in the console or the API; the others are the requester's
# (through their link) or the scheduler's.
STAFF_ACTIONS = ("start_review", "ask_for_info", "approve", "deny")
REQUESTER_ACTIONS = ("answer", "withdraw", "request_reconsideration")

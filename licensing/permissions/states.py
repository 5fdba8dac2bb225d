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

from licensing.statemachine import Action, StateMachine

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
# The requester answers a question within this many US business days, else it expires;
# the service level's clock stands still meanwhile (`queries.service_level`).
ANSWER_BUSINESS_DAYS = 5

PERMISSION_REQUEST = StateMachine.from_actions(
    "permission request",
    STATES,
    # The audit log's names for the steps that are not their past tense (`confirm`
    # is `permission_request.confirmed`), and what a refused step says happens to
    # the request where it is not "be" and the action's past tense ("cannot be approved").
    {
        "confirm": Action(UNCONFIRMED, to=SUBMITTED, stamp="submitted_at"),
        "start_review": Action(
            SUBMITTED,
            RECONSIDERATION,
            to=IN_REVIEW,
            event="review_started",
            words="be taken into review",
        ),
        "ask_for_info": Action(
            *WITH_STAFF,
            to=NEEDS_INFO,
            event="information_requested",
            words="be put on hold for more information",
        ),
        "answer": Action(NEEDS_INFO, to=IN_REVIEW, words="be answered by the requester"),
        "approve": Action(*WITH_STAFF, to=APPROVED, stamp="decided_at"),
        "deny": Action(*WITH_STAFF, to=DENIED, stamp="decided_at"),
        "withdraw": Action(*OPEN_STATES, to=WITHDRAWN),
        "expire": Action(UNCONFIRMED, NEEDS_INFO, to=EXPIRED),
        "request_reconsideration": Action(
            DENIED,
            to=RECONSIDERATION,
            event="reconsideration_requested",
            words="have reconsideration requested",
        ),
    },
    state_words={
        UNCONFIRMED: "waiting for the requester to confirm their email address",
        NEEDS_INFO: "waiting for the requester's information",
        RECONSIDERATION: "being reconsidered",
    },
)

# Every state as the requester reads it on their own status page, in the words the
# page's sentences use ("Permission is granted", "The licensing office is reviewing
# your request"): the one place the badge takes them from. Round 33: the badge said
# the machine's word ("approved", "in review") beside a sentence that said another.
TO_REQUESTER = {
    UNCONFIRMED: "waiting for you to confirm your email address",
    SUBMITTED: "being reviewed",
    IN_REVIEW: "being reviewed",
    NEEDS_INFO: "waiting for your information",
    RECONSIDERATION: "being reconsidered",
    APPROVED: "granted",
    DENIED: "denied",
    WITHDRAWN: "withdrawn",
    EXPIRED: "expired",
}


def state_to_requester(state: str) -> str:
    """A request's state in words addressed to its requester (`TO_REQUESTER`)."""
    return TO_REQUESTER[state]


# Actions staff take in the console or the API; the others are the requester's
# (through their link) or the scheduler's.
STAFF_ACTIONS = ("start_review", "ask_for_info", "approve", "deny")
REQUESTER_ACTIONS = ("answer", "withdraw", "request_reconsideration")

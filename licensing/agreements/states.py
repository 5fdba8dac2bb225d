"""The lives of a license application and of an agreement, as explicit tables.

Application:

    draft ─submit─▶ submitted ─start_review─▶ in_review ─escalate─▶ escalated
      │                │  ▲                      │   ▲                  │
      │                │  └──────resubmit─── returned ◀──return─────────┤
      │                │                         │                      │
      │                └── approve / reject ─────┴── approve / reject ──┘
      │                      (auto_approve from submitted, by the system)
      └─ withdraw (the vendor, any time before a decision) ─▶ withdrawn
    returned ─lapse─▶ lapsed (no resubmission within 5 US business days)
    rejected ─request_reconsideration─▶ reconsideration_requested (within 14 days)
    reconsideration_requested ─grant_reconsideration─▶ in_review
                              ─deny_reconsideration─▶ rejected (final)

Agreement:

    issued ─accept─▶ active ─expire─▶ expired
      │                │ ─supersede─▶ superseded (by its renewal)
      │                └─terminate─▶ terminated (staff, with a reason)
      ├─terminate─▶ terminated (withdrawn by staff before acceptance)
      └─expire─▶ expired (never accepted before its term ended)

Time-based guards (5 business days, 14 days) live in the services; these tables
say only which steps exist.
"""

from __future__ import annotations

from licensing.statemachine import StateMachine

DRAFT = "draft"
SUBMITTED = "submitted"
RETURNED = "returned"
IN_REVIEW = "in_review"
ESCALATED = "escalated"
APPROVED = "approved"
REJECTED = "rejected"
WITHDRAWN = "withdrawn"
LAPSED = "lapsed"
RECONSIDERATION_REQUESTED = "reconsideration_requested"

APPLICATION_STATES = (
    DRAFT,
    SUBMITTED,
    RETURNED,
    IN_REVIEW,
    ESCALATED,
    APPROVED,
    REJECTED,
    WITHDRAWN,
    LAPSED,
    RECONSIDERATION_REQUESTED,
)

# Agreement states.
ISSUED = "issued"
ACTIVE = "active"
EXPIRED = "expired"
TERMINATED = "terminated"
SUPERSEDED = "superseded"

# States in which the application waits on licensing staff (the staff queue).
AWAITING_STAFF = (SUBMITTED, IN_REVIEW, ESCALATED, RECONSIDERATION_REQUESTED)
# States in which it waits on the vendor.
AWAITING_VENDOR = (DRAFT, RETURNED)
# Before a decision: the vendor may still withdraw.
UNDECIDED = (DRAFT, SUBMITTED, RETURNED, IN_REVIEW, ESCALATED)
# Which application states the vendor may still edit (its uses and term).
EDITABLE = (DRAFT, RETURNED)
# Agreement states in which the license is (or is about to be) in force.
AGREEMENT_LIVE = (ISSUED, ACTIVE)

_DECIDABLE = (SUBMITTED, IN_REVIEW, ESCALATED)

_APPLICATION_STEPS = {
    (DRAFT, "submit"): SUBMITTED,
    (RETURNED, "resubmit"): SUBMITTED,
    (SUBMITTED, "auto_approve"): APPROVED,
    (SUBMITTED, "start_review"): IN_REVIEW,
    (IN_REVIEW, "escalate"): ESCALATED,
    **{(state, "return"): RETURNED for state in _DECIDABLE},
    **{(state, "approve"): APPROVED for state in _DECIDABLE},
    **{(state, "reject"): REJECTED for state in _DECIDABLE},
    **{(state, "withdraw"): WITHDRAWN for state in UNDECIDED},
    (RETURNED, "lapse"): LAPSED,
    (REJECTED, "request_reconsideration"): RECONSIDERATION_REQUESTED,
    (RECONSIDERATION_REQUESTED, "grant_reconsideration"): IN_REVIEW,
    (RECONSIDERATION_REQUESTED, "deny_reconsideration"): REJECTED,
}

APPLICATION = StateMachine(
    "application",
    _APPLICATION_STEPS,
    APPLICATION_STATES,
    # The audit log's name for each step that is not its past tense.
    events={
        "start_review": "review_started",
        "auto_approve": "auto_approved",
        "request_reconsideration": "reconsideration_requested",
        "grant_reconsideration": "reconsideration_granted",
        "deny_reconsideration": "reconsideration_denied",
    },
    # Every step changes the application; the use cases stamp what else a step
    # records (`decided_at`, `returned_at`, ...), since one column per step is named here.
    stamps={action: "updated_at" for _, action in _APPLICATION_STEPS},
    # What a refused step says happens to the application, where it is not "be" and
    # the action's past tense ("cannot be approved").
    steps={
        "auto_approve": "be approved automatically",
        "start_review": "be taken into review",
        "return": "be returned to the vendor",
        "lapse": "lapse",
        "request_reconsideration": "have reconsideration requested",
        "grant_reconsideration": "be granted reconsideration",
        "deny_reconsideration": "be refused reconsideration",
    },
    state_words={
        DRAFT: "a draft",
        RETURNED: "returned to the vendor",
        RECONSIDERATION_REQUESTED: "awaiting reconsideration",
    },
)

AGREEMENT_STATES = (ISSUED, ACTIVE, EXPIRED, TERMINATED, SUPERSEDED)

AGREEMENT = StateMachine(
    "agreement",
    {
        (ISSUED, "accept"): ACTIVE,
        (ISSUED, "expire"): EXPIRED,
        (ACTIVE, "expire"): EXPIRED,
        (ACTIVE, "supersede"): SUPERSEDED,
        (ISSUED, "terminate"): TERMINATED,
        (ACTIVE, "terminate"): TERMINATED,
    },
    AGREEMENT_STATES,
    stamps={
        "accept": "activated_at",
        "expire": "ended_at",
        "terminate": "ended_at",
        "supersede": "ended_at",
    },
    steps={"expire": "expire", "supersede": "be superseded by its renewal"},
)

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
      ├─reissue─▶ replaced (superseded, before acceptance, by a new agreement priced
      │            on the rate card that corrected its own: round 55)
      └─expire─▶ expired (never accepted before its term ended)

Time-based guards (5 business days, 14 days) live in the services; these tables
say only which steps exist.
"""

from __future__ import annotations

from licensing.statemachine import Action, StateMachine

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
# Superseded before acceptance by its reissue on a corrected rate card (round 55): the
# new agreement names it (`reissue_of_id`); its own record is never edited.
REPLACED = "replaced"

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

APPLICATION = StateMachine.from_actions(
    "application",
    APPLICATION_STATES,
    # The audit log's name of a step where it is not its past tense, and what a
    # refused step says happens to the application where it is not "be" and the
    # past tense ("cannot be approved").
    {
        "submit": Action(DRAFT, to=SUBMITTED),
        "resubmit": Action(RETURNED, to=SUBMITTED),
        "auto_approve": Action(
            SUBMITTED, to=APPROVED, event="auto_approved", words="be approved automatically"
        ),
        "start_review": Action(
            SUBMITTED, to=IN_REVIEW, event="review_started", words="be taken into review"
        ),
        "escalate": Action(IN_REVIEW, to=ESCALATED),
        "return": Action(*_DECIDABLE, to=RETURNED, words="be returned to the vendor"),
        "approve": Action(*_DECIDABLE, to=APPROVED),
        "reject": Action(*_DECIDABLE, to=REJECTED),
        "withdraw": Action(*UNDECIDED, to=WITHDRAWN),
        "lapse": Action(RETURNED, to=LAPSED),
        "request_reconsideration": Action(
            REJECTED,
            to=RECONSIDERATION_REQUESTED,
            event="reconsideration_requested",
            words="have reconsideration requested",
        ),
        "grant_reconsideration": Action(
            RECONSIDERATION_REQUESTED,
            to=IN_REVIEW,
            event="reconsideration_granted",
            words="be granted reconsideration",
        ),
        "deny_reconsideration": Action(
            RECONSIDERATION_REQUESTED,
            to=REJECTED,
            event="reconsideration_denied",
            words="be refused reconsideration",
        ),
    },
    # Every step changes the application; the use cases stamp what else a step
    # records (`decided_at`, `returned_at`, ...), since one column per step is named here.
    stamp="updated_at",
    state_words={
        DRAFT: "a draft",
        RETURNED: "returned to the vendor",
        RECONSIDERATION_REQUESTED: "awaiting reconsideration",
    },
)

AGREEMENT_STATES = (ISSUED, ACTIVE, EXPIRED, TERMINATED, SUPERSEDED, REPLACED)

AGREEMENT = StateMachine.from_actions(
    "agreement",
    AGREEMENT_STATES,
    {
        "accept": Action(ISSUED, to=ACTIVE, stamp="activated_at"),
        "expire": Action(ISSUED, ACTIVE, to=EXPIRED, stamp="ended_at"),
        "supersede": Action(
            ACTIVE, to=SUPERSEDED, stamp="ended_at", words="be superseded by its renewal"
        ),
        "terminate": Action(ISSUED, ACTIVE, to=TERMINATED, stamp="ended_at"),
        "reissue": Action(ISSUED, to=REPLACED, stamp="ended_at"),
    },
    state_words={REPLACED: "replaced by its reissue"},
)

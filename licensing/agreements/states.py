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

APPLICATION_STATES = (
    "draft",
    "submitted",
    "returned",
    "in_review",
    "escalated",
    "approved",
    "rejected",
    "withdrawn",
    "lapsed",
    "reconsideration_requested",
)

# States in which the application waits on licensing staff (the staff queue).
AWAITING_STAFF = ("submitted", "in_review", "escalated", "reconsideration_requested")
# States in which it waits on the vendor.
AWAITING_VENDOR = ("draft", "returned")
# Before a decision: the vendor may still withdraw.
UNDECIDED = ("draft", "submitted", "returned", "in_review", "escalated")
# Which application states the vendor may still edit (its uses and term).
EDITABLE = ("draft", "returned")
# Agreement states in which the license is (or is about to be) in force.
AGREEMENT_LIVE = ("issued", "active")

_DECIDABLE = ("submitted", "in_review", "escalated")

_APPLICATION_STEPS = {
    ("draft", "submit"): "submitted",
    ("returned", "resubmit"): "submitted",
    ("submitted", "auto_approve"): "approved",
    ("submitted", "start_review"): "in_review",
    ("in_review", "escalate"): "escalated",
    **{(state, "return"): "returned" for state in _DECIDABLE},
    **{(state, "approve"): "approved" for state in _DECIDABLE},
    **{(state, "reject"): "rejected" for state in _DECIDABLE},
    **{(state, "withdraw"): "withdrawn" for state in UNDECIDED},
    ("returned", "lapse"): "lapsed",
    ("rejected", "request_reconsideration"): "reconsideration_requested",
    ("reconsideration_requested", "grant_reconsideration"): "in_review",
    ("reconsideration_requested", "deny_reconsideration"): "rejected",
}

APPLICATION = StateMachine(
    "application",
    _APPLICATION_STEPS,
    APPLICATION_STATES,
    # The audit log's name for each step.
    events={
        "submit": "submitted",
        "resubmit": "resubmitted",
        "withdraw": "withdrawn",
        "lapse": "lapsed",
        "start_review": "review_started",
        "return": "returned",
        "escalate": "escalated",
        "approve": "approved",
        "auto_approve": "auto_approved",
        "reject": "rejected",
        "request_reconsideration": "reconsideration_requested",
        "grant_reconsideration": "reconsideration_granted",
        "deny_reconsideration": "reconsideration_denied",
    },
    # Every step changes the application; the use cases stamp what else a step
    # records (`decided_at`, `returned_at`, ...), since one column per step is named here.
    stamps={action: "updated_at" for _, action in _APPLICATION_STEPS},
)

AGREEMENT_STATES = ("issued", "active", "expired", "terminated", "superseded")

AGREEMENT = StateMachine(
    "agreement",
    {
        ("issued", "accept"): "active",
        ("issued", "expire"): "expired",
        ("active", "expire"): "expired",
        ("active", "supersede"): "superseded",
        ("issued", "terminate"): "terminated",
        ("active", "terminate"): "terminated",
    },
    AGREEMENT_STATES,
    events={
        "accept": "accepted",
        "expire": "expired",
        "terminate": "terminated",
        "supersede": "superseded",
    },
    stamps={
        "accept": "activated_at",
        "expire": "ended_at",
        "terminate": "ended_at",
        "supersede": "ended_at",
    },
)

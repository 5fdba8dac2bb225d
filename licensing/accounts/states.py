"""An organization's standing: the one table of how it may change.

    applying ──activate──▶ active ──mark_pending_payment──▶ pending_payment
        │                   ▲  │                                 │
        │                   │  └─suspend─▶ suspended ◀─suspend───┤
        │                   ├──reinstate────┘                    │
        │                   └──payment_received──────────────────┘
        └──(any but closed)──close──▶ closed

`applying` and `active` are good standing: the organization may apply for
licenses. `pending_payment` (an invoice overdue) and `suspended` block new
applications; `closed` is final.
"""

from __future__ import annotations

from licensing.statemachine import Action, StateMachine

APPLYING = "applying"
ACTIVE = "active"
PENDING_PAYMENT = "pending_payment"
SUSPENDED = "suspended"
CLOSED = "closed"

STANDINGS = (APPLYING, ACTIVE, PENDING_PAYMENT, SUSPENDED, CLOSED)
GOOD_STANDING = frozenset({APPLYING, ACTIVE})

# Every step is audited as one event, `organization.standing_changed`, with
# before/after `{"standing": ...}` (what the audit pages and exports read).
STANDING = StateMachine.from_actions(
    "organization",
    STANDINGS,
    {
        "activate": Action(APPLYING, to=ACTIVE),
        "mark_pending_payment": Action(ACTIVE, to=PENDING_PAYMENT),
        "payment_received": Action(
            PENDING_PAYMENT, to=ACTIVE, words="return to active when its overdue invoices are paid"
        ),
        "suspend": Action(APPLYING, ACTIVE, PENDING_PAYMENT, to=SUSPENDED),
        "reinstate": Action(SUSPENDED, to=ACTIVE),
        "close": Action(APPLYING, ACTIVE, PENDING_PAYMENT, SUSPENDED, to=CLOSED),
    },
    field="standing",
    event="standing_changed",
)

# Actions whose effect is serious enough that staff must say why.
REASON_REQUIRED = frozenset({"suspend", "close", "mark_pending_payment"})

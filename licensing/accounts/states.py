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

from licensing.statemachine import StateMachine

APPLYING = "applying"
ACTIVE = "active"
PENDING_PAYMENT = "pending_payment"
SUSPENDED = "suspended"
CLOSED = "closed"

STANDINGS = (APPLYING, ACTIVE, PENDING_PAYMENT, SUSPENDED, CLOSED)
GOOD_STANDING = frozenset({APPLYING, ACTIVE})

_STEPS = {
    (APPLYING, "activate"): ACTIVE,
    (APPLYING, "suspend"): SUSPENDED,
    (APPLYING, "close"): CLOSED,
    (ACTIVE, "mark_pending_payment"): PENDING_PAYMENT,
    (ACTIVE, "suspend"): SUSPENDED,
    (ACTIVE, "close"): CLOSED,
    (PENDING_PAYMENT, "payment_received"): ACTIVE,
    (PENDING_PAYMENT, "suspend"): SUSPENDED,
    (PENDING_PAYMENT, "close"): CLOSED,
    (SUSPENDED, "reinstate"): ACTIVE,
    (SUSPENDED, "close"): CLOSED,
}

# Every step is audited as one event, `organization.standing_changed`, with
# before/after `{"standing": ...}` (what the audit pages and exports read).
STANDING = StateMachine(
    "organization",
    _STEPS,
    STANDINGS,
    field="standing",
    events={action: "standing_changed" for _, action in _STEPS},
    steps={"payment_received": "return to active when its overdue invoices are paid"},
)

# Actions whose effect is serious enough that staff must say why.
REASON_REQUIRED = frozenset({"suspend", "close", "mark_pending_payment"})

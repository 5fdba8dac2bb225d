"""An outbox message's life: queued until sent, or failed after the last retry.

queued ──deliver──▶ sent
  │ ▲ └─defer─┘ (a failed attempt: retried after a backoff)
  │ └──────retry (staff)──────┐
  └──give_up──▶ failed ───────┘
"""

from __future__ import annotations

from licensing.statemachine import StateMachine

QUEUED = "queued"
SENT = "sent"
FAILED = "failed"

OUTBOX = StateMachine(
    "email",
    {
        (QUEUED, "deliver"): SENT,
        (QUEUED, "defer"): QUEUED,
        (QUEUED, "give_up"): FAILED,
        (FAILED, "retry"): QUEUED,
    },
    (QUEUED, SENT, FAILED),
    steps={"defer": "be tried again later"},
)

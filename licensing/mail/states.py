"""An outbox message's life: queued until sent, or failed after the last retry.

queued ──deliver──▶ sent
  │ ▲ └─defer─┘ (a failed attempt: retried after a backoff)
  │ └──────retry (staff)──────┐
  └──give_up──▶ failed ───────┘
"""

from __future__ import annotations

from licensing.statemachine import Action, StateMachine

QUEUED = "queued"
SENT = "sent"
FAILED = "failed"

OUTBOX = StateMachine.from_actions(
    "email",
    (QUEUED, SENT, FAILED),
    {
        "deliver": Action(QUEUED, to=SENT),
        "defer": Action(QUEUED, to=QUEUED, words="be tried again later"),
        "give_up": Action(QUEUED, to=FAILED),
        "retry": Action(FAILED, to=QUEUED),
    },
)

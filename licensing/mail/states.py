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
    # A message's steps are not audited; its irregular events word the refusals
    # ("cannot be given up").
    events={"defer": "deferred", "give_up": "given_up"},
    steps={"defer": "be tried again later"},
)

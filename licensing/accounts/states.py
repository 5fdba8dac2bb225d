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

from collections.abc import Iterable
from typing import Protocol

from licensing.errors import PermissionDenied
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


# Who takes each step by hand (the console's organization page, `POST
# /api/v1/organizations/{id}/standing`): the duties of docs/accounts.md. Billing
# staff hold an organization for payment and let it go once paid; licensing staff
# decide whether it is a licensee at all. An admin holds every role, and so takes
# every step; so does a user holding both roles. Steps the service takes by its own
# rules (the overdue runs' hold, a payment that clears it, an accepted agreement's
# activation) are not a person's choice and are not checked here.
STANDING_ROLES: dict[str, str] = {
    "activate": "licensing",
    "suspend": "licensing",
    "reinstate": "licensing",
    "close": "licensing",
    "mark_pending_payment": "billing",
    "payment_received": "billing",
}

# Each step as a person does it, after "<Role> staff" (the console's note) or
# "may" (a refusal); `{it}`/`{its}` name the organization.
_STEP_WORDS = {
    "activate": "activate {it}",
    "suspend": "suspend {it}",
    "reinstate": "reinstate {it}",
    "close": "close {its} account",
    "mark_pending_payment": "mark {it} pending payment",
    "payment_received": "mark {its} payment received",
}

if set(STANDING_ROLES) != STANDING.actions or set(_STEP_WORDS) != STANDING.actions:
    raise ValueError("every standing action needs its role and its words")


class HoldsRoles(Protocol):
    """Who asks: an `Actor` in a use case, a `Principal` on a page or in the API."""

    def has_role(self, *roles: str) -> bool: ...


def may_take(who: HoldsRoles, action: str) -> bool:
    """Whether `who` may take the standing step `action` by hand (any state)."""
    role = STANDING_ROLES.get(action)
    return role is not None and who.has_role(role)


def standing_actions_for(who: HoldsRoles, standing: str) -> list[str]:
    """The steps `standing` allows that `who` may take, in `STANDING.allowed`'s order."""
    return [action for action in STANDING.allowed(standing) if may_take(who, action)]


def step_words(actions: Iterable[str], *, it: str, its: str) -> str:
    """The steps as a person takes them, joined: "suspend it or close its account"."""
    said = [_STEP_WORDS[action].format(it=it, its=its) for action in actions]
    return ", ".join(said[:-1]) + (" or " if len(said) > 1 else "") + said[-1] if said else ""


def others_steps(who: HoldsRoles, standing: str) -> list[str]:
    """Who else takes the steps `standing` allows that `who` may not, one sentence a
    role ("Billing staff mark its payment received."): what the console page says
    beside the choices it offers."""
    by_role: dict[str, list[str]] = {}
    for action in STANDING.allowed(standing):
        if not may_take(who, action):
            by_role.setdefault(STANDING_ROLES[action], []).append(action)
    return [
        f"{role.capitalize()} staff {step_words(actions, it='it', its='its')}."
        for role, actions in by_role.items()
    ]


def require_standing_role(who: HoldsRoles, action: str) -> None:
    """`PermissionDenied` (403), naming the role that takes `action`, unless `who`
    may take it. An action the table does not know is left to `STANDING.step` (409)."""
    role = STANDING_ROLES.get(action)
    if role is not None and not who.has_role(role):
        step = step_words([action], it="an organization", its="an organization's")
        raise PermissionDenied(
            f"Only {role} staff (or an admin) may {step}; your account does not have the "
            f"{role} role. Ask {role} staff to do it."
        )

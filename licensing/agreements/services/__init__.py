"""License applications and agreements: the use cases, one module each.

Each public function owns its transaction (`with db.transaction()`), moves the
record through its state machine (`states.APPLICATION` / `states.AGREEMENT`),
writes the audit log and queues email in the same transaction. Time-based
rules take `now` so that tests control the clock:

- a returned application must be resubmitted within 5 US business days
  (`calendar.business_deadline`), else `expire()` lapses it;
- a rejected application may ask for reconsideration within 14 days of the
  rejection, once; afterwards the request is refused and `expire()` closes the
  window;
- an agreement whose term has ended is expired by `expire()`.

| module | use cases |
| --- | --- |
| `drafts` | a vendor writes and changes an application |
| `submission` | price and submit it (auto-approval), withdraw it |
| `review` | staff assign, note, return, escalate, approve, reject; `review()` by name |
| `reconsideration` | the vendor asks once within 14 days; staff grant or deny |
| `acceptance` | the licensee accepts the issued agreement; staff terminate one |
| `renewal` | a draft for the next term, prefilled from an agreement |
| `reissue` | staff reissue an unaccepted agreement on the card that corrected its own |
| `expiry` | the scheduled job: lapse, close windows, expire agreements |
| `contacts` | staff record a contact chasing a licence that expired unrenewed |

Everything public is importable from here, as it was from the single module.

The lock order (round 55; round 58: the audit log's head at commit). Every audited
step's events are chained as it commits, under the audit chain's head, its last lock
(`audit.services`). Until round 58 a step locked the head at its first event and
held it until it committed, so what a step locked before its first event no other
step could lock after its own; the rows keep the order that rule gave them. A step
that locks more than one of these locks them in this order:

    1. the application or agreement it starts from (`_owned`, FOR UPDATE; the
       expiry and withdraw-closed runs claim them, SKIP LOCKED); a renewal's
       application, then the agreement it renews FOR KEY SHARE (round 57: a
       submission writes the application twice, and PostgreSQL checks the second
       write's key to that agreement; a filing holding the agreement deadlocked with
       it while the head sat between them, `test_renewal_written_twice_lock_order.py`);
    2. for a renewal, the agreement it renews (`acceptance._lock_renewed`), before
       anything is audited: a royalty filing, a termination and a renewal drawn
       from the old agreement lock it first and then audit, so an acceptance (or a
       termination) of the renewal that audited and then locked it to link (or
       unlink) the two deadlocked with them until round 55
       (`tests/integration/agreements/test_renewal_lock_order.py`);
    3. the organization (`accounts.locked_organization`, its standing read under
       the lock: an acceptance and an approval, round 55 lockrest55; they read it
       unlocked, and an acceptance wrote `active` over a closing committed meanwhile; FOR NO KEY
       UPDATE since round 57: FOR UPDATE waited for the key share of a royalty
       report filed or a card payment started meanwhile, which waited for the log,
       `test_organization_no_key_lock_order.py`);
    4. the agreement number's row (approval, a reissue), billing's invoice number
       and records (an acceptance): every number after the organization (round 58,
       docs/architecture.md);
    5. the audit log's head, at commit.

Several applications at once (`assign_many`, `release_reviewer`, closing) are
locked by id. Records another package's step ends are locked before that step's
first event, through a signal (round 55, lockrest55): a reviewer's deactivation
(`reviewer_withdrawing`: `lock_reviewers_applications`) and a closing
(`organization_closing`: `lock_undecided`, before the closing's turn on the log and
the organization), which locked them after auditing and deadlocked with a step on
one of them (`tests/integration/accounts/test_reviewer_withdrawn_lock_order.py`,
`tests/integration/agreements/test_standing_read_locked.py`). The expiry run locks,
before its first event, the agreements that the renewals it may expire still renew
(`_lock_renewed_by_expiring`, FOR UPDATE, waiting): it locked one after its events
to unlink it and deadlocked with a filing under it
(`tests/integration/agreements/test_expiry_lock_order.py`). A reissue locks the
agreement, then its application, then audits and draws the new number: the
application's own steps lock it alone, so it is in order (round 55,
`test_reissue_lock_order.py`); since round 56 it reads the organization's standing
under `locked_organization` (FOR NO KEY UPDATE, as every caller's since round 57)
before it draws the new number, as an approval does
(`test_reissue_standing.py`: it read the standing unlocked, and a closing committed
meanwhile left a closed organization a new agreement to accept). `_owned` reads its
record afresh under the lock, as every locked read does (`licensing.db`'s rule,
stale55): a page's earlier read left stale values in the session (an acceptance
waiting for a reissue accepted the replaced agreement, and the database refused it:
a 500).
"""

from licensing.agreements.commands import (
    ApplicationDraft,
    LineChange,
    Modifications,
    ProposedUseInput,
)
from licensing.agreements.services._common import (
    RECONSIDERATION_DAYS,
    RESUBMIT_BUSINESS_DAYS,
    _next_number,
    staff_told,
    vendor_told,
)
from licensing.agreements.services.acceptance import (
    AcceptanceInput,
    _charges,
    accept,
    check_termination,
    past_term,
    past_term_accepted,
    terminate,
    termination_confirmation,
)
from licensing.agreements.services.contacts import CONTACT_RECORDED, record_contact
from licensing.agreements.services.drafts import (
    change_refusal,
    create_draft,
    keep_estimate,
    update_draft,
)
from licensing.agreements.services.expiry import EXPIRED_ON_ACCEPTANCE, ExpiryReport, expire
from licensing.agreements.services.reconsideration import (
    deny_reconsideration,
    grant_reconsideration,
    request_reconsideration,
)
from licensing.agreements.services.reissue import (
    CardCorrected,
    CorrectionTold,
    KeptPrices,
    Reissue,
    ReissueOffers,
    card_corrected,
    check_reissue,
    corrected_among,
    corrected_days,
    correction_figures,
    correction_for,
    correction_told,
    kept_prices,
    reissue,
    reissue_offer,
    reissue_offers,
    reissue_refusals,
    tell_card_corrected,
)
from licensing.agreements.services.renewal import start_renewal
from licensing.agreements.services.review import (
    REVIEW_ACTIONS,
    _amended_line,
    add_note,
    approve,
    assign,
    assign_many,
    check_assign_many,
    escalate,
    lock_reviewers_applications,
    reject,
    release_reviewer,
    return_for_information,
    review,
    start_review,
)
from licensing.agreements.services.submission import (
    AUDIENCE_UNITS,
    ApplicationsAppeared,
    awaits_rate_card,
    check_withdraw,
    ended_by_closing,
    lock_undecided,
    preview,
    submission_refusal,
    submit,
    withdraw,
    withdraw_for_closed,
    withdraw_left_by_closed,
)

__all__ = [
    "AUDIENCE_UNITS",
    "CONTACT_RECORDED",
    "EXPIRED_ON_ACCEPTANCE",
    "RECONSIDERATION_DAYS",
    "RESUBMIT_BUSINESS_DAYS",
    "REVIEW_ACTIONS",
    "AcceptanceInput",
    "ApplicationDraft",
    "ApplicationsAppeared",
    "CardCorrected",
    "CorrectionTold",
    "ExpiryReport",
    "KeptPrices",
    "LineChange",
    "Modifications",
    "ProposedUseInput",
    "Reissue",
    "ReissueOffers",
    "_amended_line",
    "_charges",
    "_next_number",
    "accept",
    "add_note",
    "approve",
    "assign",
    "assign_many",
    "awaits_rate_card",
    "card_corrected",
    "change_refusal",
    "check_assign_many",
    "check_reissue",
    "check_termination",
    "check_withdraw",
    "corrected_among",
    "corrected_days",
    "correction_figures",
    "correction_for",
    "correction_told",
    "create_draft",
    "deny_reconsideration",
    "ended_by_closing",
    "escalate",
    "expire",
    "grant_reconsideration",
    "keep_estimate",
    "kept_prices",
    "lock_reviewers_applications",
    "lock_undecided",
    "past_term",
    "past_term_accepted",
    "preview",
    "record_contact",
    "reissue",
    "reissue_offer",
    "reissue_offers",
    "reissue_refusals",
    "reject",
    "release_reviewer",
    "request_reconsideration",
    "return_for_information",
    "review",
    "staff_told",
    "start_renewal",
    "start_review",
    "submission_refusal",
    "submit",
    "tell_card_corrected",
    "terminate",
    "termination_confirmation",
    "update_draft",
    "vendor_told",
    "withdraw",
    "withdraw_for_closed",
    "withdraw_left_by_closed",
]

"""Royalty report use cases, one module per use case: filing (and previewing) a
period's report and amending it, staff review of flagged reports and correction
requests, reminders.
Each public function owns its transaction and takes the `Actor` who acts.

Filing, in one transaction (the agreement's row locked, so two filings of one
agreement take turns):

1. check the period may be reported (in order, after it ends, once unless amended);
2. the line's charged to date `C` before this filing (from the current reports);
3. supersede the amended report, store the new one and its rows, checking each
   row (every problem at once; nothing is stored when any row is bad);
4. the royalty of each reportable line after this filing, to the last reported
   period (`computation.Pricer`: a quote of the line's use with the usage to date);
5. the net change in `C` is invoiced (one invoice) or credited (credit notes
   against the agreement's royalty invoices, newest first).

A preview runs the same steps and rolls everything back.

The lock order (round 55; round 58: the audit log's head at commit). Every audited
step's events are chained as it commits, under the audit chain's head, its last lock
(`audit.services`); until round 58 a step locked the head at its first event, and
what it locked before that no other step could lock after its own. A filing locks,
in this order:

    1. the agreement (`_agreement(lock=True)`; the reminders and
       `restore-terminated` runs claim it instead, SKIP LOCKED);
    2. the agreement's royalty invoices it may credit, by id (`lock_creditable`),
       before anything else: a payment locks its invoice and then the organization
       (billing's order: the payment, the invoice); until round 55 the filing
       locked them only to credit them, after auditing the report it superseded,
       and the two deadlocked (`tests/integration/royalties/
       test_credit_lock_order.py`);
    3. the superseded report, the new report, its rows and the stored periods;
    4. the organization (`accounts.locked_organization`, FOR NO KEY UPDATE; round
       58), before billing's numbers, as an acceptance and the overdue run lock it
       before theirs: the filing locked it last, to restore its standing
       (`restore_standing_if_clear`), and with the head at commit deadlocked with the
       overdue run, which claims the organization and then draws a late fee's number
       (`tests/integration/royalties/test_filing_lock_order.py`);
    5. billing's numbers (the invoice's, or the credit notes');
    6. the audit chain's head, at commit.

Staff review (`review`) locks the report's agreement FOR KEY SHARE, then the report,
then audits (round 56): it locked the report alone, but sending a report back writes
it twice, and PostgreSQL checks the second write's key to the agreement with that
share lock; an amendment holding the agreement and waiting to supersede the report
deadlocked with it while the head sat between them (`tests/integration/royalties/
test_review_lock_order.py`). Nothing locks a report before its agreement; the
reminders run's claim of an agreement (FOR NO KEY UPDATE) does not wait for the
share.

A locked row is read as it is once locked (round 55, stale55): `licensing.db`
loads every FOR UPDATE read with `populate_existing`, so a step that waited for
another acts on what that one committed, not on the copy its page read before.
"""

from __future__ import annotations

from .anomalies import DROP_SHARE, ESTIMATE_SHARE
from .filing import BATCH, preview, submit
from .obligations import (
    REPORTING_STATES,
    Filing,
    Obligations,
    PeriodStatus,
    agreement_periods,
    all_periods,
    current_reports,
    obligations,
    period_state,
    reporting_agreements,
)
from .reading import amended_by, corrected_by, filing_of, get_report, report_rows, template_rows
from .reminders import REMINDER_DAYS, ReminderRun, overdue_reports, reminder_stage, send_reminders
from .review import ReviewStep, review, review_actions, review_history
from .steps import (
    AMEND,
    amendment_refusal,
    last_amendment_day,
    report_step_refused,
    report_steps,
)

__all__ = [
    "AMEND",
    "BATCH",
    "DROP_SHARE",
    "ESTIMATE_SHARE",
    "REMINDER_DAYS",
    "REPORTING_STATES",
    "Filing",
    "Obligations",
    "PeriodStatus",
    "ReminderRun",
    "ReviewStep",
    "agreement_periods",
    "all_periods",
    "amended_by",
    "amendment_refusal",
    "corrected_by",
    "current_reports",
    "filing_of",
    "get_report",
    "last_amendment_day",
    "obligations",
    "overdue_reports",
    "period_state",
    "preview",
    "reminder_stage",
    "report_rows",
    "report_step_refused",
    "report_steps",
    "reporting_agreements",
    "review",
    "review_actions",
    "review_history",
    "send_reminders",
    "submit",
    "template_rows",
]

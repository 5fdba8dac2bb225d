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
"""

from __future__ import annotations

from .anomalies import DROP_SHARE, ESTIMATE_SHARE
from .filing import BATCH, last_amendment_day, preview, submit
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

__all__ = [
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
    "reporting_agreements",
    "review",
    "review_actions",
    "review_history",
    "send_reminders",
    "submit",
    "template_rows",
]

"""The lives of a royalty report, as explicit tables.

A filed report is `submitted` (the period's current report) until an amendment
supersedes it; a superseded report is kept, read-only:

    submitted ─supersede─▶ superseded

Alongside, staff review of the anomalies flagged on submission, and staff asking
for a corrected report (of any current report: a warning is not the only way staff
find a mistake, and the contract leaves corrections to the vendor's amendment,
which the request only asks for):

    clear                       (nothing flagged)
    flagged ─mark_reviewed─▶ reviewed
    clear, flagged, reviewed ─request_correction─▶ correction_requested
    correction_requested ─mark_reviewed─▶ reviewed

A superseded report is asked for nothing: the guard is the use case's
(`services.review.review_actions`).
"""

from __future__ import annotations

from licensing.statemachine import Action, StateMachine

SUBMITTED = "submitted"
SUPERSEDED = "superseded"
REPORT_STATES = (SUBMITTED, SUPERSEDED)

REPORT = StateMachine.from_actions(
    "royalty report",
    REPORT_STATES,
    {
        "supersede": Action(
            SUBMITTED, to=SUPERSEDED, stamp="superseded_at", words="be superseded by an amendment"
        )
    },
)

CLEAR = "clear"
FLAGGED = "flagged"
REVIEWED = "reviewed"
CORRECTION_REQUESTED = "correction_requested"
REVIEW_STATES = (CLEAR, FLAGGED, REVIEWED, CORRECTION_REQUESTED)

REVIEW = StateMachine.from_actions(
    "royalty report",
    REVIEW_STATES,
    {
        "mark_reviewed": Action(FLAGGED, CORRECTION_REQUESTED, to=REVIEWED, event="reviewed"),
        "request_correction": Action(
            CLEAR,
            FLAGGED,
            REVIEWED,
            to=CORRECTION_REQUESTED,
            event="correction_requested",
            words="be sent back for a correction",
        ),
    },
    field="review_state",
    # Either outcome of the review is stamped as its time.
    stamp="reviewed_at",
    state_words={
        CLEAR: "not flagged for review",
        FLAGGED: "flagged for review",
        CORRECTION_REQUESTED: "waiting for a corrected report",
    },
)

# The steps a report's review history records: the states its actions lead to.
REVIEW_STEPS = (REVIEWED, CORRECTION_REQUESTED)

# A period's state in the list of an agreement's reporting periods.
UPCOMING = "upcoming"
DUE = "due"
OVERDUE = "overdue"
PERIOD_STATES = (UPCOMING, DUE, OVERDUE, SUBMITTED)
# The staff queue's filter also takes the periods still to file: due or overdue
# (ended, no report). What stays open with a closed organization links them.
TO_FILE = "to_file"
# And, in both lists, the periods filed on whose invoices the licensee still owes
# (periods62: a billing contact asks which quarters are settled).
OWING = "owing"
QUEUE_STATES = {
    **{state: state for state in PERIOD_STATES},
    TO_FILE: "due or overdue",
    OWING: "owing: filed, not yet paid in full",
}

# How a report reached the service.
SOURCES = ("json", "csv", "form")

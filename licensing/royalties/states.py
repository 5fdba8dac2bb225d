"""The lives of a royalty report, as explicit tables.

A filed report is `submitted` (the period's current report) until an amendment
supersedes it; a superseded report is kept, read-only:

    submitted ─supersede─▶ superseded

Alongside, staff review of the anomalies flagged on submission:

    clear                       (nothing flagged)
    flagged ─mark_reviewed─▶ reviewed
       └─request_correction─▶ correction_requested ─mark_reviewed─▶ reviewed
"""

from __future__ import annotations

from licensing.statemachine import StateMachine

SUBMITTED = "submitted"
SUPERSEDED = "superseded"
REPORT_STATES = (SUBMITTED, SUPERSEDED)

REPORT = StateMachine(
    "royalty report",
    {(SUBMITTED, "supersede"): SUPERSEDED},
    REPORT_STATES,
    stamps={"supersede": "superseded_at"},
    steps={"supersede": "be superseded by an amendment"},
)

CLEAR = "clear"
FLAGGED = "flagged"
REVIEWED = "reviewed"
CORRECTION_REQUESTED = "correction_requested"
REVIEW_STATES = (CLEAR, FLAGGED, REVIEWED, CORRECTION_REQUESTED)

REVIEW = StateMachine(
    "royalty report",
    {
        (FLAGGED, "mark_reviewed"): REVIEWED,
        (FLAGGED, "request_correction"): CORRECTION_REQUESTED,
        (CORRECTION_REQUESTED, "mark_reviewed"): REVIEWED,
    },
    REVIEW_STATES,
    field="review_state",
    events={"mark_reviewed": "reviewed", "request_correction": "correction_requested"},
    stamps={"mark_reviewed": "reviewed_at", "request_correction": "reviewed_at"},
    steps={"request_correction": "be sent back for a correction"},
    state_words={
        CLEAR: "not flagged for review",
        FLAGGED: "flagged for review",
        CORRECTION_REQUESTED: "waiting for a corrected report",
    },
)

# A period's state in the list of an agreement's reporting periods.
UPCOMING = "upcoming"
DUE = "due"
OVERDUE = "overdue"
PERIOD_STATES = (UPCOMING, DUE, OVERDUE, SUBMITTED)

# How a report reached the service.
SOURCES = ("json", "csv", "form")

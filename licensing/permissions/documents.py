"""Decision letters as PDFs: pure renderers of plain data.

`render_grant_letter(GrantLetter) -> bytes` and `render_denial_letter(DenialLetter)
-> bytes` know nothing of the database; the service gathers the data, renders
once, and stores the bytes (a letter is never re-rendered).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from licensing import calendar
from licensing.notices import TRADEMARK_NOTICE, copyright_notice
from licensing.words import audience_words

# reportlab and `licensing.pdf` are imported by the functions that draw, not with the
# module: the permission services import it for the letters' data, and reportlab with
# PIL is about 10 MB resident that a process which draws no PDF need not hold (round 50).
if TYPE_CHECKING:
    from reportlab.platypus import Flowable

OFFICE = "CPT Licensing Office"
# A grant's conditions when the office set none.
NO_CONDITIONS = "The permission has no conditions beyond those stated in this letter."


@dataclass(frozen=True)
class Requester:
    name: str
    email: str
    institution: str
    role: str | None  # None: not asked (a request routed from a license application)


@dataclass(frozen=True)
class GrantLetter:
    number: str
    request_reference: str
    issued_on: date
    requester: Requester
    permitted_use: str
    purpose: str
    medium: str
    audience_size: int | None
    conditions: tuple[str, ...]
    valid_from: date
    valid_until: date
    # The use's term as the requester asked for it (their words, and the days they
    # gave, round 42); empty: not shown.
    term_asked: str = ""
    # After a reconsideration: the number of the denial letter this grant replaces.
    replaces: str = ""
    # A public request's status page, which sends a new request filled in with this
    # one from 60 days before the end (empty: a routed use, renewed by application).
    status_url: str = ""

    @property
    def copyright_notice(self) -> str:
        return copyright_notice(self.valid_from)


@dataclass(frozen=True)
class DenialLetter:
    number: str
    request_reference: str
    issued_on: date
    requester: Requester
    content_requested: str
    reason: str
    # The instant the window closes, stated as the email and status page state it.
    reconsideration_until: datetime | None
    status_url: str
    # Where a commercial use goes instead (empty: the letter says "on our website").
    estimator_url: str = ""
    sign_up_url: str = ""
    # The purpose, as the grant letter states it: a teacher's two requests for the
    # same content differ by it (empty: the letter names the content alone).
    purpose: str = ""


def _continuing(letter: GrantLetter) -> str:
    """How to go on after the last day: where the new request is sent from."""
    if not letter.status_url:
        return "To continue the use after that date, submit a new request."
    return (
        "To continue the use after that date, send a new request: from 60 days before "
        "it, your request's status page sends one, the form filled in with this request: "
        f"{letter.status_url}"
    )


def _license_instead(letter: DenialLetter) -> str:
    if not (letter.estimator_url and letter.sign_up_url):
        return (
            "If your use is part of a commercial product or service, it needs a license "
            "instead: the price estimator and the license application are on our website."
        )
    return (
        "If your use is part of a commercial product or service, it needs a license "
        f"instead: estimate its fee at {letter.estimator_url} and apply for the license "
        f"at {letter.sign_up_url}."
    )


def _heading(title: str, number: str, reference: str, issued_on: date) -> list[Flowable]:
    from reportlab.lib.units import inch
    from reportlab.platypus import Spacer

    from licensing import pdf

    return [
        pdf.para(title, "Title"),
        pdf.para(
            f"Letter {number} · request {reference} · {calendar.day_text(issued_on)}", "Subtitle"
        ),
        Spacer(1, 0.2 * inch),
    ]


def _addressee(requester: Requester) -> list[Flowable]:
    from reportlab.lib.units import inch
    from reportlab.platypus import Spacer

    from licensing import pdf

    return [
        pdf.para(requester.name),
        pdf.para(
            f"{requester.role.capitalize()}, {pdf.isolated(requester.institution)}"
            if requester.role
            else requester.institution
        ),
        pdf.para(requester.email, "Small"),
        Spacer(1, 0.15 * inch),
        pdf.para(f"Dear {pdf.isolated(requester.name)},"),
        Spacer(1, 0.08 * inch),
    ]


def _signed(
    story: list[Flowable], title: str, subject: str, *, notices: tuple[str, ...] = ()
) -> bytes:
    """The letter signed by the office, as PDF bytes titled (and footed) `title`;
    `notices` in small print at its foot, after the signature, where a letter puts
    them (not in its body, above "Sincerely")."""
    from reportlab.lib.units import inch
    from reportlab.platypus import Spacer

    from licensing import pdf

    signature = [Spacer(1, 0.25 * inch), pdf.para("Sincerely,"), pdf.para(OFFICE)]
    foot = [Spacer(1, 0.3 * inch), *(pdf.para(notice, "Small") for notice in notices)]
    return pdf.build(
        [*story, *signature, *(foot if notices else ())],
        pdf.PageFurniture(title),
        title=title,
        subject=subject,
    )


def render_grant_letter(letter: GrantLetter) -> bytes:
    """The grant: who may do what, under which conditions, for how long, with the notice."""
    from reportlab.lib.units import inch

    from licensing import pdf

    story: list[Flowable] = [
        *_heading(
            "Permission for educational use of CPT content",
            letter.number,
            letter.request_reference,
            letter.issued_on,
        ),
        *_addressee(letter.requester),
        pdf.para(
            f"The {OFFICE} grants {pdf.isolated(letter.requester.name)} of "
            f"{pdf.isolated(letter.requester.institution)} "
            "a non-exclusive, non-transferable permission to use CPT content for the "
            "non-commercial educational purpose described below, subject to the conditions "
            "in this letter."
            + (
                " This letter follows your request for reconsideration and replaces the "
                f"denial letter {letter.replaces}."
                if letter.replaces
                else ""
            )
        ),
        pdf.para("Permitted use", "Heading"),
        pdf.para(letter.permitted_use, "Clause"),
        pdf.table(
            [
                ["Purpose", letter.purpose],
                ["Medium", letter.medium],
                ["Audience", audience_words(letter.audience_size)],
                *([["Term asked for", letter.term_asked]] if letter.term_asked else []),
                ["Valid from", calendar.day_text(letter.valid_from)],
                ["Valid until", calendar.day_text(letter.valid_until)],
            ],
            [1.6 * inch, pdf.CONTENT_WIDTH - 1.6 * inch],
            header=False,
        ),
        pdf.para("Conditions", "Heading"),
    ]
    story += [pdf.para(f"{n}. {c}", "Clause") for n, c in enumerate(letter.conditions, start=1)]
    if not letter.conditions:
        # Said as a sentence (round 58: it was numbered, "1. No conditions ...").
        story.append(pdf.para(NO_CONDITIONS, "Clause"))
    story += [
        pdf.para(
            "The use must remain non-commercial: no fee may be charged for access to the "
            "material beyond the cost of reproduction, and the permission does not extend to "
            "any product, service or publication sold for profit. Any other use needs a "
            "license.",
            "Clause",
        ),
        pdf.para("Validity period", "Heading"),
        pdf.para(
            f"This permission is valid from {calendar.day_text(letter.valid_from)} until "
            f"{calendar.day_text(letter.valid_until)}. {_continuing(letter)}",
            "Clause",
        ),
        pdf.para("Required copyright notice", "Heading"),
        pdf.para(
            "Reproduce the following notice wherever CPT content appears in the material:",
            "Clause",
        ),
        pdf.para(letter.copyright_notice, "Clause"),
        pdf.para(TRADEMARK_NOTICE, "Clause"),
    ]
    return _signed(
        story,
        f"Permission letter {letter.number}",
        f"Grant of permission for request {letter.request_reference}",
    )


def _refused_use(letter: DenialLetter) -> list[Flowable]:
    """The use refused: the content, and the purpose it was asked for."""
    from licensing import pdf

    use: list[Flowable] = [
        pdf.para("Content requested", "Heading"),
        pdf.para(letter.content_requested, "Clause"),
    ]
    if letter.purpose:
        use += [pdf.para("Purpose", "Heading"), pdf.para(letter.purpose, "Clause")]
    return use


def render_denial_letter(letter: DenialLetter) -> bytes:
    """The denial: the reason, and how to ask for reconsideration."""
    from licensing import pdf

    story: list[Flowable] = [
        *_heading(
            "Decision on your request for educational use of CPT content",
            letter.number,
            letter.request_reference,
            letter.issued_on,
        ),
        *_addressee(letter.requester),
        pdf.para(
            f"The {OFFICE} has reviewed your request {letter.request_reference} and is not "
            "able to grant permission for the use described."
        ),
        *_refused_use(letter),
        pdf.para("Reason", "Heading"),
        pdf.para(letter.reason, "Clause"),
        pdf.para("Requesting reconsideration", "Heading"),
    ]
    if letter.reconsideration_until:
        story.append(
            pdf.para(
                "You may ask us to reconsider this decision once, within 14 days of this "
                f"letter: until {calendar.deadline_text(letter.reconsideration_until)}. Open "
                "your request's status page and use “Request reconsideration”, explaining "
                f"what has changed or what we should take into account: {letter.status_url}",
                "Clause",
            )
        )
    else:
        story.append(
            pdf.para(
                "This decision follows a reconsideration and is final. A new request may be "
                "submitted for a different use.",
                "Clause",
            )
        )
    story += [
        pdf.para(_license_instead(letter), "Clause"),
    ]
    return _signed(
        story,
        f"Decision letter {letter.number}",
        f"Denial of request {letter.request_reference}",
        notices=(TRADEMARK_NOTICE,),
    )

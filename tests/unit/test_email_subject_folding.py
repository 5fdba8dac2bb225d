"""A subject naming an organization beyond ASCII reads back as written wherever the
line would have broken: Python 3.11's folder at 78 characters dropped the space
between two encoded words on separate lines ("ÆrøskøbingMédical"; CI, stop 56), so
the service folds a subject at RFC 5322's 998-character limit (`OneLineSubject`)."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

from licensing.mail.services import OneLineSubject

NAME = "Ærøskøbing Médical Systèmes S.A."


def _read_back(subject: str, *, wrapped: bool) -> str:
    email = EmailMessage()
    email["Subject"] = OneLineSubject(subject) if wrapped else subject
    email.set_content("Body.")
    sent = email.as_bytes(policy=policy.SMTP)
    return str(message_from_bytes(sent, policy=policy.default)["Subject"])


def test_a_subject_keeps_the_spaces_of_an_organization_name_wherever_the_line_falls() -> None:
    subjects = [f"Alex Moreno {n} no longer acts for {NAME}" for n in range(1, 100_000, 37)]
    assert [_read_back(subject, wrapped=True) for subject in subjects] == subjects


def test_the_library_alone_loses_a_space_where_the_line_falls_between_encoded_words() -> None:
    # What the wrapper is for: if the library mends its folder this starts failing,
    # and the wrapper can go.
    subject = f"Alex Moreno 10219 no longer acts for {NAME}"
    assert _read_back(subject, wrapped=False) != subject
    assert _read_back(subject, wrapped=True) == subject


def test_the_subject_reads_as_text_where_the_service_reads_it() -> None:
    email = EmailMessage()
    email["Subject"] = OneLineSubject(f"Invoice for {NAME}")
    assert email["Subject"] == f"Invoice for {NAME}"

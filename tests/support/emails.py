"""Reading a delivered email as its recipient does (round 55): what every kind of
email the service sends must hold, checked on the message an SMTP server received.

`problems(message, ...)` lists what a recipient would trip over, in words naming the
message; an empty list is a readable email. `links(message)` are its addresses to
follow, each as the path and query the test client opens.
"""

from __future__ import annotations

import re
import urllib.parse
from email.message import EmailMessage, Message
from pathlib import Path

from licensing.mail.services import OFFICE_NAME

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "emails"

_URL = re.compile(r"https?://[^\s<>\"')]+")
# What a template or its context left unfilled, or a Python value written as text.
_UNFILLED = (
    re.compile(r"\bNone\b(?! of)"),  # "None of it counts" is English
    re.compile(r"\{\{|\}\}|\{%|%\}"),
    re.compile(r"\bDecimal\(|\bdatetime\.|\bdate\("),
    re.compile(r"<[A-Za-z]+ object at 0x"),
    re.compile(r"\bUndefined\b"),
    # An instant as a machine writes it, or an amount with more minor digits than money has.
    re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}"),
    re.compile(r"\b\d+\.\d{3,}\s*(?:USD|EUR|GBP)\b"),
)
# A record named by its database id ("card payment 1", "Payment: 12"): people know
# records by their numbers (INV-..., CPT-..., PR-...), amounts and days.
_RAW_ID = re.compile(
    r"(?<!end )\b(?:payment|invoice|agreement|application|report|request|user|organization)"
    r"s?:? \d+\b(?![.,]\d)",
    re.IGNORECASE,
)
# A day or a month as a machine writes it ("2027-05-02", "2027-03"): an email says them
# in words ("May 2, 2027", "March 2027", round 56). Links are read apart (a query may
# carry a day), and a reference's year ("INV-2027-000012") is no day.
_ISO_DAY = re.compile(r"(?<![\w-])\d{4}-\d{2}(?:-\d{2})?(?![\w-])")
# An amount of money without its currency after it.
_BARE_AMOUNT = re.compile(r"(?<![\w.,-])\d{1,3}(?:,\d{3})*\.\d{2}\b(?! [A-Z]{3}\b)(?!%)")
# An amount of money: grouped, with two minor digits, and its currency.
_AMOUNT = re.compile(r"(?<![\w.,])\d[\d,]*\.\d+ [A-Z]{3}\b")
_AMOUNT_RIGHT = re.compile(r"^\d{1,3}(?:,\d{3})*\.\d{2} [A-Z]{3}$")


def kinds() -> set[str]:
    """Every kind of email the service sends: its templates, less the parts others
    include (`_*.txt`)."""
    return {path.stem for path in TEMPLATES.glob("*.txt") if not path.name.startswith("_")}


def text_of(message: EmailMessage) -> str:
    """The plain-text part (every email has one)."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, f"{message['Subject']!r} has no text/plain part"
    content = part.get_content()
    assert isinstance(content, str)
    return content


def urls(text: str) -> list[str]:
    return [found.rstrip(".,:;") for found in _URL.findall(text)]


def _defects(message: Message) -> list[str]:
    found = [type(defect).__name__ for defect in message.defects]
    for part in message.walk():
        if part is not message:
            found += [type(defect).__name__ for defect in part.defects]
    return found


def problems(
    message: EmailMessage,
    *,
    public_url: str,
    sender: str,
) -> list[str]:
    """What is wrong with `message` as its recipient reads it (empty: nothing)."""
    subject = str(message["Subject"] or "")
    said: list[str] = []

    def wrong(what: str) -> None:
        said.append(f"{subject!r}: {what}")

    if _defects(message):
        wrong(f"malformed MIME: {_defects(message)}")
    if str(message["From"]) != sender:
        wrong(f"From {message['From']!r}, not the office's {sender!r}")
    if message["Reply-To"] is not None and str(message["Reply-To"]) != sender:
        wrong(f"Reply-To {message['Reply-To']!r}, not the office's {sender!r}")
    for header in ("To", "Date", "Message-ID"):
        if not message[header]:
            wrong(f"no {header} header")
    if len(subject.split()) < 3:
        wrong("a subject that does not say what the email is")
    try:
        text = text_of(message)
    except AssertionError as missing:
        wrong(str(missing))
        return said
    for pattern in _UNFILLED:
        for where, words in (("subject", subject), ("text", text)):
            if found := pattern.search(words):
                wrong(f"{where} has {found.group(0)!r}, a value left unfilled or raw")
    for where, words in (("subject", subject), ("text", _URL.sub(" ", text))):
        if found := _ISO_DAY.search(words):
            wrong(f"{where} writes a day as {found.group(0)!r}, not in words")
    for where, words in (("subject", subject), ("text", text)):
        if found := _RAW_ID.search(words):
            wrong(f"{where} names a record by its id: {found.group(0)!r}")
        if found := _BARE_AMOUNT.search(words):
            wrong(f"{where} has an amount without its currency: {found.group(0)!r}")
        for amount in _AMOUNT.findall(words):
            if not _AMOUNT_RIGHT.match(amount):
                wrong(f"{where} writes the amount {amount!r} without its grouping or minor digits")
    # One sign-off for every email (round 55): the office's name, then its address.
    if text.rstrip().splitlines()[-2:] != [OFFICE_NAME, public_url]:
        wrong(f"not signed off with the office's name and {public_url}")
    if "\n-- \n" in text:
        wrong("a signature separator some emails have and others not")
    if re.search(r"(?:\r?\n[ \t]*){3}", text):
        wrong("a blank line printed twice (a block of the template left empty)")
    found_urls = urls(text)
    if not found_urls:
        wrong("no link to act on or read more")
    for url in found_urls:
        if not url.startswith(public_url + "/") and url != public_url:
            wrong(f"a link not on the configured public address: {url}")
    for part in message.iter_attachments():
        name = part.get_filename() or ""
        if not name:
            wrong("an attachment without a file name")
        elif not name.endswith(".pdf") or not re.search(r"\d", name):
            wrong(f"an attachment named {name!r}, not as the document")
        if part.get_content_type() != "application/pdf":
            wrong(f"an attachment {name!r} of type {part.get_content_type()}")
        elif not part.get_payload(decode=True).startswith(b"%PDF-"):  # type: ignore[union-attr]
            wrong(f"an attachment {name!r} that is not a PDF")
    return said


def paths(message: EmailMessage, public_url: str) -> list[str]:
    """The links of `message` on the service, each as the path and query to open."""
    found = []
    for url in urls(text_of(message)):
        if url.startswith(public_url):
            parts = urllib.parse.urlsplit(url)
            found.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return found

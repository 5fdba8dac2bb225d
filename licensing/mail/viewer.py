"""The development mail viewer: every email the app queued, with its links
clickable, at /dev/mail.

It exists only when `DEV_MAIL_VIEWER` is on (the default in development; the
service refuses to start with it in production), so a newcomer running
`make run` without an SMTP server can follow the confirmation and invitation
links. It needs no sign-in, because it is how the first users get in, and so it
answers only clients on this computer (loopback addresses).
"""

from __future__ import annotations

import ipaddress
import re

from flask import Blueprint, render_template, request
from markupsafe import Markup, escape

from licensing import access, db
from licensing.errors import NotFound
from licensing.mail import queries
from licensing.web.paging import numbered, requested_page

bp = Blueprint("dev_mail", __name__, url_prefix="/dev/mail")

PER_PAGE = 50
_URL = re.compile(r"https?://[^\s<>\"']+")
# Punctuation that ends a sentence rather than the link.
_TRAILING = ".,;:!?)]"


def linkify(text: str) -> Markup:
    """The text, escaped, with every http(s) URL made a link."""
    parts: list[str] = []
    position = 0
    for match in _URL.finditer(text):
        url = match.group().rstrip(_TRAILING)
        parts.append(escape(text[position : match.start()]))
        parts.append(Markup('<a href="{0}">{0}</a>').format(url))
        position = match.start() + len(url)
    parts.append(escape(text[position:]))
    return Markup("").join(parts)


def _from_this_computer() -> bool:
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


@bp.route("/")
@access.public  # how the first users confirm their email; loopback clients only
def inbox() -> str:
    if not _from_this_computer():
        raise NotFound("The development mail viewer answers only on this computer.")
    page = requested_page()
    found, total = queries.messages(db.session(), page=page, per_page=PER_PAGE)
    return render_template(
        "dev/mail.html",
        messages=found,
        **numbered(page, total, PER_PAGE),
        linkify=linkify,
    )

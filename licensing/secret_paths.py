"""One-time secrets in URL paths, hidden wherever a path is written down.

An emailed link carries its secret in the path (`/reset/<token>`,
`/invoice-links/<id>/<token>`, ...). The database keeps only its digest, but a
log line that writes the request's path, or the `Referer` of the page's own
stylesheet, would keep the secret itself, readable by whoever reads the logs.
The access log (`licensing.serving`) and the error log write paths through
`hide_secrets`.

Standard library only: gunicorn's master process imports this module (through
`licensing.serving`) without the app. `tests/integration/test_secret_paths.py`
walks the URL map, so a new route with a `<token>` must be listed here.
"""

from __future__ import annotations

import re

HIDDEN = "[hidden]"

# The paths whose next segment is a one-time secret, as the routes spell them.
SECRET_PREFIXES = (
    "reset",
    "invitations",
    "verify-email",
    "permissions/confirm",
    "permissions/status",
    "api/v1/permission-status",
    r"invoice-links/\d+",
)

# A secret segment: after one of the prefixes, up to the next `/`, `?`, `#`, quote
# or space. A segment of digits only is a record id (`/api/v1/invitations/5`,
# `/organization/invitations/5/revoke`), never a secret, so it is kept.
_SECRET = re.compile(
    r"(/(?:" + "|".join(SECRET_PREFIXES) + r")/)"
    r"(?![0-9]+(?:[/?#\"'\s]|$))"
    r"[^/?#\"'\s]+"
)


# Query arguments that carry a secret: the request form filled in from a status
# link (`/permissions/request?again=<status token>`, round 30).
SECRET_ARGUMENTS = ("again",)
_SECRET_ARGUMENT = re.compile(r"([?&](?:" + "|".join(SECRET_ARGUMENTS) + r")=)[^&#\"'\s]+")


def hide_secrets(text: str) -> str:
    """`text` (a path, a URL or a log line) with every one-time secret replaced by
    `[hidden]`: `/reset/AbC...` -> `/reset/[hidden]`, `?again=AbC...` ->
    `?again=[hidden]`."""
    if "/" not in text:
        return text
    return _SECRET_ARGUMENT.sub(r"\1" + HIDDEN, _SECRET.sub(r"\1" + HIDDEN, text))

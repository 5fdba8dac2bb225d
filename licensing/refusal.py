"""What a server worker tells the app of a request gunicorn refused before the app
read it (`licensing.serving.ServiceRefusals` makes it, `licensing.server_refusals`
answers it). Standard library only: gunicorn's master imports `licensing.serving`,
and with it this module, without the app."""

from __future__ import annotations

from dataclasses import dataclass

# The WSGI environ key under which the app's request for a refusal carries it.
REFUSAL = "licensing.refused_by_the_server"


@dataclass(frozen=True)
class Refusal:
    """What the worker knows of a request gunicorn refused: the status and reason
    phrase it answers with (gunicorn's), which of its checks refused it (`kind`),
    the limits it reads within, and what of the request line it read."""

    status: int
    reason: str
    # request_line, header_count, header_field, header_fields (the header fields'
    # three limits), malformed_line, malformed_header, malformed_body,
    # transfer_coding, expectation
    kind: str
    line_limit: int  # bytes of the request line, its CRLF not counted
    field_limit: int  # bytes of one header field, its name and line end included
    fields_limit: int  # header fields in a request
    method: str  # as read, "" when none was
    target: str  # as read, cut for a log line, "" when none was
    said: str  # gunicorn's words for it, cut for a log line

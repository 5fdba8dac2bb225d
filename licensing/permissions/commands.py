"""A permission request as the requester makes it: the typed command the use
case takes. The public form and the API check its shape (with the limits on
`permissions/models.py`) and build it; `submit_request` checks the rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

TEXT_FIELDS = (
    "requester_name",
    "requester_email",
    "institution",
    "role",
    "organization_type",
    "purpose",
    "purpose_detail",
    "content_requested",
    "medium",
    "duration",
)


@dataclass(frozen=True)
class PermissionRequestInput:
    """A public request for an educational use (shape already checked)."""

    requester_name: str
    requester_email: str
    institution: str
    role: str
    organization_type: str
    purpose: str
    purpose_detail: str
    content_requested: str
    medium: str
    audience_size: int
    duration: str
    noncommercial: bool
    # The first and last day of the use (round 42): both or neither; without them
    # the duration's words alone say how long, and a grant defaults to one year.
    use_from: date | None = None
    use_until: date | None = None

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> PermissionRequestInput:
        """From data an edge has checked (the API's loaded body, the form's data):
        text trimmed the same way for both."""
        return cls(
            **{name: str(fields.get(name) or "").strip() for name in TEXT_FIELDS},
            audience_size=int(fields["audience_size"]),
            noncommercial=fields.get("noncommercial") is True,
            use_from=fields.get("use_from"),
            use_until=fields.get("use_until"),
        )

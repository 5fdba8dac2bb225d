"""How each typed reference people read is written, in one place per kind:
`APP-000042`, `RR-000042`, `PR-2027-000042` and its letters `PR-2027-000042-G1`,
agreement numbers `CPT-2027-000042`, invoice numbers `INV-2027-000042`, credit
notes `CN-2027-000042`.

It imports nothing of the service (nor any library), so a package names another
package's records without importing it: billing names the royalty report an
invoice bills without importing royalties. Who draws a number (the gapless
series of `billing.numbering`, the agreements' yearly counter, a record's id) is
each feature's business; how the number is written is this module's. (A bank's
reference for a payment is something else: `billing.references`.)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ById:
    """A reference made of a prefix and the record's id in six digits: `APP-000042`."""

    prefix: str

    def __call__(self, record_id: int) -> str:
        return f"{self.prefix}-{record_id:06d}"


@dataclass(frozen=True)
class ByYear:
    """A prefix, a year and a number in six digits: `INV-2027-000042`. The prefix
    is also the name of the series a gapless number is drawn from."""

    prefix: str

    def __call__(self, year: int, number: int) -> str:
        return f"{self.prefix}-{year:04d}-{number:06d}"

    def of_year(self, year: int) -> str:
        """How every number of `year` starts: `CPT-2027-` (a search box's example)."""
        return f"{self.prefix}-{year:04d}-"


APPLICATION = ById("APP")
ROYALTY_REPORT = ById("RR")
# A permission request's reference: the year it was made and its id.
PERMISSION_REQUEST = ByYear("PR")
AGREEMENT = ByYear("CPT")
INVOICE = ByYear("INV")
CREDIT_NOTE = ByYear("CN")


def permission_letter(request_reference: str, *, granted: bool, count: int) -> str:
    """A decision letter: its request's reference, G (grant) or D (denial), and
    how many letters the request has had with this one (`PR-2027-000042-D2`)."""
    return f"{request_reference}-{'G' if granted else 'D'}{count}"

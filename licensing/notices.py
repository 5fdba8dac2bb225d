"""The notices every document carries, and the one rule for their copyright year.

Agreements, invoices, credit notes and permission letters all print
"CPT © YYYY American Medical Association. All rights reserved." with the same
YYYY: the copyright year of the CPT release the document's period uses. The
release for year N (the rate card year) is published in the autumn of N - 1 and
carries that year's copyright, so anything covering a 2027 period (a 2027
term, its invoices and credit notes, a permission valid from 2027) reads
"CPT © 2026", whenever the document itself is issued.

Standard library only: the pure renderers import it.
"""

from __future__ import annotations

from datetime import date

CONTENT_OWNER = "American Medical Association"
TRADEMARK_NOTICE = "CPT® is a registered trademark of the American Medical Association."


def copyright_year(period_start: date) -> int:
    """The copyright year of the CPT release used by a period starting on `period_start`."""
    return period_start.year - 1


def copyright_notice(period_start: date) -> str:
    """The required copyright notice for a document covering a period from `period_start`."""
    return f"CPT © {copyright_year(period_start)} {CONTENT_OWNER}. All rights reserved."

"""Stand-ins for reportable lines in unit tests of reading a report's rows."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any


def reportable_line(number: int, units: tuple[str, ...], takes_revenue: bool) -> Any:
    """What checking a row asks of a reportable line."""
    return SimpleNamespace(
        number=number,
        units=units,
        takes_revenue=takes_revenue,
        rule=SimpleNamespace(id="r", description="A rule"),
    )

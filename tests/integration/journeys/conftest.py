"""The journeys fixes reuse the applications fixtures (example card, `apply`), and
run the walks written around 2027 and its cards on a fixed day before them."""

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import time_machine

from tests.integration.agreements.conftest import apply  # noqa: F401 - the fixture
from tests.integration.billing.conftest import invoice_for  # noqa: F401 - the fixture
from tests.integration.pricing.conftest import example_card  # noqa: F401 - the fixture

# A day before 2027's terms end and 2028's cards start, as these walks are written:
# asked at the real time, from 1 January 2028 a renewal's or a card's term began on
# the office's today, and a routed 2027 request's grant had ended (round 47).
IN_DECEMBER_2026 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


@pytest.fixture
def in_december_2026() -> Iterator[None]:
    """The whole test on a fixed (ticking) day, 1 December 2026."""
    with time_machine.travel(IN_DECEMBER_2026, tick=True):
        yield

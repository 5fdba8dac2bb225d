"""A pytest plugin that runs a whole session under a travelled, ticking clock, to
prove a test holds on a day, and at an hour, other than the one it is run at
(rounds 46 and 47):

    TRAVEL_TO=2027-01-01T03:30:00+00:00 python -m pytest tests/browser/... \\
        -p tests.support.travelled_clock

The live server runs in the test process, so it reads the travelled clock too, and so
do the tests' own Stripe signatures (`stripe_support.signed` takes `time.time()`). A
test that starts its own `time_machine.travel` still runs at the instant it names.

What travel cannot carry, so what fails under it without being a fault (round 47):
- localstripe runs in its own process on the real clock. The events it delivers
  itself to a registered webhook are signed with the real time, which the service
  rightly refuses as outside Stripe's five-minute tolerance: a test that registers
  one is skipped under travel, saying so (`travelled_to`, `LocalStripe.register_webhook`).
- Chromium keeps the real clock: a cookie the server set to expire before the real
  time is dropped. Travel forward only.

The session's header names the instant and the office's day it starts at."""

from __future__ import annotations

import os

import pytest
import time_machine

_TRAVELS: list[time_machine.travel] = []


def travelled_to() -> str | None:
    """The instant the session travelled to (`TRAVEL_TO`), or None at the real time."""
    return os.environ.get("TRAVEL_TO") if _TRAVELS else None


def pytest_configure(config: pytest.Config) -> None:
    destination = os.environ.get("TRAVEL_TO")
    if destination:
        travel = time_machine.travel(destination, tick=True)
        travel.start()
        _TRAVELS.append(travel)


def pytest_report_header(config: pytest.Config) -> str | None:
    destination = travelled_to()
    if destination is None:
        return None
    from licensing.calendar import office_date
    from licensing.db import utcnow

    return (
        f"clock travelled to {destination} (ticking), the office's "
        f"{office_date(utcnow()).isoformat()}; localstripe's own webhook deliveries "
        "are skipped (real clock)"
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    while _TRAVELS:
        _TRAVELS.pop().stop()

"""A pytest plugin that runs a whole session under a travelled, ticking clock, to
prove a test holds at an hour other than the one it is run at (round 46):

    TRAVEL_TO=2027-01-01T03:30:00+00:00 python -m pytest tests/browser/... \\
        -p tests.support.travelled_clock

The live server runs in the test process, so it reads the travelled clock too.
Travel forward only: Chromium keeps the real clock, and a cookie the server set to
expire before the real time would be dropped."""

from __future__ import annotations

import os

import pytest
import time_machine

_TRAVELS: list[time_machine.travel] = []


def pytest_configure(config: pytest.Config) -> None:
    destination = os.environ.get("TRAVEL_TO")
    if destination:
        travel = time_machine.travel(destination, tick=True)
        travel.start()
        _TRAVELS.append(travel)


def pytest_unconfigure(config: pytest.Config) -> None:
    while _TRAVELS:
        _TRAVELS.pop().stop()

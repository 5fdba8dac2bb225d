"""Requests a browser test holds on their way to the server (Playwright's
`page.route`), to look at the page while they are under way."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

POLL_MS = 50


def wait_until_held(
    page: Any, held: Sequence[Any], *, why: str = "no request was held", within_ms: int = 10_000
) -> None:
    """Wait until the route handler that appends to `held` has held a request, or fail
    with `why`.

    Playwright runs a route's handler only when it next hears from the browser, so a
    page that already shows the request sent (a button reading "Paying", a link
    followed) may not have it in `held` yet: waiting on the page is not enough. Each
    `wait_for_timeout` gives Playwright a turn to run the handler."""
    for _ in range(within_ms // POLL_MS):
        if held:
            return
        page.wait_for_timeout(POLL_MS)
    raise AssertionError(why)

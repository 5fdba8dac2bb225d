"""Following a link or sending a form in a browser test, and waiting for the page it
leads to (round 64).

Playwright's `click` does not wait for the new page's `load` (under load it may come
back before the new page has even replaced the old). Until `load`, the page's
`defer` scripts may not have run (the Exports page's choices, a queue's "select
all", the period page's "Add rows", the focus an error summary or an outcome takes)
and the counts and lists that do not wait (`count()`, `all_inner_texts()`,
`is_visible()`, `evaluate`) may read the page left or one half drawn. So a step
after such a click that leans on a script or reads without waiting follows the
link with `follow` (or `arrive`, for a control found otherwise), which waits for
the navigation it starts and for that page's `load`: a wait on an element would
not do, the element may be parsed before the deferred scripts have run."""

from __future__ import annotations

import re
from typing import Any


def arrive(
    page: Any, control: Any, url: str | re.Pattern[str] | None = None, *, key: str = ""
) -> None:
    """Click `control` (a link, or a form's button), or press `key` in it (Enter in a
    field sends its form), and wait for the page it leads to to load: the navigation
    it starts (to `url`, a glob or pattern, when given), not the page already there,
    even when the form comes back to the same address."""
    with page.expect_navigation(url=url):
        if key:
            control.press(key)
        else:
            control.click()


def follow(
    page: Any,
    role: str,
    name: str | re.Pattern[str],
    url: str | re.Pattern[str] | None = None,
    *,
    exact: bool | None = None,
) -> None:
    """Click the link or button `role` named `name` and wait for the page it leads to
    (at `url`, when given) to load."""
    arrive(page, page.get_by_role(role, name=name, exact=exact), url)

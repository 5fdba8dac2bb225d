"""Round 61 (bidi61), in Chromium against the live server: a name shown in a page's
sentence is isolated (`|isolated`, `<bdi>`), so an Arabic name keeps its own
direction and the sentence around it keeps its own. The organization (invented) is
named "مترجم الرموز ش.م.م." (a joint-stock company, its abbreviation ending in a full
stop): without isolation the last full stop, between the name and our English, took
the sentence's direction and was drawn right of the name, where the Arabic reads it
first; isolated, it is drawn at the name's left end, where it ends the name."""

from __future__ import annotations

from typing import Any

from licensing import db
from tests.browser.conftest import sign_in
from tests.support import factories
from tests.support.servers import LiveServer

NAME = "مترجم الرموز ش.م.م."

# Where each character of the name and of the text after it is drawn: the x of the
# name's last character (its full stop), of its first letter, and of the semicolon
# of our sentence after it.
_PLACES = """paragraph => {
  const bdi = paragraph.querySelector("bdi");
  const name = bdi.firstChild;
  const after = bdi.nextSibling;
  const x = (node, index) => {
    const range = document.createRange();
    range.setStart(node, index);
    range.setEnd(node, index + 1);
    return range.getBoundingClientRect().left;
  };
  return {
    stop: x(name, name.length - 1),
    first: x(name, 0),
    semicolon: x(after, after.textContent.indexOf(";")),
    name: bdi.textContent,
    isolate: getComputedStyle(bdi).unicodeBidi,
  };
}"""


def test_an_arabic_name_in_a_sentence_keeps_its_full_stop_and_the_sentence_its_order(
    page: Any, live_server: LiveServer
) -> None:
    with live_server.app.app_context():
        session = db.session()
        organization = factories.make_organization(session, legal_name=NAME)
        administrator = factories.make_vendor(session, organization=organization)
        email = administrator.email
    sign_in(page, email)
    page.goto("/organization")
    sentence = page.locator("p", has_text="They receive a link to create their own account in")
    sentence.wait_for()
    assert " ".join(sentence.inner_text().split()) == (
        f"They receive a link to create their own account in {NAME}; it works for 7 days."
    )
    places = sentence.evaluate(_PLACES)
    assert places["name"] == NAME
    # The name reads right to left: its first letter rightmost, its full stop leftmost.
    assert places["stop"] < places["first"]
    # Our sentence goes on after the whole name, left to right.
    assert places["semicolon"] > places["first"]
    assert places["isolate"] == "isolate"

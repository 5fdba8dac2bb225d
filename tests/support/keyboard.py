"""Walking pages with the keyboard alone (round 61): reaching a control with Tab,
and going round a whole page to check what a keyboard or screen-reader user meets
there (`walk_round`): every stop shows its focus, the stops follow the reading
order, every control a mouse could use is among them, and each has a name in the
accessibility tree."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from tests.support.axe import FOCUSED

MOST_TABS = 250


def tab_to(
    page: Any, css: str | None = None, text: str | None = None, *, back: bool = False
) -> None:
    """Press Tab until the focused element matches `css` or its text starts with `text`
    (with `back`, Shift+Tab: a control just before the focus, as a person reaches it)."""
    seen = []
    key = "Shift+Tab" if back else "Tab"
    for _ in range(MOST_TABS):
        page.keyboard.press(key)
        focused = page.evaluate(FOCUSED, css)
        if focused["matches"] or (text and focused["text"].startswith(text)):
            return
        seen.append(focused["id"] or focused["text"][:30])
    raise AssertionError(f"Tab never reached {css or text!r}; it went through {seen}")


def type_into(page: Any, css: str, value: str) -> None:
    tab_to(page, css=css)
    page.keyboard.type(value)


def choose(page: Any, css: str, value: str) -> None:
    """Tab to a list box and move through its options with the arrow keys."""
    tab_to(page, css=css)
    for _ in range(60):
        if page.evaluate("() => document.activeElement.value") == value:
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"{css} has no option {value!r} within reach of the arrow keys")


def press(page: Any, text: str, key: str = "Enter", *, back: bool = False) -> None:
    """Tab (with `back`, Shift+Tab) to a link or button by its words and press it;
    wait for the next page."""
    tab_to(page, text=text, back=back)
    with page.expect_navigation():
        page.keyboard.press(key)
    page.wait_for_load_state()


def typed(day: date) -> str:
    """`day` as typed into a date field by keyboard (Chromium's mm/dd/yyyy)."""
    return day.strftime("%m%d%Y")


def outcome(page: Any) -> str:
    """The words of the flashed outcome the focus is on after a form was sent (the
    message takes the focus once the page has loaded)."""
    page.wait_for_function("() => !!document.activeElement.closest('.flashes')")
    return str(page.evaluate("() => document.activeElement.innerText").strip())


def focused(page: Any) -> dict[str, Any]:
    """What has the focus: its id, text, and whether it is (or is in) `.flashes`,
    an error summary or the main heading."""
    answer: dict[str, Any] = page.evaluate(
        """() => {
          const el = document.activeElement;
          return {
            id: el.id,
            tag: el.tagName.toLowerCase(),
            text: (el.innerText || el.value || "").trim(),
            outcome: !!el.closest(".flashes"),
            summary: el.classList.contains("error-summary"),
          };
        }"""
    )
    return answer


# One stop of the walk: where the focused element is in the document, whether its
# focus shows (an outline or a ring drawn by box-shadow), whether it is on the screen,
# and words to name it by in a failure.
_STOP = """
() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return null;
  if (!el.__walkIndex) {
    let i = 0;
    for (const each of document.querySelectorAll("*")) each.__walkIndex = ++i;
  }
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
  const ring = style.boxShadow && style.boxShadow !== "none";
  const box = el.getBoundingClientRect();
  const onScreen = box.width > 0 && box.height > 0 && box.bottom > 0 && box.right > 0
    && box.top < innerHeight && box.left < innerWidth;
  const words = (el.getAttribute("aria-label") || el.innerText || el.value
    || el.name || el.id || el.tagName).trim().slice(0, 40);
  // Round 62: something fixed or sticky drawn over the focused control's middle.
  let coveredBy = "";
  if (onScreen) {
    const x = Math.min(Math.max(box.left + box.width / 2, 0), innerWidth - 1);
    const y = Math.min(Math.max(box.top + box.height / 2, 0), innerHeight - 1);
    const over = document.elementFromPoint(x, y);
    const labelled = el.labels && [...el.labels].some((l) => l.contains(over));
    if (over && over !== el && !el.contains(over) && !labelled) {
      for (let up = over; up && up !== document.body; up = up.parentElement) {
        const position = getComputedStyle(up).position;
        if (position === "fixed" || position === "sticky") {
          coveredBy = (up.className || up.tagName).toString();
          break;
        }
      }
    }
  }
  // Round 62: a target under 24 by 24 px (WCAG 2.5.8) is a problem unless it is a
  // link in a sentence, or a 24 px circle on its middle meets no other target. A
  // field's label, which a tap on also reaches it, is part of its target.
  const rects = (one) => [one.getBoundingClientRect(),
    ...(one.labels ? [...one.labels].map((l) => l.getBoundingClientRect()) : [])];
  const span = (all) => ({
    left: Math.min(...all.map((r) => r.left)), top: Math.min(...all.map((r) => r.top)),
    right: Math.max(...all.map((r) => r.right)), bottom: Math.max(...all.map((r) => r.bottom)),
  });
  const target = span(rects(el).filter((r) => r.width && r.height));
  let small = target.right - target.left < 24 || target.bottom - target.top < 24;
  if (small && el.matches("a")) {
    const block = el.parentElement.closest(
      "p, li, td, th, dd, dt, caption, label, h1, h2, h3, h4, legend");
    if (block && block.innerText.trim() !== el.innerText.trim()) small = false;  // in a sentence
  }
  if (small) {
    const cx = (target.left + target.right) / 2, cy = (target.top + target.bottom) / 2;
    const near = [...document.querySelectorAll(
      "a[href], button, input:not([type=hidden]), select, textarea, summary")].some((other) => {
      if (other === el || (el.labels && [...el.labels].includes(other))) return false;
      return [...other.getClientRects()].some((r) => {
        const dx = Math.max(r.left - cx, 0, cx - r.right);
        const dy = Math.max(r.top - cy, 0, cy - r.bottom);
        return r.width && r.height && Math.hypot(dx, dy) < 12;
      });
    });
    small = near;
  }
  return {index: el.__walkIndex, shows: outline || ring, onScreen, words, coveredBy, small,
          size: [target.right - target.left, target.bottom - target.top].map(Math.round).join("x"),
          key: el.tagName + "#" + el.__walkIndex};
}
"""

# Round 62: a box that scrolls sideways (a wide table on a phone) with nothing in it
# Tab reaches, nor a place in the tab order of its own: its hidden columns are out of
# a keyboard user's reach. Its element's key, the stops inside it being known.
_SCROLLERS = """
() => {
  const found = [];
  for (const box of document.querySelectorAll("body *")) {
    if (box.scrollWidth <= box.clientWidth + 1) continue;
    const overflow = getComputedStyle(box).overflowX;
    if (overflow !== "auto" && overflow !== "scroll") continue;
    if (!box.getClientRects().length) continue;
    const inside = [box, ...box.querySelectorAll("*")]
      .map((one) => one.tagName + "#" + one.__walkIndex);
    const words = (box.getAttribute("aria-label") || box.id || box.className
      || box.tagName).toString();
    found.push({words: words.slice(0, 40), inside});
  }
  return found;
}
"""

# Every element a mouse could use: links, buttons, fields, a details' summary and
# anything given a place in the tab order; one radio button a group (Tab reaches
# the group, the arrow keys its buttons). Only those shown.
_USABLE = """
() => {
  let i = 0;
  for (const each of document.querySelectorAll("*")) each.__walkIndex = ++i;
  // A control in a closed <details> is laid out (Chromium hides the content with
  // content-visibility) but neither seen nor reached until its summary opens it.
  const folded = (el) => {
    for (let shut = el.closest("details:not([open])"); shut;
         shut = shut.parentElement && shut.parentElement.closest("details:not([open])")) {
      if (!(el.matches("summary") && el.parentElement === shut)) return true;
      el = shut;
    }
    return false;
  };
  const shown = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length)
    && getComputedStyle(el).visibility !== "hidden" && !el.closest("[inert]") && !folded(el);
  const usable = document.querySelectorAll(
    "a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), "
    + "select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex='-1'])"
  );
  const groups = new Set();
  const found = [];
  for (const el of usable) {
    if (!shown(el) && !el.classList.contains("skip-link")) continue;
    if (el.matches("input[type=radio]")) {
      if (groups.has(el.name)) continue;
      groups.add(el.name);
    }
    const words = (el.getAttribute("aria-label") || el.innerText || el.value
      || el.name || el.id || el.tagName).trim().slice(0, 40);
    found.push({key: el.tagName + "#" + el.__walkIndex, words,
                radio: el.matches("input[type=radio]") ? el.name : ""});
  }
  return found;
}
"""

_BEFORE_THE_WALK = f"""
() => {{
  const usable = ({_USABLE})();
  const start = ({_STOP})();
  window.__walkStart = document.activeElement;
  return [usable, start];
}}
"""

_AFTER_THE_WALK = f"""
(phone) => {{
  window.__walkStart.focus();
  return phone ? ({_SCROLLERS})() : [];
}}
"""

# Roles of controls: an aria snapshot's line for one with no name is the role alone.
_UNNAMED = re.compile(
    r"^\s*- (button|link|textbox|combobox|checkbox|radio|spinbutton|searchbox|listbox"
    r"|slider|switch)(?: \[[^\]]*\])*:?$",
    re.MULTILINE,
)


def unnamed_controls(page: Any) -> list[str]:
    """The lines of the page's accessibility tree (Playwright's aria snapshot) that
    are a control with no name."""
    snapshot = page.locator("body").aria_snapshot()
    return [found.group(0).strip() for found in _UNNAMED.finditer(snapshot)]


def walk_round(page: Any, phone: bool = False) -> list[str]:
    """Tab round the whole page from where the focus is, back to where it began, and
    return what a keyboard or screen-reader user would find wrong: a stop whose focus
    does not show or is off the screen, a stop out of reading order, something a
    mouse can use that Tab never reaches, a control with no name. With `phone`
    (round 62, a narrow screen), also: a stop hidden under something fixed or sticky,
    a box that scrolls sideways with nothing in it Tab reaches, a target under
    24 by 24 px too near another. The focus is left where it began."""
    problems: list[str] = []
    # One round trip before the first Tab: what a mouse could use (which numbers the
    # elements), the stop the walk starts from, and that element kept to come back to.
    usable, start = page.evaluate(_BEFORE_THE_WALK)
    stops: list[dict[str, Any]] = []
    for _ in range(MOST_TABS):
        page.keyboard.press("Tab")
        stop = page.evaluate(_STOP)
        if stop is None:  # past the page's end, before it comes round again
            continue
        # Back where it began (a date field is several stops: its day, month, year
        # and calendar button, so only a return from elsewhere counts).
        came_back = stops and stops[-1]["key"] != stop["key"]
        if came_back and start is not None and stop["key"] == start["key"]:
            break
        if came_back and stop["key"] == stops[0]["key"]:
            break
        stops.append(stop)
    else:
        problems.append(f"Tab never came round again after {len(stops)} stops")
    # Back where the walk began; on a phone, the boxes that scroll sideways read in
    # the same round trip (the focus is not theirs to change).
    scrollers = page.evaluate(_AFTER_THE_WALK, phone)
    for stop in stops:
        if not stop["shows"]:
            problems.append(f"focus does not show on {stop['words']!r}")
        if not stop["onScreen"]:
            problems.append(f"focus is off the screen on {stop['words']!r}")
        if phone and stop["coveredBy"]:
            problems.append(f"focus is hidden under {stop['coveredBy']!r} on {stop['words']!r}")
        if phone and stop["small"]:
            problems.append(f"a target of {stop['size']} px, too near another: {stop['words']!r}")
    # The stops are a circle (past the page's end Tab comes round to its top): read
    # from the first in the document, each must come after the one before.
    if stops:
        top = min(range(len(stops)), key=lambda at: stops[at]["index"])
        circle = stops[top:] + stops[:top]
        indexes = [stop["index"] for stop in circle]
        if indexes != sorted(indexes):
            order = [stop["words"] for stop in circle]
            problems.append(f"the tab order leaves the reading order: {order}")
    reached = {stop["key"] for stop in stops} | ({start["key"]} if start else set())
    radios_reached = {
        element["radio"] for element in usable if element["radio"] and element["key"] in reached
    }
    for element in usable:
        if element["key"] in reached or (element["radio"] and element["radio"] in radios_reached):
            continue
        problems.append(f"Tab never reaches {element['words']!r}")
    if phone:
        for box in scrollers:
            if not reached & set(box["inside"]):
                problems.append(f"scrolls sideways out of Tab's reach: {box['words']!r}")
    problems.extend(f"a control with no name: {line}" for line in unnamed_controls(page))
    return problems


def assert_walks_round(page: Any, phone: bool = False) -> None:
    """`walk_round` finds nothing wrong on the page as it is now."""
    problems = walk_round(page, phone=phone)
    assert not problems, f"by keyboard on {page.url}:\n" + "\n".join(problems)


def upload_by_keyboard(page: Any, tmp_path: Path, walks: Callable[[Any], None]) -> None:
    """On a period's page: the template downloaded, a file of one row chosen with Space,
    previewed (the preview has the focus, walked round with `walks`), attested and
    submitted, by keyboard alone (round 62: at 360 px too)."""
    tab_to(page, text="Download the template for this period")
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    header = Path(download.value.path()).read_text(encoding="utf-8").splitlines()[0]
    report = tmp_path / "first-quarter.csv"
    report.write_text(f"{header}\n1,C-100,Harbor Clinic,US,end_users,60,\n")
    # Playwright asks Chromium to intercept the file chooser without waiting for
    # its answer, so the wait starts before the Tab walk's round trips: a Space
    # pressed at once could open the chooser before it was intercepted.
    with page.expect_file_chooser() as chooser:
        tab_to(page, css="#file")
        page.keyboard.press("Space")
    chooser.value.set_files(report)
    tab_to(page, css="#report-csv button[value=preview]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_load_state()
    # The preview has the focus (royalty-rows.js), its working walked round.
    page.wait_for_function("() => document.activeElement.id === 'preview-csv'")
    walks(page)
    tab_to(page, css="#report-csv input[name=attest]")
    page.keyboard.press("Space")
    tab_to(page, css="#report-csv button[value=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")

/* On a phone a wide table scrolls sideways inside its own box (static/css/app.css).
 * A box that scrolls must be reachable by keyboard, or someone without a mouse
 * cannot see its right-hand columns (WCAG 2.1.1): each box that overflows now
 * takes a place in the tab order (tabindex=0, so the arrow keys scroll it), and
 * gives it back when the screen is wide enough for it to fit. Boxes the page
 * already made focusable are left alone. */
(function () {
  "use strict";
  var MARK = "data-scroll-focus";

  function overflows(box) {
    var scrolls = box.scrollWidth > box.clientWidth + 1 || box.scrollHeight > box.clientHeight + 1;
    return scrolls && ["auto", "scroll"].indexOf(getComputedStyle(box).overflowX) !== -1;
  }

  function update() {
    var boxes = document.querySelectorAll("main table, main .table-scroll, main pre");
    Array.prototype.forEach.call(boxes, function (box) {
      var ours = box.hasAttribute(MARK);
      if (overflows(box)) {
        if (!ours && box.hasAttribute("tabindex")) { return; }
        box.setAttribute("tabindex", "0");
        box.setAttribute(MARK, "");
      } else if (ours) {
        box.removeAttribute("tabindex");
        box.removeAttribute(MARK);
      }
    });
  }

  var pending = null;
  window.addEventListener("resize", function () {
    window.clearTimeout(pending);
    pending = window.setTimeout(update, 100);
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", update);
  } else {
    update();
  }
})();

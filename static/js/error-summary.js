/* A page that comes back with an error summary (a refused form) starts keyboard
 * and screen-reader users at the list of problems, not at the top of the page:
 * the summary takes the focus once the page has loaded, unless the address names
 * a place on the page (the browser then moves there). Its links lead to the fields.
 * A confirmation's question (`layout/confirm.html`, round 38) takes the focus the
 * same way: the next Tab reaches its buttons, not the header's links.
 * Round 61: so does the outcome of a form just sent (the flashed messages, a
 * status or an alert): a live region already on the page as it loads is not
 * announced, and the focus at the page's top left a keyboard user to find it.
 * A confirmation's way back names the button its action was started from
 * (`#void-invoice`): the focus returns to that button, inside a `<details>` opened
 * for it. The first page after signing in starts at its main heading, which says
 * where the user landed. */
(function () {
  "use strict";
  var summary = document.querySelector(".error-summary, [data-focus-on-load]") ||
    document.querySelector("main .flashes");
  // The element the address's fragment names on this page, if any.
  function named() {
    var hash = window.location.hash.slice(1);
    if (!hash) { return null; }
    try { return document.getElementById(decodeURIComponent(hash)); } catch (e) { return null; }
  }
  // The address names a place on this page: the browser has moved there. A fragment
  // naming nothing here (carried through a redirect from the form's own address, as
  // a royalty file's "#report-csv" to the report filed) moves nothing (round 61).
  function namesAPlace() { return !!named(); }
  // A control named (a confirmation's Cancel, round 61): make sure the focus is on it,
  // whatever the browser does with a fragment naming a button in a closed <details>.
  function returnToControl() {
    var control = named();
    if (!control || !control.matches("button, a[href], input, select, textarea, summary")) {
      return false;
    }
    for (var open = control.closest("details"); open; open = open.parentElement.closest("details")) {
      open.open = true;
    }
    if (document.activeElement !== control) { control.focus(); }
    return true;
  }
  if (returnToControl()) {
    window.addEventListener("load", function () {
      window.setTimeout(function () {
        var active = document.activeElement;
        if (!active || active === document.body) { returnToControl(); }
      }, 0);
    });
    return;
  }
  if (!summary) {
    // The first page since signing in: its heading says where the user is.
    var main = document.querySelector("main[data-signed-in]");
    summary = main && main.querySelector("h1");
    if (summary) { summary.setAttribute("tabindex", "-1"); summary.setAttribute("data-focus-on-load", ""); }
  }
  if (!summary || namesAPlace()) { return; }
  window.addEventListener("load", function () {
    window.setTimeout(function () {
      // A link of the summary followed before the page finished loading has taken
      // the user to its field: leave the focus there.
      if (namesAPlace()) { return; }
      // Nor take it from where the user already went (a Tab before the load).
      var active = document.activeElement;
      var gentle = summary.hasAttribute("data-focus-on-load") || summary.classList.contains("flashes");
      if (gentle && active && active !== document.body) { return; }
      summary.focus();
    }, 0);
  });
})();

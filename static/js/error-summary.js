/* A page that comes back with an error summary (a refused form) starts keyboard
 * and screen-reader users at the list of problems, not at the top of the page:
 * the summary takes the focus once the page has loaded, unless the address names
 * a place on the page (the browser then moves there). Its links lead to the fields.
 * A confirmation's question (`layout/confirm.html`, round 38) takes the focus the
 * same way: the next Tab reaches its buttons, not the header's links.
 * Round 61: so does the outcome of a form just sent (the flashed messages, a
 * status or an alert): a live region already on the page as it loads is not
 * announced, and the focus at the page's top left a keyboard user to find it. */
(function () {
  "use strict";
  var summary = document.querySelector(".error-summary, [data-focus-on-load]") ||
    document.querySelector("main .flashes");
  // The address names a place on this page: the browser has moved there. A fragment
  // naming nothing here (carried through a redirect from the form's own address, as
  // a royalty file's "#report-csv" to the report filed) moves nothing (round 61).
  function namesAPlace() {
    var hash = window.location.hash.slice(1);
    return !!hash && !!document.getElementById(decodeURIComponent(hash));
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

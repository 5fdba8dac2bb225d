/* A page that comes back with an error summary (a refused form) starts keyboard
 * and screen-reader users at the list of problems, not at the top of the page:
 * the summary takes the focus once the page has loaded, unless the address names
 * a place on the page (the browser then moves there). Its links lead to the fields.
 * A confirmation's question (`layout/confirm.html`, round 38) takes the focus the
 * same way: the next Tab reaches its buttons, not the header's links. */
(function () {
  "use strict";
  var summary = document.querySelector(".error-summary, [data-focus-on-load]");
  if (!summary || window.location.hash) { return; }
  window.addEventListener("load", function () {
    window.setTimeout(function () {
      // A link of the summary followed before the page finished loading has taken
      // the user to its field: leave the focus there.
      if (window.location.hash) { return; }
      // Nor take it from where the user already went (a Tab before the load).
      var active = document.activeElement;
      if (summary.hasAttribute("data-focus-on-load") && active && active !== document.body) { return; }
      summary.focus();
    }, 0);
  });
})();

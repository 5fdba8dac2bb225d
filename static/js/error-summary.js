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
 * where the user landed.
 * Round 62: and what was typed in that button's form before the confirmation (a
 * reason, an amount, a note, the rows chosen) is in its fields again: following the
 * way back keeps the fields the confirmation would have posted, in this tab alone,
 * until the page it leads to takes them (any page drawn next forgets them). */
(function () {
  "use strict";
  var KEPT = "licensing.way-back";
  var kept = null;
  try {
    kept = JSON.parse(window.sessionStorage.getItem(KEPT) || "null");
    window.sessionStorage.removeItem(KEPT);
  } catch (e) { kept = null; }
  var wayBack = document.querySelector("a[data-way-back]");
  if (wayBack) {
    wayBack.addEventListener("click", function () {
      var fields = [];
      Array.prototype.forEach.call(wayBack.closest("form").querySelectorAll("input[type=hidden][name]"), function (input) {
        fields.push([input.name, input.value]);
      });
      try {
        window.sessionStorage.setItem(KEPT, JSON.stringify({to: wayBack.href, fields: fields}));
      } catch (e) { /* storage refused: the way back still leads back */ }
    });
  }
  // The fields kept on the way back put in the form of the control returned to; only
  // those a person fills (never a hidden one: a token, a stale-check's digest).
  function putBack(control) {
    if (!kept || kept.to !== window.location.href || !control.form) { return; }
    var given = {};
    kept.fields.forEach(function (pair) { (given[pair[0]] = given[pair[0]] || []).push(pair[1]); });
    var used = {};
    Array.prototype.forEach.call(control.form.elements, function (field) {
      var values = given[field.name];
      if (!values || !field.name || ["hidden", "file", "submit", "button", "reset", "image"].indexOf(field.type) !== -1) {
        return;
      }
      if (field.type === "checkbox" || field.type === "radio") {
        field.checked = values.indexOf(field.value) !== -1;
      } else if (field.tagName === "SELECT" && field.multiple) {
        Array.prototype.forEach.call(field.options, function (option) { option.selected = values.indexOf(option.value) !== -1; });
      } else {
        var at = used[field.name] || 0;
        used[field.name] = at + 1;
        if (at >= values.length) { return; }
        field.value = values[at];
      }
      field.dispatchEvent(new Event("input", {bubbles: true}));
      field.dispatchEvent(new Event("change", {bubbles: true}));
    });
    kept = null;
  }
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
    putBack(control);
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

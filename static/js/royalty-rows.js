/* Royalty report period page. "Add rows" adds a blank row in the page instead of
 * asking the server (which it still does when this script does not run); the new
 * row copies the last one's line and unit choices, with its fields emptied and
 * renumbered. A refused filing's error summary takes the focus; a preview does. */
(function () {
  "use strict";
  // After a refused filing, start keyboard and screen-reader users at the list of
  // problems: once loaded, as scrolling to the form's #fragment moves the focus.
  // After a preview, at the preview (round 51): the form's #fragment left them at
  // its first row, every row's fields to tab through before the figures and the
  // attestation below them, and a screen reader told nothing of the preview.
  var summary = document.querySelector(".error-summary") || document.querySelector("section.preview");
  if (summary) {
    window.addEventListener("load", function () {
      window.setTimeout(function () { summary.focus(); }, 0);
    });
  }

  var table = document.querySelector("table.rows-form");
  if (!table) { return; }

  // Under each row's line select, the chosen line's product whole (round 62): the
  // select cuts a long name to its width. Kept to the choice as it changes, by mouse
  // or by the arrow keys.
  var names = JSON.parse(table.dataset.lineNames || "{}");  // each line's product, by its number
  function showChosen(select) {
    var shown = select.parentNode.querySelector("[data-line-chosen]");
    if (!shown) { return; }
    shown.textContent = "";
    if (!Object.prototype.hasOwnProperty.call(names, select.value)) { return; }
    var name = document.createElement("bdi");
    name.textContent = names[select.value];
    shown.append("Line " + select.value + ": ", name);
  }
  table.addEventListener("change", function (event) {
    if (event.target.matches("select[name$='-line']")) { showChosen(event.target); }
  });
  table.addEventListener("input", function (event) {
    if (event.target.matches("select[name$='-line']")) { showChosen(event.target); }
  });

  var button = document.querySelector("button[data-add-rows]");
  if (!button) { return; }
  var body = table.tBodies[0];
  var max = parseInt(table.dataset.maxRows || "100", 10);

  function renumber(row, number) {
    row.querySelector("th").textContent = String(number);
    row.querySelectorAll("input, select").forEach(function (field) {
      var column = field.name.replace(/^rows-\d+-/, "");
      field.name = field.id = "rows-" + number + "-" + column;
      var label = field.getAttribute("aria-label") || "";
      field.setAttribute("aria-label", label.replace(/^Row \d+/, "Row " + number));
      field.removeAttribute("aria-invalid");
      field.removeAttribute("aria-describedby");
      if (field.tagName === "INPUT") { field.value = ""; }
    });
    // Each cell's own label (shown on a narrow screen) follows its field.
    row.querySelectorAll("label[for]").forEach(function (label) {
      label.htmlFor = label.htmlFor.replace(/^rows-\d+-/, "rows-" + number + "-");
    });
    row.querySelectorAll("td").forEach(function (cell) { cell.classList.remove("has-error"); });
    row.querySelectorAll(".error").forEach(function (message) { message.remove(); });
    row.querySelectorAll("select[name$='-line']").forEach(showChosen);
  }

  button.addEventListener("click", function (event) {
    var last = body.rows[body.rows.length - 1];
    if (!last || body.rows.length >= max) { return; }  // the server explains the limit
    event.preventDefault();
    var row = last.cloneNode(true);
    renumber(row, body.rows.length + 1);
    body.appendChild(row);
    var first = row.querySelector("input");
    if (first) { first.focus(); }
  });
})();

// Each use's count inputs (round 67, vendor67): the estimator and the application form
// drew all five (copies, end users, languages, members, users) for every use, and the
// refusal named the one its rule counts only after a try. The form says which units
// each use's pricing asks for, from the published rate cards' rules:
//
//   <form data-units-by-use='{"distribution": ["copies", "end_users", "members"], ...}'>
//
// Without JavaScript every input shows, its label naming the uses it is asked for. With
// it, a use's inputs its pricing does not ask for are hidden, and come back when the use
// changes. An input holding a value stays shown, marked as not priced for the use, so
// nothing typed is sent (or dropped) unseen. A polite live line under each use's inputs
// says which are asked for, so a screen reader hears the change.
(function () {
  "use strict";

  var USE = /^uses-(\d+)-use$/;

  function words(unit) {
    return unit.replace(/_/g, " ");
  }

  function list(items) {
    if (items.length < 2) {
      return items.join("");
    }
    return items.slice(0, -1).join(", ") + " and " + items[items.length - 1];
  }

  function guide(form, select, byUse) {
    var prefix = "uses-" + USE.exec(select.name)[1] + "-quantity-";
    var inputs = Array.prototype.filter.call(form.querySelectorAll("input"), function (input) {
      return input.name.indexOf(prefix) === 0;
    });
    if (!inputs.length) {
      return;
    }
    var row = inputs[0].closest(".form-row") || inputs[0].parentNode;
    var status = document.createElement("p");
    status.className = "hint quantity-status";
    status.setAttribute("aria-live", "polite");
    row.parentNode.insertBefore(status, row);

    function apply(announce) {
      var asked = byUse[select.value] || [];
      var shown = [];
      inputs.forEach(function (input) {
        var unit = input.name.slice(prefix.length);
        var field = input.closest(".field") || input.parentNode;
        var wanted = asked.indexOf(unit) !== -1;
        var typed = input.value.trim() !== "";
        var note = field.querySelector(".not-priced");
        field.hidden = !wanted && !typed;
        if (!wanted && typed) {
          if (!note) {
            note = document.createElement("p");
            note.className = "hint not-priced";
            note.id = input.id + "-not-priced";
            field.insertBefore(note, input);
            var described = input.getAttribute("aria-describedby");
            input.setAttribute("aria-describedby", (described ? described + " " : "") + note.id);
          }
          note.textContent = "Not priced for this use: clear it, or it is sent as typed.";
        } else if (note) {
          note.textContent = "";
        }
        if (wanted) {
          shown.push(words(unit));
        }
      });
      var said = shown.length
        ? "This use is priced by the number of " + list(shown) + "."
        : "This use's price counts no quantity.";
      if (announce || status.textContent === "") {
        status.textContent = said;
      }
    }

    select.addEventListener("change", function () {
      apply(true);
    });
    apply(false);
  }

  Array.prototype.forEach.call(document.querySelectorAll("form[data-units-by-use]"), function (form) {
    var byUse;
    try {
      byUse = JSON.parse(form.getAttribute("data-units-by-use"));
    } catch (error) {
      return;  // every input stays shown, as without JavaScript
    }
    Array.prototype.forEach.call(form.querySelectorAll("select"), function (select) {
      if (USE.test(select.name)) {
        guide(form, select, byUse);
      }
    });
  });
})();

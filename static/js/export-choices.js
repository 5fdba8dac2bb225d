// The Exports page offers each dataset only its own date bases and states, and
// disables the fields it does not filter by (round 44).
//
//   <select id="dataset"> <option value="payments" data-date-bases="issued paid ..."
//                                 data-states="succeeded ..."
//                                 data-not-taken-use="The Payments export does not filter by Use (...)."> ...
//   <select id="by" data-filter="by" data-choices-of="date-bases">
//   <select id="state" data-filter="state" data-choices-of="states">
//   <select id="use" data-filter="use">   <input id="as_of" data-filter="as_of">
//
// When a dataset is chosen, each select marked `data-choices-of` keeps its first
// option ("Any", "The dataset's usual date") and only the values the dataset's option
// lists; a choice the dataset does not take goes back to that first option, and a
// note beside the field says so. A field marked `data-filter` that the dataset does
// not take at all (its option carries `data-not-taken-FIELD`, the server's refusal in
// its words) is emptied and disabled, and the note beside it (which the field's
// aria-describedby names) says why: a disabled field is still read by a screen
// reader, with its reason, where a hidden one would be gone without a word; and a
// disabled field is not sent. With no dataset chosen, every value is offered.
// Progressive enhancement: without this script the page offers every value and every
// field, and the server refuses a wrong pick beside the field, naming the values or
// the fields the dataset takes.
// No inline script: the pages' Content-Security-Policy allows scripts from this site.
(function () {
  "use strict";

  function setUp(datasets) {
    var form = datasets.form;
    if (!form) {
      return;
    }
    var fields = Array.prototype.slice.call(form.querySelectorAll("select[data-choices-of]"));
    var all = fields.map(function (field) {
      return Array.prototype.slice.call(field.options, 1);
    });

    function offer(announce) {
      var chosen = datasets.options[datasets.selectedIndex];
      var title = chosen && chosen.value ? chosen.text : "";
      fields.forEach(function (field, index) {
        var kept = field.value;
        var listed = chosen && chosen.value
          ? (chosen.getAttribute("data-" + field.getAttribute("data-choices-of")) || "").split(" ")
          : null;
        while (field.options.length > 1) {
          field.remove(1);
        }
        all[index].forEach(function (option) {
          if (listed === null || listed.indexOf(option.value) !== -1) {
            field.add(option);
          }
        });
        field.value = kept;
        var note = document.getElementById(field.id + "-offered");
        if (field.value !== kept) {
          field.selectedIndex = 0;
          if (note && announce) {
            note.textContent = title + " does not take " + optionText(all[index], kept) +
              ": " + field.options[0].text + " is chosen instead.";
          }
        } else if (note && announce) {
          note.textContent = "";
        }
      });
    }

    function optionText(options, value) {
      var found = options.filter(function (option) { return option.value === value; })[0];
      return found ? found.text : value;
    }

    var marked = Array.prototype.slice.call(form.querySelectorAll("[data-filter]"));

    // Each field the chosen dataset does not take: emptied, disabled, and the note
    // beside it says why; the others enabled again. On a page shown again with a
    // refusal (`loading`), a field with the server's message beside it keeps its pick.
    function disableNotTaken(loading) {
      var chosen = datasets.options[datasets.selectedIndex];
      marked.forEach(function (field) {
        var note = document.getElementById(field.id + "-offered");
        var mark = "data-not-taken-" + field.getAttribute("data-filter").replace(/_/g, "-");
        var why = chosen && chosen.value ? chosen.getAttribute(mark) : null;
        if (why !== null) {
          if (loading && field.closest(".has-error")) {
            return;
          }
          if (field.tagName === "SELECT") {
            field.selectedIndex = 0;
          } else {
            field.value = "";
          }
          field.disabled = true;
          describedBy(field, note, true);
          if (note) {
            note.textContent = why;
          }
        } else if (field.disabled) {
          field.disabled = false;
          describedBy(field, note, false);
          if (note) {
            note.textContent = "";
          }
        }
      });
    }

    function describedBy(field, note, on) {
      if (!note) {
        return;
      }
      var ids = (field.getAttribute("aria-describedby") || "").split(" ").filter(function (id) {
        return id && id !== note.id;
      });
      if (on) {
        ids.push(note.id);
      }
      if (ids.length) {
        field.setAttribute("aria-describedby", ids.join(" "));
      } else {
        field.removeAttribute("aria-describedby");
      }
    }

    datasets.addEventListener("change", function () {
      offer(true);
      disableNotTaken(false);
    });
    // A page shown again with a refusal keeps what was picked: the server's message
    // beside the field says why, so the choices are narrowed without a note.
    if (!form.querySelector(".has-error select[data-choices-of]")) {
      offer(false);
    }
    disableNotTaken(true);
  }

  document.querySelectorAll("select[data-choices-for]").forEach(setUp);
})();

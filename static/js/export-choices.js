// The Exports page offers each dataset only its own date bases and states.
//
//   <select id="dataset"> <option value="payments" data-date-bases="issued paid ..."
//                                 data-states="succeeded ..."> ...
//   <select id="by" data-choices-of="date-bases"> <select id="state" data-choices-of="states">
//
// When a dataset is chosen, each select marked `data-choices-of` keeps its first
// option ("Any", "The dataset's usual date") and only the values the dataset's option
// lists; a choice the dataset does not take goes back to that first option, and a
// note beside the field says so. With no dataset chosen, every value is offered.
// Progressive enhancement: without this script the page offers every value and the
// server refuses a wrong pick beside the field, naming the values the dataset takes.
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

    datasets.addEventListener("change", function () { offer(true); });
    // A page shown again with a refusal keeps what was picked: the server's message
    // beside the field says why, so the choices are narrowed without a note.
    if (!form.querySelector(".has-error select[data-choices-of]")) {
      offer(false);
    }
  }

  document.querySelectorAll("select[data-choices-for]").forEach(setUp);
})();

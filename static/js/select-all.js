// A "select all" box for a list of checkboxes, for pages that work without it.
//
//   <input type="checkbox" data-select-all="request_ids" aria-label="..." hidden>
//
// selects or clears every checkbox named `request_ids` in the same form, and shows
// itself checked, clear or mixed as the row boxes change. It has no name, so it is
// never submitted, and stays hidden when scripts do not run. No inline script: the
// pages' Content-Security-Policy allows scripts from this site only.
(function () {
  "use strict";

  function setUp(master) {
    var form = master.form;
    var name = master.getAttribute("data-select-all");
    if (!form || !name) {
      return;
    }
    function boxes() {
      return Array.prototype.filter.call(form.elements, function (element) {
        return element.type === "checkbox" && element.name === name;
      });
    }
    function reflect() {
      var all = boxes();
      var checked = all.filter(function (box) { return box.checked; }).length;
      master.checked = all.length > 0 && checked === all.length;
      master.indeterminate = checked > 0 && checked < all.length;
    }
    master.addEventListener("change", function () {
      boxes().forEach(function (box) { box.checked = master.checked; });
      master.indeterminate = false;
    });
    form.addEventListener("change", function (event) {
      if (event.target.name === name) {
        reflect();
      }
    });
    master.hidden = boxes().length === 0;
    reflect();
  }

  document.querySelectorAll("input[type=checkbox][data-select-all]").forEach(setUp);
})();

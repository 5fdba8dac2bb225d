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
//
// Round 68 (noticed68): by use alone, distribution of a SaaS product showed copies and
// members beside end users, though the rule that prices it counts end users only. The
// form also carries each card's rules in order (`data-unit-rules`: each rule's `when`
// and the inputs it asks for), and the inputs shown are those of the rule the row's
// use, product type and user type (and the organization type, where the form asks it)
// match first, as the pricing contract chooses it, over every published card. An axis
// not chosen yet counts every value it could take. Without the rules, by use, as before.
(function () {
  "use strict";

  var USE = /^uses-(\d+)-use$/;
  var AXES = ["use", "product_type", "user_type", "organization_type"];
  // A value no rule names: every such value matches the same rules.
  var OTHER = "\u0000";

  function firstMatch(rules, given) {
    for (var i = 0; i < rules.length; i += 1) {
      var when = rules[i].when || {};
      var matches = AXES.every(function (axis) {
        return !when[axis] || when[axis].indexOf(given[axis]) !== -1;
      });
      if (matches) {
        return rules[i];
      }
    }
    return null;
  }

  // The inputs the first matching rule asks for, over each card and every value an
  // axis not chosen yet (an empty value) could take.
  function askedByRules(cards, chosen) {
    var found = [];
    cards.forEach(function (rules) {
      var choices = AXES.map(function (axis) {
        if (chosen[axis]) {
          return [chosen[axis]];
        }
        var values = [OTHER];
        rules.forEach(function (rule) {
          ((rule.when || {})[axis] || []).forEach(function (value) {
            if (values.indexOf(value) === -1) {
              values.push(value);
            }
          });
        });
        return values;
      });
      (function walk(depth, given) {
        if (depth === AXES.length) {
          var rule = firstMatch(rules, given);
          (rule ? rule.units : []).forEach(function (unit) {
            if (found.indexOf(unit) === -1) {
              found.push(unit);
            }
          });
          return;
        }
        choices[depth].forEach(function (value) {
          given[AXES[depth]] = value;
          walk(depth + 1, given);
        });
      })(0, {});
    });
    return found;
  }

  function words(unit) {
    return unit.replace(/_/g, " ");
  }

  function list(items) {
    if (items.length < 2) {
      return items.join("");
    }
    return items.slice(0, -1).join(", ") + " and " + items[items.length - 1];
  }

  function guide(form, select, byUse, cards) {
    var row = "uses-" + USE.exec(select.name)[1] + "-";
    var prefix = row + "quantity-";
    var inputs = Array.prototype.filter.call(form.querySelectorAll("input"), function (input) {
      return input.name.indexOf(prefix) === 0;
    });
    if (!inputs.length) {
      return;
    }
    var counts = inputs[0].closest(".form-row") || inputs[0].parentNode;
    var status = document.createElement("p");
    status.className = "hint quantity-status";
    status.setAttribute("aria-live", "polite");
    counts.parentNode.insertBefore(status, counts);
    // The row's other axes, and the form's organization type where it asks for one.
    var axes = {
      use: select,
      product_type: form.querySelector("[name='" + row + "product_type']"),
      user_type: form.querySelector("[name='" + row + "user_type']"),
      organization_type: form.querySelector("select[name='organization_type']")
    };

    function askedFor() {
      if (!cards) {
        return byUse[select.value] || [];
      }
      var chosen = {};
      AXES.forEach(function (axis) {
        chosen[axis] = axes[axis] ? axes[axis].value : "";
      });
      return askedByRules(cards, chosen);
    }

    function apply(announce) {
      var asked = askedFor();
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
          note.textContent = cards
            ? "Not priced for this use, product and user type: clear it, or it is sent as typed."
            : "Not priced for this use: clear it, or it is sent as typed.";
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

    AXES.forEach(function (axis) {
      if (axes[axis]) {
        axes[axis].addEventListener("change", function () {
          apply(true);
        });
      }
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
    var cards = null;
    try {
      cards = JSON.parse(form.getAttribute("data-unit-rules") || "null");
    } catch (error) {
      cards = null;  // by use alone, as before the rules were carried
    }
    Array.prototype.forEach.call(form.querySelectorAll("select"), function (select) {
      if (USE.test(select.name)) {
        guide(form, select, byUse, Array.isArray(cards) ? cards : null);
      }
    });
  });
})();

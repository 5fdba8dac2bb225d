// The approval form's sentence on a term already under way or over (round 50):
// staff may change the term on that form, so the sentence follows the dates being
// approved, in the words of `issuing.StartedTerm.for_staff` (the page renders the
// submitted term's, and a refused form's re-render the term it asked for), its days
// in words (round 59).
//
//   <p id="term-started" data-today="2028-01-04" data-reporting="true" hidden>
//
// `data-today` is the office's day, `data-reporting` whether the license reports
// quarterly (a line priced by usage). Dates are compared as ISO strings.
(function () {
  "use strict";

  var told = document.getElementById("term-started");
  var start = document.getElementById("term_start");
  var end = document.getElementById("term_end");
  if (!told || !start || !end) {
    return;
  }
  var today = told.getAttribute("data-today");
  var reporting = told.getAttribute("data-reporting") === "true";
  var DAY = /^\d{4}-\d{2}-\d{2}$/;
  var MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December"];

  // A YYYY-MM-DD day in words, as `calendar.day_text` says it ("January 31, 2027"):
  // round 59, the sentence said the form's ISO days.
  function words(day) {
    return MONTHS[Number(day.slice(5, 7)) - 1] + " " + Number(day.slice(8, 10)) + ", " +
      Number(day.slice(0, 4));
  }

  // The day as YYYY-MM-DD, or "" past 9999-12-31 (ISO strings of later years are
  // "+010000-...", which sort before "9999-..."). setUTCFullYear, not Date.UTC, which
  // reads the years 0 to 99 as 1900 to 1999.
  function iso(year, month, day) {
    var moment = new Date(0);
    moment.setUTCFullYear(year, month - 1, day);
    var text = moment.toISOString().slice(0, 10);
    return DAY.test(text) ? text : "";
  }

  // The term's quarters, [first, last] each, as `issuing._quarters`. Round 51: a term
  // ending in 9999's last quarter looped for ever (the next quarter's "+010000-01-01"
  // sorted before the end), freezing the tab and growing without bound.
  function quarters(first, last) {
    var periods = [];
    var cursor = first;
    while (cursor <= last) {
      var year = Number(cursor.slice(0, 4));
      var month = Number(cursor.slice(5, 7));
      var quarterEnd = Math.ceil(month / 3) * 3;
      var next = quarterEnd === 12 ? iso(year + 1, 1, 1) : iso(year, quarterEnd + 1, 1);
      if (!next || next <= cursor) {
        periods.push([cursor, last]);
        break;
      }
      var before = new Date(Date.parse(next) - 86400000).toISOString().slice(0, 10);
      periods.push([cursor, before < last ? before : last]);
      cursor = next;
    }
    return periods;
  }

  function sentence(first, last) {
    if (first >= today) {
      // Starting today licenses nothing before it (round 54), as the server says.
      return "";
    }
    var over = last < today;
    var ended = reporting
      ? quarters(first, last).filter(function (period) { return period[1] < today; })
      : [];
    var text = over
      ? "The term ended on " + words(last) + ", before today: approving it licenses past use " +
        "only, and the agreement is expired as soon as the licensee accepts it."
      : "The term began on " + words(first) + ", before today: approving it licenses that " +
        "time retroactively.";
    if (ended.length) {
      var count = ended.length;
      var plural = count > 1 ? "s" : "";
      var span = words(ended[0][0]) + " to " + words(ended[count - 1][1]);
      text += over
        ? " The royalty reports of all " + count + " period" + plural + " (" + span +
          ") are reportable at once: they can be filed as soon as"
        : " The royalty reports of the " + count + " period" + plural +
          " already ended (" + span + ") can be filed as soon as";
      text += " the licensee accepts, their royalties invoiced with them.";
    }
    return text;
  }

  function follow() {
    // A date half typed, or a term running backwards, is the server's to refuse:
    // the sentence stays as it was until the term reads.
    if (!DAY.test(start.value) || !DAY.test(end.value) || end.value < start.value) {
      return;
    }
    var text = sentence(start.value, end.value);
    told.textContent = text;
    told.hidden = text === "";
  }

  start.addEventListener("input", follow);
  end.addEventListener("input", follow);
  start.addEventListener("change", follow);
  end.addEventListener("change", follow);
})();

// The application form's Rate card option naming no card (round 66, currency66; round 67,
// staff67: the public estimator's too, `data-what="estimate"`): where
// cards in several currencies are published, the page says which currency's card "The
// card in effect on the start date" means for the start date it shows (the option's
// label and the field's hint, `views.in_effect_words`); this says it again for the start
// date typed, in the same words. Without it the page still says it for the date shown.
//
//   <select id="rate_card" data-cards='[{"version", "currency", "from", "to"}, ...]'
//           data-currency="JPY" data-why="the currency of your agreements">
//
// `data-cards` lists every published card in the order the card in effect is chosen by
// (the latest start, then the one published last): of those holding a day, the last
// wins. `data-currency` is the currency the application is priced in where it is known
// (empty: the contract's rule, the card in effect whatever its currency). The hint is a
// polite live region: a screen reader hears the new words once the date is changed.
(function () {
  "use strict";

  var select = document.getElementById("rate_card");
  var option = document.getElementById("rate_card-in-effect");
  var hint = document.getElementById("rate_card-hint");
  var start = document.getElementById("term_start");
  if (!select || !option || !hint || !start || !select.hasAttribute("data-cards")) {
    return;
  }
  var cards = JSON.parse(select.getAttribute("data-cards"));
  var currency = select.getAttribute("data-currency") || null;
  var why = select.getAttribute("data-why") || "";
  // Round 67: what the page prices, "application" or the public estimator's "estimate".
  var what = select.getAttribute("data-what") || "application";
  var DAY = /^\d{4}-\d{2}-\d{2}$/;
  var MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December"];

  // A YYYY-MM-DD day in words, as `calendar.day_text` says it ("January 1, 2028").
  function words(day) {
    return MONTHS[Number(day.slice(5, 7)) - 1] + " " + Number(day.slice(8, 10)) + ", " +
      Number(day.slice(0, 4));
  }

  // The card in effect on `day` (in `inCurrency`, or any): the last in the list holding it.
  function inEffect(day, inCurrency) {
    var found = null;
    cards.forEach(function (card) {
      if (card.from <= day && day <= card.to && (!inCurrency || card.currency === inCurrency)) {
        found = card;
      }
    });
    return found;
  }

  // `Catalogue.others_in_effect`: in each other currency, its card in effect, by currency.
  function others(day, chosen) {
    var currencies = [];
    cards.forEach(function (card) {
      if (card.from <= day && day <= card.to && card.currency !== chosen.currency &&
          currencies.indexOf(card.currency) < 0) {
        currencies.push(card.currency);
      }
    });
    return currencies.sort().map(function (other) {
      var card = inEffect(day, other);
      return card.version + " (" + card.currency + ")";
    });
  }

  // [label, hint], as `views.in_effect_words` says them.
  function said(day) {
    var label, text, found, when;
    if (currency) {
      label = "The card in effect on the start date, in " + currency;
      text = "Naming no card, this " + what + " is priced in " + currency + ", " + why;
      if (!day) {
        return [label, text + ": on the card in effect in " + currency + " on the start date."];
      }
      found = inEffect(day, currency);
      when = words(day);
      if (!found) {
        return [label + " (none yet for " + when + ")",
                text + ": no rate card in " + currency + " is in effect on " + when + " yet."];
      }
      return [label + " (" + found.version + " for " + when + ")",
              text + ": on " + when + ", rate card " + found.version + " is in effect in " +
              currency + "."];
    }
    label = "The card in effect on the start date, in any currency the one published last";
    text = "Naming no card, this " + what + " is priced on the card in effect on the start " +
      "date published last, whatever its currency";
    if (!day) {
      return [label, text + ": choose a card to be priced in its currency."];
    }
    found = inEffect(day, null);
    when = words(day);
    if (!found) {
      return [label + " (none for " + when + ")",
              text + ": no rate card is in effect on " + when + "."];
    }
    var also = others(day, found);
    return [label + " (" + found.version + ", in " + found.currency + ", for " + when + ")",
            text + ": on " + when + ", rate card " + found.version + ", in " + found.currency +
            "." + (also.length ? " " + also.join(" and ") + (also.length === 1 ? " is" : " are") +
            " in effect too: choose " + (also.length === 1 ? "it" : "one") +
            " to be priced in its currency." : "")];
  }

  function update() {
    var day = DAY.test(start.value) ? start.value : null;
    var now = said(day);
    if (option.textContent !== now[0]) {
      option.textContent = now[0];
    }
    if (hint.textContent !== now[1]) {
      hint.textContent = now[1];
    }
  }

  start.addEventListener("change", update);
  start.addEventListener("input", update);
})();

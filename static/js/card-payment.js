/* Pay an invoice by card: Stripe.js tokenizes the card in the page (the number
 * never reaches our server), the server charges the balance due with a
 * PaymentIntent, and confirmCardPayment completes any authentication the bank
 * asks for. The invoice is marked paid when Stripe's webhook confirms it. */
(function () {
  "use strict";
  var form = document.getElementById("card-form");
  if (!form || typeof Stripe === "undefined") { return; }
  var stripe = Stripe(form.dataset.publishableKey);
  var card = stripe.elements().create("card");
  card.mount("#card-element");
  var errors = document.getElementById("card-errors");
  var button = document.getElementById("pay-button");

  function fail(message) {
    errors.textContent = message || "The payment did not go through; try again.";
    button.disabled = false;
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    button.disabled = true;
    errors.textContent = "";
    var tokenized = await stripe.createToken(card);
    if (tokenized.error || !tokenized.token) {
      return fail(tokenized.error && tokenized.error.message);
    }
    var response = await fetch(form.dataset.paymentUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": form.dataset.csrfToken},
      body: JSON.stringify({token: tokenized.token.id})
    });
    var body = await response.json().catch(function () { return {}; });
    if (!response.ok) { return fail(body.error); }
    if (body.status === "requires_action") {
      var confirmed = await stripe.confirmCardPayment(body.client_secret);
      if (confirmed.error) { return fail(confirmed.error.message); }
    } else if (body.status !== "succeeded" && body.status !== "processing") {
      return fail(body.message);
    }
    window.location.assign(body.redirect);
  });
})();

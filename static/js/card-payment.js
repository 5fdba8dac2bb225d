/* Pay an invoice by card: Stripe.js tokenizes the card in the page (the number
 * never reaches our server), the server charges the balance due with a
 * PaymentIntent, and confirmCardPayment completes any authentication the bank
 * asks for. The invoice is marked paid when Stripe's webhook confirms it, so
 * the page then asks the attempt's status every few seconds (for a couple of
 * minutes at most) and shows "Paid", "Declined" or "Still processing". */
(function () {
  "use strict";
  var POLL_EVERY_MS = 3000;
  var POLL_FOR_MS = 2 * 60 * 1000;
  var SETTLED = {paid: true, declined: true, review: true, closed: true};

  var form = document.getElementById("card-form");
  if (!form || typeof Stripe === "undefined") { return; }
  var stripe = Stripe(form.dataset.publishableKey);
  var card = stripe.elements().create("card");
  card.mount("#card-element");
  var errors = document.getElementById("card-errors");
  var button = document.getElementById("pay-button");
  var panel = document.getElementById("payment-status");

  function fail(message) {
    errors.textContent = message || "The payment did not go through; try again.";
    button.disabled = false;
  }

  function show(title, message, invoiceUrl) {
    document.getElementById("payment-status-title").textContent = title;
    document.getElementById("payment-status-message").textContent = message || "";
    if (invoiceUrl) { document.getElementById("payment-status-link").href = invoiceUrl; }
    panel.hidden = false;
  }

  async function askStatus(url) {
    try {
      var response = await fetch(url, {credentials: "same-origin", cache: "no-store"});
      return response.ok ? await response.json() : null;
    } catch (error) {
      return null;  // a network blip: the next poll tries again
    }
  }

  async function follow(url) {
    form.hidden = true;
    show("Still processing", "Waiting for Stripe to confirm the payment…");
    var stopAt = Date.now() + POLL_FOR_MS;
    while (true) {
      var status = await askStatus(url);
      if (status) { show(status.title, status.message, status.invoice_url); }
      if (status && SETTLED[status.outcome]) { return; }
      if (Date.now() >= stopAt) {
        show("Still processing",
             "Stripe has not confirmed the payment yet; the invoice shows it once it does.");
        return;
      }
      await new Promise(function (resolve) { setTimeout(resolve, POLL_EVERY_MS); });
    }
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
    if (body.status_url) { return follow(body.status_url); }
    window.location.assign(body.redirect);
  });
})();

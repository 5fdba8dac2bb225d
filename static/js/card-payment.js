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
  // Asked of every request: a refusal then comes as JSON this script reads (the
  // set-up of two-step sign-in, required meanwhile, answers 403 with its address).
  var JSON_PLEASE = {"Accept": "application/json"};
  var TWO_STEP_DUE = "two_step_required";

  var form = document.getElementById("card-form");
  if (!form) { return; }
  // The page may say how often to ask (the tests' live server: a quarter second).
  POLL_EVERY_MS = Number(form.dataset.pollEveryMs) || POLL_EVERY_MS;
  var errors = document.getElementById("card-errors");
  var button = document.getElementById("pay-button");
  var progress = document.getElementById("card-progress");
  var panel = document.getElementById("payment-status");
  var payLabel = button.textContent;
  var paying = false;

  if (typeof Stripe === "undefined") {
    // Stripe.js did not load (blocked or offline): say so rather than offer a
    // button that would only reload the page.
    errors.textContent = "The card form could not be loaded. Reload the page to try again, " +
      "or pay by wire transfer, ACH or check as the invoice says.";
    button.remove();
    return;
  }
  var stripe = Stripe(form.dataset.publishableKey);
  var card = stripe.elements().create("card");
  card.mount("#card-element");

  // While paying, the button keeps the focus (aria-disabled: `disabled` would drop
  // it to the page) and says what is happening; a second press does nothing.
  function busy(on) {
    paying = on;
    button.textContent = on ? button.dataset.paying : payLabel;
    if (on) { button.setAttribute("aria-disabled", "true"); } else { button.removeAttribute("aria-disabled"); }
    form.setAttribute("aria-busy", on ? "true" : "false");
    progress.textContent = on ? "Sending the payment to Stripe; this can take a few seconds." : "";
  }

  // A refusal (a declined card, a mistyped number) is read out (role=alert) and
  // takes the focus, so a keyboard user is where the message is; the card
  // fields are one Shift+Tab back.
  function fail(message) {
    busy(false);
    errors.textContent = message || "The payment did not go through; try again.";
    errors.focus();
  }

  function show(title, message, invoiceUrl, twoStepUrl) {
    document.getElementById("payment-status-title").textContent = title;
    document.getElementById("payment-status-message").textContent = message || "";
    if (invoiceUrl) { document.getElementById("payment-status-link").href = invoiceUrl; }
    var twoStep = document.getElementById("payment-status-two-step");
    if (twoStepUrl) { twoStep.querySelector("a").href = twoStepUrl; }
    twoStep.hidden = !twoStepUrl;
    panel.hidden = false;
  }

  // The payment went to Stripe; only its outcome cannot be read until the
  // account has two-step sign-in, which its organization now requires.
  function twoStepDue(answer) {
    return {
      outcome: TWO_STEP_DUE,
      title: "Set up two-step sign-in to see the outcome",
      message: "Your organization now requires two-step sign-in. The payment was sent " +
        "to Stripe; once you have set it up, the invoice shows whether it went through.",
      two_step_url: answer.two_step_url
    };
  }

  async function askStatus(url) {
    try {
      var response = await fetch(url, {credentials: "same-origin", cache: "no-store", headers: JSON_PLEASE});
      var answer = await response.json().catch(function () { return null; });
      if (response.status === 403 && answer && answer.outcome === TWO_STEP_DUE) {
        return twoStepDue(answer);
      }
      return response.ok ? answer : null;
    } catch (error) {
      return null;  // a network blip: the next poll tries again
    }
  }

  async function follow(url) {
    busy(false);
    form.hidden = true;
    show("Still processing", "Waiting for Stripe to confirm the payment…");
    // The form (and the button that had the focus) is gone: the focus goes to the
    // outcome's heading, and the panel's later changes are read as they come.
    document.getElementById("payment-status-title").focus();
    var stopAt = Date.now() + POLL_FOR_MS;
    while (true) {
      var status = await askStatus(url);
      if (status) { show(status.title, status.message, status.invoice_url, status.two_step_url); }
      if (status && (SETTLED[status.outcome] || status.outcome === TWO_STEP_DUE)) { return; }
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
    if (paying) { return; }
    busy(true);
    errors.textContent = "";
    var tokenized = await stripe.createToken(card);
    if (tokenized.error || !tokenized.token) {
      return fail(tokenized.error && tokenized.error.message);
    }
    var response;
    try {
      response = await fetch(form.dataset.paymentUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: {"Content-Type": "application/json", "Accept": "application/json",
                  "X-CSRFToken": form.dataset.csrfToken},
        body: JSON.stringify({token: tokenized.token.id})
      });
    } catch (error) {
      return fail("The payment could not be sent: check the connection and try again.");
    }
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

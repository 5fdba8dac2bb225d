// Passkeys (round 44): adding one on the two-step page, signing in with one.
//
//   <div data-passkey-section hidden> ... <form data-passkey="add|sign-in"
//        data-options-url="..."> <input name="credential" type="hidden"> ...
//
// Where the browser has WebAuthn the section shows itself. Pressing the form's
// button asks the service for the options (POST, with the page's CSRF token),
// hands them to navigator.credentials (create for "add", get for "sign-in"), puts
// the browser's answer, as JSON, in the hidden `credential` field and submits the
// form: the service checks it and answers with a page, as every form does. A
// cancelled prompt says so beside the button and sends nothing. No inline script:
// the pages' Content-Security-Policy allows scripts from this site only.
(function () {
  "use strict";

  var supported = Boolean(window.PublicKeyCredential && navigator.credentials);

  function fromBase64url(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) {
      base64 += "=";
    }
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i += 1) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i += 1) {
      binary += String.fromCharCode(bytes[i]);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withIds(list) {
    return (list || []).map(function (descriptor) {
      return Object.assign({}, descriptor, {id: fromBase64url(descriptor.id)});
    });
  }

  function creationOptions(json) {
    var options = Object.assign({}, json);
    options.challenge = fromBase64url(json.challenge);
    options.user = Object.assign({}, json.user, {id: fromBase64url(json.user.id)});
    options.excludeCredentials = withIds(json.excludeCredentials);
    return options;
  }

  function requestOptions(json) {
    var options = Object.assign({}, json);
    options.challenge = fromBase64url(json.challenge);
    options.allowCredentials = withIds(json.allowCredentials);
    return options;
  }

  function common(credential) {
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || undefined
    };
  }

  function registrationJSON(credential) {
    var answer = common(credential);
    var response = credential.response;
    answer.response = {
      clientDataJSON: toBase64url(response.clientDataJSON),
      attestationObject: toBase64url(response.attestationObject),
      transports: response.getTransports ? response.getTransports() : []
    };
    return answer;
  }

  function authenticationJSON(credential) {
    var answer = common(credential);
    var response = credential.response;
    answer.response = {
      clientDataJSON: toBase64url(response.clientDataJSON),
      authenticatorData: toBase64url(response.authenticatorData),
      signature: toBase64url(response.signature),
      userHandle: response.userHandle ? toBase64url(response.userHandle) : undefined
    };
    return answer;
  }

  function say(form, text) {
    var out = form.querySelector("[data-passkey-message]");
    if (out) {
      out.textContent = text;
      out.hidden = !text;
    }
  }

  async function options(form) {
    var token = form.elements.namedItem("csrf_token");
    var response = await fetch(form.getAttribute("data-options-url"), {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      headers: {"X-CSRFToken": token ? token.value : "", "Accept": "application/json"}
    });
    var body = null;
    try {
      body = await response.json();
    } catch (ignored) {
      body = null;
    }
    if (!response.ok || !body) {
      throw new Error((body && body.error) ||
        "The service could not start the passkey step: reload the page and try again.");
    }
    return body;
  }

  function refusal(error) {
    if (error && error.name === "NotAllowedError") {
      return "No passkey was used: the browser's prompt was cancelled or timed out. " +
        "Press the button again to retry.";
    }
    if (error && error.name === "InvalidStateError") {
      return "This device already holds a passkey for your account: it is in the list above.";
    }
    return (error && error.message) || "The passkey step failed: press the button again.";
  }

  function setUp(form) {
    var kind = form.getAttribute("data-passkey");
    var button = form.querySelector("button[type=submit]");
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      say(form, "");
      var name = form.elements.namedItem("name");
      if (kind === "add" && name && !name.value.trim()) {
        form.submit(); // the service says, beside the field, that it needs a name
        return;
      }
      if (button) {
        button.disabled = true;
      }
      try {
        var json = await options(form);
        var answer;
        if (kind === "add") {
          answer = registrationJSON(
            await navigator.credentials.create({publicKey: creationOptions(json)}));
        } else {
          answer = authenticationJSON(
            await navigator.credentials.get({publicKey: requestOptions(json)}));
        }
        form.elements.namedItem("credential").value = JSON.stringify(answer);
        form.submit();
      } catch (error) {
        say(form, refusal(error));
        if (button) {
          button.disabled = false;
        }
      }
    });
  }

  document.querySelectorAll("[data-passkey-section]").forEach(function (section) {
    if (supported) {
      section.hidden = false;
    }
  });
  document.querySelectorAll("[data-passkey-unsupported]").forEach(function (note) {
    note.hidden = supported;
  });
  if (supported) {
    document.querySelectorAll("form[data-passkey]").forEach(setUp);
  }
})();

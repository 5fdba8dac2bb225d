/* Start Swagger UI on the API documentation page (templates/swagger_ui.html).
 * It lives here rather than inline so that the page needs no 'unsafe-inline'
 * in its Content-Security-Policy. validatorUrl is off: the default would load
 * a badge from validator.swagger.io, and nothing leaves the service. The skip
 * link of the page's frame is handled here too. */
(function () {
  "use strict";
  var container = document.getElementById("swagger-ui-container");
  var config = {url: container.dataset.specUrl, dom_id: "#swagger-ui-container", validatorUrl: null};
  var overrides = JSON.parse(container.dataset.config || "{}");
  Object.keys(overrides).forEach(function (name) { config[name] = overrides[name]; });
  window.ui = SwaggerUIBundle(config);

  // The skip link: following "#main" leaves the focus on the link here (Swagger
  // UI follows the address's fragment itself), so it is given to <main> directly.
  var skip = document.querySelector(".skip-link");
  var main = document.getElementById("main");
  if (skip && main) {
    skip.addEventListener("click", function (event) {
      event.preventDefault();
      main.focus();
      main.scrollIntoView();
    });
  }
})();

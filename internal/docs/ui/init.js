// Starts Swagger UI on the spec this server serves. Kept in its own file so that the page's
// Content-Security-Policy needs no inline script.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: document.body.dataset.specUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "BaseLayout",
    validatorUrl: null,
    displayRequestDuration: true,
    showExtensions: true,
    defaultModelsExpandDepth: 0,
  });
});

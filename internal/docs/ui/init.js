// Starts Swagger UI on the spec this server serves. Kept in its own file so that the page's
// Content-Security-Policy needs no inline script.

// Swagger UI fills every parameter with its example when "Try it out" opens. For an optional
// parameter that turns a plain call into a filtered one (the region list's examples select
// "public" regions named like "hz"), page_token's example, an opaque cursor, is always refused
// with 400, and a path id's example names a region or token that does not exist (404). So every
// parameter starts empty: a required one must be filled in before Execute. openapi.yaml keeps
// every example.
function ParametersStartEmpty() {
  return {
    statePlugins: {
      spec: {
        wrapSelectors: {
          parameterWithMetaByIdentity: (original) => (state, ...args) => {
            const param = original(...args);
            if (!param || !param.delete) {
              return param;
            }
            return param.delete("example").delete("examples").deleteIn(["schema", "example"]);
          },
        },
      },
    },
  };
}

window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: document.body.dataset.specUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [ParametersStartEmpty],
    layout: "BaseLayout",
    validatorUrl: null,
    displayRequestDuration: true,
    showExtensions: true,
    defaultModelsExpandDepth: 0,
  });
});

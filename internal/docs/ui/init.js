// Starts Swagger UI on the spec this server serves. Kept in its own file so that the page's
// Content-Security-Policy needs no inline script.

// Swagger UI fills every parameter with its example when "Try it out" opens. For an optional
// parameter that turns a plain call into a filtered one (the region list's examples select
// "public" regions named like "hz"), and page_token's example, an opaque cursor, is always
// refused with 400. So optional parameters start empty; required ones (path ids) keep their
// example as a model to edit. openapi.yaml keeps every example.
function OptionalParametersStartEmpty() {
  return {
    statePlugins: {
      spec: {
        wrapSelectors: {
          parameterWithMetaByIdentity: (original) => (state, ...args) => {
            const param = original(...args);
            if (!param || !param.delete || param.get("required") === true) {
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
    plugins: [OptionalParametersStartEmpty],
    layout: "BaseLayout",
    validatorUrl: null,
    displayRequestDuration: true,
    showExtensions: true,
    defaultModelsExpandDepth: 0,
  });
});

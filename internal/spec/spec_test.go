package spec

import (
	"strings"
	"testing"

	"github.com/regiond/regiond"
)

// TestOpenAPI holds openapi.yaml — the document the server embeds and serves — to what its
// consumers need: every operation documented, secured and scoped, every status the server can
// answer documented, and every example valid.
func TestOpenAPI(t *testing.T) {
	for _, p := range check(regiond.OpenAPI) {
		t.Error(p)
	}
}

// TestOpenAPIBrokenExamples breaks examples of the real document, one at a time, to show that
// TestOpenAPI would catch them there too.
func TestOpenAPIBrokenExamples(t *testing.T) {
	spec := string(regiond.OpenAPI)
	for _, tc := range []struct{ name, old, new, want string }{
		{"a component example used by four responses", "        status: '1'\n        desc: Hangzhou production cluster\n        scope: private\n        ssl_ca_cert: null\n        cert_file: null\n        key_file: null\n  responses:",
			"        status: enabled\n        desc: Hangzhou production cluster\n        scope: private\n        ssl_ca_cert: null\n        cert_file: null\n        key_file: null\n  responses:",
			"GET /openapi/v1/regions/{region_id} response 200 application/json examples.region (#/components/examples/Region): invalid"},
		{"a parameter example", "      example: ['1', '3']", "      example: ['1', '5']", "components.parameters.StatusFilter example: invalid"},
		{"a request example with a misspelt member", "                  region_name: rainbond-sh\n", "                  regoin_name: rainbond-sh\n",
			"POST /openapi/v1/regions request body application/json examples.minimal: invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Count(spec, tc.old) != 1 {
				t.Fatalf("the edit's old text occurs %d times in openapi.yaml, want once", strings.Count(spec, tc.old))
			}
			problems := check([]byte(strings.Replace(spec, tc.old, tc.new, 1)))
			for _, p := range problems {
				if strings.Contains(p, tc.want) {
					return
				}
			}
			t.Errorf("no problem contains %q; problems:\n%s", tc.want, strings.Join(problems, "\n"))
		})
	}
}

// valid is a small document that passes every check; each case of TestCheckFindsProblems breaks
// it in one place, so that the problem found can only come from that one flaw.
const valid = `
openapi: 3.0.3
info:
  title: Things
  version: 1.0.0
tags:
  - name: Things
    description: Things.
  - name: Health
    description: Probes.
security:
  - token: []
paths:
  /things/{id}:
    parameters:
      - $ref: '#/components/parameters/Id'
    put:
      operationId: putThing
      tags: [Things]
      summary: Put a thing
      description: 'Stores a thing. Required scope: ` + "`things:write`" + `.'
      x-required-scopes: [things:write]
      requestBody:
        required: true
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/Thing'
            example:
              name: lamp
              note: null
      responses:
        '200':
          description: The thing.
          headers:
            ETag:
              $ref: '#/components/headers/ETag'
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/Thing'
              examples:
                thing:
                  $ref: '#/components/examples/Thing'
        '400':
          $ref: '#/components/responses/Error'
        '401':
          $ref: '#/components/responses/Error'
        '403':
          $ref: '#/components/responses/Error'
        '404':
          $ref: '#/components/responses/Error'
        '413':
          $ref: '#/components/responses/Error'
        '415':
          $ref: '#/components/responses/Error'
        '429':
          $ref: '#/components/responses/Error'
        '500':
          $ref: '#/components/responses/Error'
        '503':
          $ref: '#/components/responses/Error'
  /healthz:
    get:
      operationId: getHealth
      tags: [Health]
      summary: Liveness probe
      description: Answers while the process is up.
      security: []
      responses:
        '200':
          description: Up.
          content:
            application/json:
              schema:
                type: object
                properties:
                  status:
                    type: string
                    enum: [ok]
              examples:
                ok:
                  summary: Up
                  value:
                    status: ok
components:
  securitySchemes:
    token:
      type: apiKey
      in: header
      name: Authorization
  parameters:
    Id:
      name: id
      in: path
      required: true
      description: The thing's id.
      schema:
        type: string
        maxLength: 8
      example: t1
  headers:
    ETag:
      description: The entity tag.
      schema:
        type: string
      example: '"r1"'
  schemas:
    Thing:
      type: object
      description: A thing.
      additionalProperties: false
      required: [name]
      properties:
        name:
          type: string
          maxLength: 8
          example: lamp
        note:
          type: string
          nullable: true
          example: null
        made_at:
          type: string
          format: date-time
          example: '2026-11-27T08:00:00Z'
      example:
        name: lamp
    Problem:
      type: object
      description: An error.
      required: [status]
      properties:
        status:
          type: integer
          example: 400
      example:
        status: 400
    Note:
      type: string
      nullable: true
      description: A note, or null.
      example: null
  examples:
    Thing:
      summary: A thing
      value:
        name: lamp
        note: null
  responses:
    Error:
      description: An error.
      content:
        application/problem+json:
          schema:
            $ref: '#/components/schemas/Problem'
          example:
            status: 400
`

func TestCheckFindsProblems(t *testing.T) {
	if problems := check([]byte(valid)); len(problems) > 0 {
		t.Fatalf("the valid document has problems:\n%s", strings.Join(problems, "\n"))
	}
	for _, tc := range []struct {
		name     string
		old, new string // the one edit that breaks the valid document
		want     string // a part of the problem it must cause
	}{
		{"schema example of the wrong type", "      example:\n        status: 400\n    Note:", "      example:\n        status: four hundred\n    Note:",
			"components.schemas.Problem example: invalid against its schema"},
		{"property example too long", "          maxLength: 8\n          example: lamp", "          maxLength: 8\n          example: a-very-long-lamp",
			"components.schemas.Thing.properties.name example: invalid against its schema"},
		{"property example not a date-time", "example: '2026-11-27T08:00:00Z'", "example: 'yesterday'",
			"components.schemas.Thing.properties.made_at example: invalid against its schema"},
		{"request example missing a required member", "            example:\n              name: lamp\n              note: null", "            example:\n              note: null",
			"PUT /things/{id} request body application/json example: invalid against its schema"},
		{"request example with an unknown member", "            example:\n              name: lamp\n              note: null", "            example:\n              name: lamp\n              colour: red",
			"PUT /things/{id} request body application/json example: invalid against its schema"},
		{"referenced component example invalid", "      value:\n        name: lamp\n        note: null", "      value:\n        name: 42\n        note: null",
			"examples.thing (#/components/examples/Thing): invalid against its schema"},
		{"null where the schema is not nullable", "      value:\n        name: lamp\n        note: null", "      value:\n        name: null\n        note: null",
			"examples.thing (#/components/examples/Thing): invalid against its schema"},
		{"response example member the schema does not declare", "                  value:\n                    status: ok", "                  value:\n                    status: ok\n                    uptime: 3",
			"GET /healthz response 200 application/json examples.ok: has member uptime, which its schema does not declare"},
		{"response example enum value", "                  value:\n                    status: ok", "                  value:\n                    status: fine",
			"GET /healthz response 200 application/json examples.ok: invalid against its schema"},
		{"error example invalid", "          example:\n            status: 400\n", "          example:\n            status: '400'\n",
			"response 400 application/problem+json example: invalid against its schema"},
		{"parameter example invalid", "      example: t1", "      example: much-too-long-id",
			"components.parameters.Id example: invalid against its schema"},
		{"header example invalid", `      example: '"r1"'`, "      example: 1",
			"components.headers.ETag example: invalid against its schema"},
		{"no summary", "      summary: Put a thing\n", "",
			"PUT /things/{id}: no summary"},
		{"no description", "      description: Answers while the process is up.\n", "",
			"GET /healthz: no description"},
		{"no tags", "      tags: [Things]\n", "",
			"PUT /things/{id}: no tags"},
		{"no x-required-scopes", "      x-required-scopes: [things:write]\n", "",
			"PUT /things/{id}: secured but has no x-required-scopes"},
		{"scope missing from the description", "'Stores a thing. Required scope: `things:write`.'", "Stores a thing.",
			"the description does not name its required scope `things:write`"},
		{"open operation that is not a probe", "      description: 'Stores a thing.", "      security: []\n      description: 'Stores a thing.",
			"PUT /things/{id}: no security requirement"},
		{"no request example", "            example:\n              name: lamp\n              note: null\n", "",
			"PUT /things/{id} request body application/json: no example"},
		{"no response example", "              examples:\n                ok:\n                  summary: Up\n                  value:\n                    status: ok\n", "",
			"GET /healthz response 200 application/json: no example"},
		{"401 not documented", "        '401':\n          $ref: '#/components/responses/Error'\n", "",
			"PUT /things/{id}: does not document 401"},
		{"429 not documented", "        '429':\n          $ref: '#/components/responses/Error'\n", "",
			"PUT /things/{id}: does not document 429"},
		{"404 not documented on a path with an id", "        '404':\n          $ref: '#/components/responses/Error'\n", "",
			"PUT /things/{id}: does not document 404"},
		{"413 not documented with a body", "        '413':\n          $ref: '#/components/responses/Error'\n", "",
			"PUT /things/{id}: does not document 413"},
		{"400 not documented with parameters", "        '400':\n          $ref: '#/components/responses/Error'\n", "",
			"PUT /things/{id}: does not document 400"},
		{"If-Match without 412 and 428", "      x-required-scopes: [things:write]\n",
			"      x-required-scopes: [things:write]\n      parameters:\n        - name: If-Match\n          in: header\n          description: The ETag.\n          schema:\n            type: string\n          example: '\"r1\"'\n",
			"PUT /things/{id}: does not document 412"},
		{"an error that is not problem+json", "        application/problem+json:\n", "        application/json:\n",
			"PUT /things/{id} response 400: an error must be application/problem+json"},
		{"schema without a description", "      description: A thing.\n", "",
			"components.schemas.Thing: no description"},
		{"schema without an example", "      example:\n        name: lamp\n    Problem:", "    Problem:",
			"components.schemas.Thing: no example"},
		{"named example without a summary", "      summary: A thing\n", "",
			"components.examples.Thing: no summary"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Count(valid, tc.old) != 1 {
				t.Fatalf("the edit's old text occurs %d times in the valid document, want once", strings.Count(valid, tc.old))
			}
			problems := check([]byte(strings.Replace(valid, tc.old, tc.new, 1)))
			for _, p := range problems {
				if strings.Contains(p, tc.want) {
					t.Logf("found: %s", p)
					return
				}
			}
			t.Errorf("no problem contains %q; problems:\n%s", tc.want, strings.Join(problems, "\n"))
		})
	}
}

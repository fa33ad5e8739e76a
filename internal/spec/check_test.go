package spec

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"go.yaml.in/yaml/v3"
)

// check returns everything that keeps an OpenAPI document from being a usable product for its
// consumers, one sentence each, in a stable order; nothing when the document is fine.
func check(data []byte) []string {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return []string{"the document does not load: " + err.Error()}
	}
	// The structure only: the examples are checked below, each with its own location.
	if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation()); err != nil {
		return []string{"the document is not valid OpenAPI: " + err.Error()}
	}
	var raw any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return []string{"the document is not YAML: " + err.Error()}
	}
	c := &checker{doc: doc, raw: raw, visited: map[*openapi3.Schema]bool{}, visitedParams: map[*openapi3.Parameter]bool{}}
	c.components() // first, so that a component's problems are named by the component
	c.operations()
	return c.problems
}

type checker struct {
	doc      *openapi3.T
	raw      any // the document as plain YAML, to tell `example: null` from no example
	problems []string
	// visited, visitedParams: what was already checked (a component is reached once per $ref).
	visited       map[*openapi3.Schema]bool
	visitedParams map[*openapi3.Parameter]bool
}

func (c *checker) add(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

// The statuses the server's request validator and error handling can answer, by what the operation has.
var (
	securedStatuses = []string{"401", "403", "429", "500", "503"}
	inputStatuses   = []string{"400"}        // parameters or a body: the request is validated
	idStatuses      = []string{"404"}        // a path with an id: it may not exist
	bodyStatuses    = []string{"413", "415"} // a body: too large, wrong media type
	ifMatchStatuses = []string{"412", "428"} // If-Match: stale, or required and missing
	ifNoneStatuses  = []string{"304"}        // If-None-Match: not modified
)

func (c *checker) operations() {
	definedTags := map[string]bool{}
	for _, tag := range c.doc.Tags {
		definedTags[tag.Name] = true
	}
	scopes := c.knownScopes()
	paths := c.doc.Paths.Map()
	for _, path := range slices.Sorted(maps.Keys(paths)) {
		item := paths[path]
		ops := item.Operations()
		for _, method := range slices.Sorted(maps.Keys(ops)) {
			op := ops[method]
			at := method + " " + path
			if op.OperationID == "" {
				c.add("%s: no operationId", at)
			}
			if strings.TrimSpace(op.Summary) == "" {
				c.add("%s: no summary", at)
			}
			if strings.TrimSpace(op.Description) == "" {
				c.add("%s: no description", at)
			}
			if len(op.Tags) == 0 {
				c.add("%s: no tags", at)
			}
			for _, tag := range op.Tags {
				if !definedTags[tag] {
					c.add("%s: tag %q is not defined in the document's tags", at, tag)
				}
			}

			secured := c.security(at, op)
			if secured {
				c.requiredScopes(at, op, scopes)
			}

			params := append(slices.Clone(item.Parameters), op.Parameters...)
			headerParams := map[string]bool{}
			for _, p := range params {
				c.parameter(at+" parameter "+p.Value.Name, p.Value)
				if p.Value.In == openapi3.ParameterInHeader {
					headerParams[strings.ToLower(p.Value.Name)] = true
				}
			}
			hasBody := op.RequestBody != nil && op.RequestBody.Value != nil
			if hasBody {
				content := op.RequestBody.Value.Content
				if len(content) == 0 {
					c.add("%s: the request body has no content", at)
				}
				for _, mt := range slices.Sorted(maps.Keys(content)) {
					c.mediaType(fmt.Sprintf("%s request body %s", at, mt), content[mt], true)
				}
			}

			var want []string
			if secured {
				want = append(want, securedStatuses...)
			}
			if len(params) > 0 || hasBody {
				want = append(want, inputStatuses...)
			}
			if strings.Contains(path, "{") {
				want = append(want, idStatuses...)
			}
			if hasBody {
				want = append(want, bodyStatuses...)
			}
			if headerParams["if-match"] {
				want = append(want, ifMatchStatuses...)
			}
			if headerParams["if-none-match"] {
				want = append(want, ifNoneStatuses...)
			}
			c.responses(at, op, want)
		}
	}
}

// security checks that an operation states who may call it, and returns whether it is secured.
// Only health probes may be open, and only by saying so (`security: []`).
func (c *checker) security(at string, op *openapi3.Operation) bool {
	effective := c.doc.Security
	if op.Security != nil {
		effective = *op.Security
	}
	if len(effective) > 0 {
		return true
	}
	if op.Security == nil || !slices.Contains(op.Tags, "Health") {
		c.add("%s: no security requirement (only a Health probe may have an explicit empty one)", at)
	}
	return false
}

// requiredScopes checks x-required-scopes, which the server's authorizer enforces: present, known, and
// named in the description so that people reading the docs see it.
func (c *checker) requiredScopes(at string, op *openapi3.Operation, known map[string]bool) {
	raw, ok := op.Extensions["x-required-scopes"].([]any)
	if !ok || len(raw) == 0 {
		c.add("%s: secured but has no x-required-scopes", at)
		return
	}
	for _, s := range raw {
		scope, ok := s.(string)
		if !ok || (known != nil && !known[scope]) {
			c.add("%s: x-required-scopes names %v, which is not a Scope", at, s)
			continue
		}
		if !strings.Contains(op.Description, "`"+scope+"`") {
			c.add("%s: the description does not name its required scope `%s`", at, scope)
		}
	}
}

// knownScopes is the enum of the Scope schema, or nil when the document has none.
func (c *checker) knownScopes() map[string]bool {
	ref := c.doc.Components.Schemas["Scope"]
	if ref == nil || ref.Value == nil {
		return nil
	}
	known := map[string]bool{}
	for _, v := range ref.Value.Enum {
		known[fmt.Sprint(v)] = true
	}
	return known
}

func (c *checker) responses(at string, op *openapi3.Operation, want []string) {
	responses := op.Responses.Map()
	for _, status := range want {
		if responses[status] == nil {
			c.add("%s: does not document %s, which the server answers", at, status)
		}
	}
	success := false
	for _, status := range slices.Sorted(maps.Keys(responses)) {
		resp := responses[status].Value
		where := at + " response " + status
		if strings.HasPrefix(status, "2") {
			success = true
		}
		if resp.Description == nil || strings.TrimSpace(*resp.Description) == "" {
			c.add("%s: no description", where)
		}
		if code, err := strconv.Atoi(status); err == nil && code >= 400 {
			if _, ok := resp.Content["application/problem+json"]; !ok || len(resp.Content) != 1 {
				c.add("%s: an error must be application/problem+json, and only that", where)
			}
		}
		for _, name := range slices.Sorted(maps.Keys(resp.Headers)) {
			h := resp.Headers[name].Value
			c.parameter(where+" header "+name, &h.Parameter)
		}
		for _, mt := range slices.Sorted(maps.Keys(resp.Content)) {
			c.mediaType(where+" "+mt, resp.Content[mt], false)
		}
	}
	if !success {
		c.add("%s: no 2xx response", at)
	}
}

// mediaType checks that a request or response body shows at least one example, and that each is
// valid against the body's schema.
func (c *checker) mediaType(at string, mt *openapi3.MediaType, request bool) {
	if mt.Schema == nil || mt.Schema.Value == nil {
		c.add("%s: no schema", at)
		return
	}
	c.schemaExamples(at+" schema", mt.Schema.Value)
	if mt.Example == nil && len(mt.Examples) == 0 {
		c.add("%s: no example", at)
	}
	if mt.Example != nil {
		c.example(at+" example", mt.Schema.Value, mt.Example, request)
	}
	for _, name := range slices.Sorted(maps.Keys(mt.Examples)) {
		ex := mt.Examples[name]
		where := at + " examples." + name
		if ex.Ref != "" {
			where += " (" + ex.Ref + ")"
		}
		if strings.TrimSpace(ex.Value.Summary) == "" {
			c.add("%s: no summary", where)
		}
		c.example(where, mt.Schema.Value, ex.Value.Value, request)
	}
}

// parameter checks the examples of a parameter or a header (a header is a parameter without
// name and location) against its schema.
func (c *checker) parameter(at string, p *openapi3.Parameter) {
	if p.Schema == nil || p.Schema.Value == nil || c.visitedParams[p] {
		return // a content-typed parameter (none here), or one already checked
	}
	c.visitedParams[p] = true
	if strings.TrimSpace(p.Description) == "" {
		c.add("%s: no description", at)
	}
	c.schemaExamples(at+" schema", p.Schema.Value)
	request := p.In != "" // a response header has no location
	if p.Example != nil {
		c.example(at+" example", p.Schema.Value, p.Example, request)
	}
	for _, name := range slices.Sorted(maps.Keys(p.Examples)) {
		c.example(at+" examples."+name, p.Schema.Value, p.Examples[name].Value.Value, request)
	}
}

// components checks every component schema for a description and an example, and the examples
// of every component, used or not.
func (c *checker) components() {
	comps := c.doc.Components
	rawSchemas, _ := dig(c.raw, "components", "schemas").(map[string]any)
	for _, name := range slices.Sorted(maps.Keys(comps.Schemas)) {
		s := comps.Schemas[name].Value
		at := "components.schemas." + name
		if strings.TrimSpace(s.Description) == "" {
			c.add("%s: no description", at)
		}
		// `example: null` (a nullable schema's honest example) loads as no example at all.
		rawSchema, _ := rawSchemas[name].(map[string]any)
		if _, ok := rawSchema["example"]; !ok {
			c.add("%s: no example", at)
		}
		c.schemaExamples(at, s)
	}
	for _, name := range slices.Sorted(maps.Keys(comps.Parameters)) {
		c.parameter("components.parameters."+name, comps.Parameters[name].Value)
	}
	for _, name := range slices.Sorted(maps.Keys(comps.Headers)) {
		c.parameter("components.headers."+name, &comps.Headers[name].Value.Parameter)
	}
	for _, name := range slices.Sorted(maps.Keys(comps.Examples)) {
		if strings.TrimSpace(comps.Examples[name].Value.Summary) == "" {
			c.add("components.examples.%s: no summary", name)
		}
	}
}

// schemaExamples checks the example of a schema and of every schema inside it, each against its
// own schema, once per schema.
func (c *checker) schemaExamples(at string, s *openapi3.Schema) {
	if s == nil || c.visited[s] {
		return
	}
	c.visited[s] = true
	if s.Example != nil {
		c.example(at+" example", s, s.Example, false)
	}
	for _, name := range slices.Sorted(maps.Keys(s.Properties)) {
		c.schemaExamples(at+".properties."+name, s.Properties[name].Value)
	}
	if s.Items != nil {
		c.schemaExamples(at+".items", s.Items.Value)
	}
	for i, sub := range s.AllOf {
		c.schemaExamples(fmt.Sprintf("%s.allOf[%d]", at, i), sub.Value)
	}
	for i, sub := range s.AnyOf {
		c.schemaExamples(fmt.Sprintf("%s.anyOf[%d]", at, i), sub.Value)
	}
	for i, sub := range s.OneOf {
		c.schemaExamples(fmt.Sprintf("%s.oneOf[%d]", at, i), sub.Value)
	}
	if s.AdditionalProperties.Schema != nil {
		c.schemaExamples(at+".additionalProperties", s.AdditionalProperties.Schema.Value)
	}
}

// example checks one example against its schema: valid (kin-openapi's VisitJSON, formats
// included; a null is valid only where the schema is nullable), and without members the schema
// does not declare — an example with a misspelt field would teach the misspelling.
func (c *checker) example(at string, s *openapi3.Schema, value any, request bool) {
	opts := []openapi3.SchemaValidationOption{openapi3.MultiErrors(), openapi3.EnableFormatValidation(),
		openapi3.DisableSchemaErrorDetails()}
	if request {
		opts = append(opts, openapi3.VisitAsRequest())
	} else {
		opts = append(opts, openapi3.VisitAsResponse())
	}
	if err := s.VisitJSON(value, opts...); err != nil {
		c.add("%s: invalid against its schema: %s", at, oneLine(err.Error()))
	}
	for _, member := range undeclared(s, value, "") {
		c.add("%s: has %s, which its schema does not declare", at, member)
	}
}

// undeclared lists the members of an example that its schema (with its allOf parts) does not
// declare, at any depth, for objects whose schema declares properties and allows no others.
func undeclared(s *openapi3.Schema, value any, at string) []string {
	var out []string
	switch v := value.(type) {
	case map[string]any:
		props, open := declared(s)
		for _, name := range slices.Sorted(maps.Keys(v)) {
			prop, ok := props[name]
			switch {
			case ok:
				out = append(out, undeclared(prop, v[name], at+"."+name)...)
			case !open && len(props) > 0:
				out = append(out, "member "+strings.TrimPrefix(at+"."+name, "."))
			}
		}
	case []any:
		if s.Items != nil && s.Items.Value != nil {
			for i, item := range v {
				out = append(out, undeclared(s.Items.Value, item, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	}
	return out
}

// declared merges the properties of a schema and its allOf parts; open reports whether members
// beyond them are allowed (an additionalProperties schema, or `additionalProperties: true`).
func declared(s *openapi3.Schema) (props map[string]*openapi3.Schema, open bool) {
	props = map[string]*openapi3.Schema{}
	for name, p := range s.Properties {
		props[name] = p.Value
	}
	open = s.AdditionalProperties.Schema != nil || (s.AdditionalProperties.Has != nil && *s.AdditionalProperties.Has)
	for _, sub := range s.AllOf {
		p, o := declared(sub.Value)
		maps.Copy(props, p)
		open = open || o
	}
	return props, open
}

func dig(cur any, keys ...string) any {
	for _, k := range keys {
		next, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = next[k]
	}
	return cur
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

package app

import (
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/regiond/regiond/internal/testsupport/dbtest"
)

// TestTracing serves with --otlp-endpoint pointing at an OTLP/HTTP receiver started by the test:
// requests become server spans named by route, joined to the caller's trace (traceparent), with
// the database statements as child spans — and no span carries a token or a query's values.
func TestTracing(t *testing.T) {
	var mu sync.Mutex
	var spans []*tracepb.Span
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltrace.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				spans = append(spans, ss.Spans...)
			}
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		w.Write(out)
	}))
	defer collector.Close()

	t.Setenv("REGIOND_ADMIN_TOKEN", processAdmin)
	srv := startServe(t, serveCmd(t, "--database", dbtest.SQLite(t), "--addr", "127.0.0.1:0", "--otlp-endpoint", collector.URL))

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequest("POST", "http://"+srv.addr+"/openapi/v1/regions",
		strings.NewReader(`{"region_name":"traced","region_alias":"T","url":"https://t.example.com"}`))
	req.Header.Set("Authorization", processAdmin)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create: %v %v", err, resp)
	}
	if err := srv.stop(); err != nil { // shutting down flushes the spans
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	var server *tracepb.Span
	children := 0
	for _, s := range spans {
		if s.Kind == tracepb.Span_SPAN_KIND_SERVER && s.Name == "POST /openapi/v1/regions" {
			server = s
		}
	}
	if server == nil {
		names := []string{}
		for _, s := range spans {
			names = append(names, s.Name)
		}
		t.Fatalf("no server span for the request; spans: %v", names)
	}
	if hex.EncodeToString(server.TraceId) != traceID {
		t.Fatalf("the server span did not join the caller's trace: %x", server.TraceId)
	}
	for _, s := range spans {
		if hex.EncodeToString(s.TraceId) == traceID && s.Kind == tracepb.Span_SPAN_KIND_CLIENT {
			children++
		}
		for _, a := range s.Attributes {
			if v := a.Value.GetStringValue(); strings.Contains(v, processAdmin) || strings.Contains(v, "t.example.com") {
				t.Fatalf("span %s attribute %s carries a secret or a query value: %q", s.Name, a.Key, v)
			}
		}
	}
	if children == 0 {
		t.Fatal("no database span in the request's trace")
	}
	if !strings.Contains(srv.stderr.String(), `"trace_id":"`+traceID+`"`) {
		t.Fatal("the access log line does not carry the trace id")
	}
}

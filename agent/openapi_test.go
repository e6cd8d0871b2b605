package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/authpilot/authpilot"
)

var (
	specOnce   sync.Once
	specDoc    *openapi3.T
	specRouter routers.Router
	specErr    error
)

// loadSpec loads and validates the embedded openapi.json (once per test
// binary) with kin-openapi.
func loadSpec(t testing.TB) (*openapi3.T, routers.Router) {
	t.Helper()
	specOnce.Do(func() {
		doc, err := openapi3.NewLoader().LoadFromData(OpenAPI)
		if err != nil {
			specErr = fmt.Errorf("load openapi.json: %w", err)
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			specErr = fmt.Errorf("openapi.json is not a valid OpenAPI document: %w", err)
			return
		}
		specDoc = doc
		specRouter, specErr = legacy.NewRouter(doc)
	})
	if specErr != nil {
		t.Fatal(specErr)
	}
	return specDoc, specRouter
}

// specClient returns an HTTP client that checks what it sends and gets
// against openapi.json with kin-openapi: every answer must be documented
// (its status, headers and body); a request the document calls invalid
// must be refused with a 4xx; a route the document does not have must
// answer 404 or 405. Violations fail t.
func specClient(t testing.TB) *http.Client {
	loadSpec(t)
	return &http.Client{Transport: specTransport{t: t}}
}

// SpecClient is specClient for the external test package (agent_test).
func SpecClient(t testing.TB) *http.Client { return specClient(t) }

type specTransport struct{ t testing.TB }

// bearerAuth is the document's only security scheme: the request must
// carry a bearer token (whether it is the right one is the server's
// business, and a wrong one must get 401).
func bearerAuth(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if !strings.HasPrefix(in.RequestValidationInput.Request.Header.Get("Authorization"), "Bearer ") {
		return in.NewError(errors.New("no bearer token"))
	}
	return nil
}

func (s specTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		reqBody = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	what := req.Method + " " + req.URL.Path
	route, params, findErr := specRouter.FindRoute(req)
	var in *openapi3filter.RequestValidationInput
	var reqErr error
	if findErr == nil {
		vreq := req.Clone(req.Context())
		vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
		in = &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: bearerAuth, MultiError: true}}
		reqErr = openapi3filter.ValidateRequest(req.Context(), in)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	if findErr != nil {
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
			s.t.Errorf("%s is served (%d) but not documented in openapi.json: %v", what, resp.StatusCode, findErr)
		}
		return resp, nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if reqErr != nil && (resp.StatusCode < 400 || resp.StatusCode > 499) {
		s.t.Errorf("%s: the request breaks openapi.json (%v) but was answered %d", what, reqErr, resp.StatusCode)
	}
	in.Options = &openapi3filter.Options{AuthenticationFunc: bearerAuth, IncludeResponseStatus: true, MultiError: true}
	if err := openapi3filter.ValidateResponse(req.Context(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(body)), Options: in.Options,
	}); err != nil {
		s.t.Errorf("%s → %d: the answer breaks openapi.json: %v\nbody: %.2000s", what, resp.StatusCode, err, body)
	}
	return resp, nil
}

// documentedRoutes are the document's operations as ServeMux patterns
// ("GET /v1/cases/{id}").
func documentedRoutes(doc *openapi3.T) map[string]*openapi3.Operation {
	out := map[string]*openapi3.Operation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			out[method+" "+path] = op
		}
	}
	return out
}

// TestOpenAPIRouteCoverage: every route the API's mux serves is in
// openapi.json, and every route openapi.json documents answers (neither
// 404 nor 405) on a real agent with a real store on disk, its answer
// valid under the document.
func TestOpenAPIRouteCoverage(t *testing.T) {
	doc, _ := loadSpec(t)
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Fatalf("openapi.json is OpenAPI %s, want 3.1", doc.OpenAPI)
	}
	documented := documentedRoutes(doc)
	served := map[string]bool{}
	for _, rt := range (&API{Metrics: NewMetrics()}).routes() {
		served[rt.pattern] = true
		if documented[rt.pattern] == nil {
			t.Errorf("route %q is served but not documented in agent/openapi.json", rt.pattern)
		}
	}
	var patterns []string
	for p := range documented {
		patterns = append(patterns, p)
		if !served[p] {
			t.Errorf("route %q is documented in agent/openapi.json but not among the API's routes", p)
		}
	}
	sort.Strings(patterns)

	base, a := startAgentWith(t, testConfig(t, t.TempDir()), Options{})
	withFile := strings.Replace(lumbarFusionJSON("1234567893"), `"external_ref": "MRN-88231-ORD-1",`,
		`"external_ref": "MRN-88231-ORD-9", "files": [{"name": "pt.pdf", "content_type": "application/pdf", "content_base64": "JVBERi0xLjQK"}],`, 1)
	code, c := doSpec(t, "POST", base+"/v1/cases", testToken, withFile)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, c)
	}
	caseID := c["id"].(string)
	sha := c["attachments"].([]any)[0].(map[string]any)["sha256"].(string)
	if n := countCases(t, a.Store()); n != 1 {
		t.Fatalf("%d cases", n)
	}

	for _, p := range patterns {
		method, path, _ := strings.Cut(p, " ")
		urls := expandPath(t, path, documented[p], map[string]string{
			"/v1/cases/{id}": caseID, "/v1/connectors/{id}": "summit", "{sha256}": sha,
			"/v1/handoffs/{id}": "01JHANDOFFGONE",
		})
		for _, u := range urls {
			body := ""
			if method == "POST" {
				body = "{}"
			}
			if p == "POST /v1/cases" {
				body = lumbarFusionJSON("1234567893")
			}
			code, out := doSpec(t, method, base+u, testToken, body)
			if code == http.StatusNotFound || code == http.StatusMethodNotAllowed {
				t.Errorf("%s %s (documented as %s): %d %v", method, u, p, code, out)
			}
		}
	}

	// The document is served, without a token, as it is embedded.
	resp, err := specClient(t).Get(base + "/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, OpenAPI) || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /v1/openapi.json: %d %s, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(got))
	}
	// An undocumented method on a documented path is refused.
	if code, _ := doSpec(t, "DELETE", base+"/v1/connectors", testToken, ""); code != http.StatusMethodNotAllowed {
		t.Errorf("DELETE /v1/connectors: %d, want 405", code)
	}
}

// expandPath fills a documented path's parameters: a parameter with an
// enum yields one URL per value; others take the value subst gives for
// the path prefix ending in the parameter, or for the parameter alone.
func expandPath(t *testing.T, path string, op *openapi3.Operation, subst map[string]string) []string {
	t.Helper()
	urls := []string{path}
	for _, pr := range op.Parameters {
		p := pr.Value
		if p.In != "path" {
			continue
		}
		ph := "{" + p.Name + "}"
		var values []string
		if s := p.Schema; s != nil && s.Value != nil && len(s.Value.Enum) > 0 {
			for _, e := range s.Value.Enum {
				values = append(values, fmt.Sprint(e))
			}
		} else {
			prefix := path[:strings.Index(path, ph)+len(ph)]
			v, ok := subst[prefix]
			if !ok {
				v, ok = subst[ph]
			}
			if !ok {
				t.Fatalf("%s: no test value for path parameter %s", path, p.Name)
			}
			values = []string{v}
		}
		var next []string
		for _, u := range urls {
			for _, v := range values {
				next = append(next, strings.Replace(u, ph, v, 1))
			}
		}
		urls = next
	}
	if strings.Contains(urls[0], "{") {
		t.Fatalf("%s: a path parameter is not declared", path)
	}
	return urls
}

// doSpec is do through specClient.
func doSpec(t *testing.T, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	return doWith(t, specClient(t), method, url, token, body)
}

// TestOpenAPISchemasMatchTypes: each documented schema has exactly the
// JSON fields of the Go type the API encodes, so a field added to a case
// (or removed) without documenting it fails here.
func TestOpenAPISchemasMatchTypes(t *testing.T) {
	doc, _ := loadSpec(t)
	tests := []struct {
		schema string
		typ    any
		// ignored are Go fields the schema leaves out on purpose.
		ignored []string
	}{
		{"Case", authpilot.Case{}, nil},
		{"Patient", authpilot.Patient{}, nil},
		{"Provider", authpilot.Provider{}, nil},
		{"Facility", authpilot.Facility{}, nil},
		{"ServiceLine", authpilot.ServiceLine{}, nil},
		// path is read by the CLI from a case file, never stored or served.
		{"Attachment", authpilot.Attachment{}, []string{"path"}},
		{"Determination", authpilot.Determination{}, nil},
		{"ApprovedLine", authpilot.ApprovedLine{}, nil},
		{"Event", authpilot.Event{}, nil},
		{"Deadline", authpilot.Deadline{}, nil},
		{"Document", authpilot.Document{}, nil},
		{"FieldError", authpilot.FieldError{}, nil},
		{"NewFile", NewFile{}, nil},
		{"ConnectorStatus", ConnectorStatus{}, nil},
		// Server-owned fields of the embedded Case are accepted and ignored.
		{"NewCase", NewCase{}, []string{"id", "status", "status_text", "submitted_at", "watched_at", "determination",
			"last_error", "created_at", "updated_at", "version", "attachments", "payer_service_date",
			"info_requests", "peer_to_peers", "appeals", "extensions", "withdrawal", "deadline_acks"}},
		{"InfoRequest", authpilot.InfoRequest{}, nil},
		{"InfoResponse", authpilot.InfoResponse{}, nil},
		{"PeerToPeer", authpilot.PeerToPeer{}, nil},
		{"Appeal", authpilot.Appeal{}, nil},
		{"Extension", authpilot.Extension{}, nil},
		{"Withdrawal", authpilot.Withdrawal{}, nil},
		{"DeadlineAck", authpilot.DeadlineAck{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.schema, func(t *testing.T) {
			ref := doc.Components.Schemas[tt.schema]
			if ref == nil {
				t.Fatalf("schema %s is not in openapi.json", tt.schema)
			}
			var props []string
			for name := range ref.Value.Properties {
				props = append(props, name)
			}
			fields := jsonFields(reflect.TypeOf(tt.typ))
			for _, f := range fields {
				if !slices.Contains(props, f) && !slices.Contains(tt.ignored, f) {
					t.Errorf("%s.%s is encoded but not documented in openapi.json", tt.schema, f)
				}
			}
			for _, p := range props {
				if !slices.Contains(fields, p) {
					t.Errorf("openapi.json documents %s.%s, which %T does not have", tt.schema, p, tt.typ)
				}
			}
		})
	}
	// Every action has its name in the action route.
	var names []string
	for _, p := range doc.Paths.Value("/v1/cases/{id}/actions/{name}").Post.Parameters {
		if p.Value.Name == "name" {
			for _, v := range p.Value.Schema.Value.Enum {
				names = append(names, fmt.Sprint(v))
			}
		}
	}
	if !slices.Equal(names, ActionNames) {
		t.Errorf("openapi.json action names %v, want agent.ActionNames %v", names, ActionNames)
	}
	// The enums are the domain's lists.
	enum := func(name string) []string {
		var out []string
		for _, v := range doc.Components.Schemas[name].Value.Enum {
			out = append(out, fmt.Sprint(v))
		}
		return out
	}
	for _, e := range []struct {
		name string
		want []string
	}{
		{"Status", strs(authpilot.Statuses)},
		{"Track", strs(authpilot.Tracks)},
		{"PlanType", strs(authpilot.PlanTypes)},
		{"Urgency", []string{string(authpilot.UrgencyStandard), string(authpilot.UrgencyExpedited)}},
		{"Via", strs(authpilot.Vias)},
	} {
		if got := enum(e.name); !slices.Equal(got, e.want) {
			t.Errorf("openapi.json %s enum %v, want %v", e.name, got, e.want)
		}
	}
}

func strs[T ~string](list []T) []string {
	out := make([]string, len(list))
	for i, v := range list {
		out[i] = string(v)
	}
	return out
}

// jsonFields lists the JSON object keys encoding/json writes for a struct
// type, embedded structs flattened.
func jsonFields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	return out
}

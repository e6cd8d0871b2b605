package fhirpas

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/authpilot/authpilot/connectors"
)

func decodeYAML(t testing.TB, src string) (connectors.Options, error) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	k, ok := connectors.Lookup(KindName)
	if !ok {
		t.Fatal("kind fhirpas not registered")
	}
	return k.Decode(&doc)
}

func TestSampleYAMLDecodes(t *testing.T) {
	opts, err := decodeYAML(t, string(SampleYAML))
	if err != nil {
		t.Fatalf("sample.yaml: %v", err)
	}
	want := &Options{
		BaseURL:      "https://pas.summithealth.example/fhir",
		TokenURL:     "https://auth.summithealth.example/oauth2/token",
		ClientID:     "authpilot-spine-associates",
		ClientSecret: "summit-pas-client-secret",
		Scopes:       []string{"system/Claim.write", "system/ClaimResponse.read"},
		Timeout:      30 * time.Second,
		Retries:      3,
		RetryWaitMax: 30 * time.Second,
		Insurer:      Insurer{Name: "Summit Health Plan", Identifier: "SHP01"},
		Requester:    Requester{Name: "Spine Associates of Springfield", NPI: "1234567893"},
	}
	if !reflect.DeepEqual(opts, want) {
		t.Errorf("decoded\n%+v\nwant\n%+v", opts, want)
	}
}

func TestDecodeDefaults(t *testing.T) {
	opts, err := decodeYAML(t, `
base_url: http://127.0.0.1:8080/fhir/
token_url: http://127.0.0.1:8080/token
client_id: a
client_secret: pas
scopes: system/Claim.write system/ClaimResponse.read
`)
	if err != nil {
		t.Fatal(err)
	}
	o := opts.(*Options)
	if o.Timeout != DefaultTimeout || o.Retries != DefaultRetries || o.RetryWaitMax != DefaultRetryWaitMax {
		t.Errorf("defaults = %v %v %v", o.Timeout, o.Retries, o.RetryWaitMax)
	}
	if !reflect.DeepEqual([]string(o.Scopes), []string{"system/Claim.write", "system/ClaimResponse.read"}) {
		t.Errorf("scopes = %q", o.Scopes)
	}
}

func TestDecodeErrors(t *testing.T) {
	const ok = "base_url: https://p.example/fhir\ntoken_url: https://p.example/token\nclient_id: a\nclient_secret: s\n"
	tests := []struct {
		name string
		src  string
		want []connectors.FieldError
	}{
		{"unknown key with suggestion", ok + "retires: 3\n",
			[]connectors.FieldError{{Line: 5, Msg: `unknown key "retires" (did you mean "retries"?)`}}},
		{"unknown nested key", ok + "insurer:\n  name: X\n  npi: \"1\"\n",
			[]connectors.FieldError{{Line: 7, Path: "insurer", Msg: `unknown key "npi"`}}},
		{"missing required", "client_id: a\n",
			[]connectors.FieldError{
				{Line: 1, Path: "base_url", Msg: "required"},
				{Line: 1, Path: "token_url", Msg: "required"},
				{Line: 1, Path: "client_secret", Msg: "required: the name of the keyring secret holding the client secret"},
			}},
		{"bad url", "base_url: ftp://p.example\ntoken_url: https://p.example/token\nclient_id: a\nclient_secret: s\n",
			[]connectors.FieldError{{Line: 1, Path: "base_url", Msg: `must be an http or https URL, got "ftp://p.example"`}}},
		{"bad duration", ok + "timeout: soon\n",
			[]connectors.FieldError{{Line: 5, Path: "timeout", Msg: `expected a duration such as 30s or 15m, got "soon"`}}},
		{"negative wait", ok + "retry_wait_max: -1s\n",
			[]connectors.FieldError{{Line: 5, Path: "retry_wait_max", Msg: "must be positive"}}},
		{"too many retries", ok + "retries: 99\n",
			[]connectors.FieldError{{Line: 5, Path: "retries", Msg: "must be between 0 and 10"}}},
		{"retries not a number", ok + "retries: three\n",
			[]connectors.FieldError{{Line: 5, Path: "retries", Msg: `expected an integer, got "three"`}}},
		{"bad requester NPI", ok + "requester:\n  npi: \"12\"\n",
			[]connectors.FieldError{{Line: 6, Path: "requester.npi", Msg: "must be 10 digits"}}},
		{"duplicate", ok + "client_id: b\n",
			[]connectors.FieldError{{Line: 5, Msg: `duplicate key "client_id" (first at line 3)`}}},
		{"not a mapping", "- a\n", []connectors.FieldError{{Line: 1, Msg: "expected a mapping, got a list"}}},
		{"scopes not a list", ok + "scopes: {a: b}\n",
			[]connectors.FieldError{{Line: 5, Path: "scopes", Msg: "expected a list, got a mapping"}}},
		{"scope not a string", ok + "scopes: [a, [b]]\n",
			[]connectors.FieldError{{Line: 5, Path: "scopes[1]", Msg: "expected a string, got a list"}}},
		{"merged insurer", ok + "insurer:\n  <<: {name: X, identifer: \"1\"}\n",
			[]connectors.FieldError{{Line: 6, Path: "insurer", Msg: `unknown key "identifer" (did you mean "identifier"?)`}}},
		{"insurer not a mapping", ok + "insurer: Summit\n",
			[]connectors.FieldError{{Line: 5, Path: "insurer", Msg: `expected a mapping, got "Summit"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeYAML(t, tt.src)
			var fes connectors.FieldErrors
			if !errors.As(err, &fes) {
				t.Fatalf("err = %v, want FieldErrors", err)
			}
			var got []connectors.FieldError
			for _, fe := range fes {
				got = append(got, *fe)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestDecodeNil(t *testing.T) {
	if _, err := Decode(nil); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("Decode(nil) = %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(string(SampleYAML))
	f.Add("base_url: [1, 2]\ninsurer: {name: [x]}\n")
	f.Fuzz(func(t *testing.T, src string) {
		var doc yaml.Node
		if yaml.Unmarshal([]byte(src), &doc) != nil {
			return
		}
		opts, err := Decode(&doc)
		if err == nil && opts == nil {
			t.Fatal("nil options without error")
		}
	})
}

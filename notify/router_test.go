package notify

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
)

func TestRouterRoute(t *testing.T) {
	r := &Router{
		Routes: []Route{
			{Types: []authpilot.AlertType{authpilot.AlertPortalChanged, authpilot.AlertConnectorFailing}, Sinks: []string{"it"}},
			{MinSeverity: authpilot.SeverityCritical, Sinks: []string{"pager"}, Continue: true},
			{Payers: []string{"acme"}, Tracks: []authpilot.Track{authpilot.TrackImaging}, Sinks: []string{"imaging", "team"}},
			{Payers: []string{"acme", "globex"}, MinSeverity: authpilot.SeverityWarning, Sinks: []string{"team", "ehr"}},
			{Types: []authpilot.AlertType{authpilot.AlertDigest}, Sinks: []string{"team"}},
		},
		ExtraSinks: map[string][]string{"acme-portal": {"acme-owners", "team"}},
		Sinks:      []string{"it", "pager", "imaging", "team", "ehr", "acme-owners"},
	}
	alert := func(typ authpilot.AlertType, sev authpilot.Severity, payer string, track authpilot.Track, conn string) authpilot.Alert {
		return authpilot.Alert{Type: typ, Severity: sev, Payer: payer, Track: track, ConnectorID: conn}
	}
	sinkAlert := func(typ authpilot.AlertType, sev authpilot.Severity, sink string) authpilot.Alert {
		return authpilot.Alert{Type: typ, Severity: sev, Sink: sink}
	}
	tests := []struct {
		name     string
		alert    authpilot.Alert
		disabled map[string]string
		want     []string
	}{
		{name: "type match wins first", alert: alert(authpilot.AlertPortalChanged, authpilot.SeverityCritical, "acme", "", ""),
			want: []string{"it"}},
		{name: "critical continues to the next matching route",
			alert: alert(authpilot.AlertDeterminationReceived, authpilot.SeverityCritical, "acme", authpilot.TrackImaging, ""),
			want:  []string{"pager", "imaging", "team"}},
		{name: "payer and track must both match",
			alert: alert(authpilot.AlertStatusChanged, authpilot.SeverityWarning, "acme", authpilot.TrackSurgery, ""),
			want:  []string{"team", "ehr"}},
		{name: "below minimum severity falls through to nothing",
			alert: alert(authpilot.AlertStatusChanged, authpilot.SeverityInfo, "globex", authpilot.TrackSurgery, ""),
			want:  nil},
		{name: "unknown severity ranks lowest",
			alert: alert(authpilot.AlertStatusChanged, "loud", "globex", "", ""), want: nil},
		{name: "no route matches", alert: alert(authpilot.AlertStatusChanged, authpilot.SeverityWarning, "initech", "", ""),
			want: nil},
		{name: "connector extra sinks added without duplicates",
			alert: alert(authpilot.AlertStatusChanged, authpilot.SeverityWarning, "acme", "", "acme-portal"),
			want:  []string{"team", "ehr", "acme-owners"}},
		{name: "extra sinks even when no route matches",
			alert: alert(authpilot.AlertStatusChanged, authpilot.SeverityInfo, "initech", "", "acme-portal"),
			want:  []string{"acme-owners", "team"}},
		{name: "disabled sinks excluded",
			alert:    alert(authpilot.AlertDeterminationReceived, authpilot.SeverityCritical, "acme", authpilot.TrackImaging, "acme-portal"),
			disabled: map[string]string{"team": "http 410 Gone", "pager": "http 410 Gone"},
			want:     []string{"imaging", "acme-owners"}},
		{name: "sink_disabled that no route matches goes to every other sink",
			alert:    sinkAlert(authpilot.AlertSinkDisabled, authpilot.SeverityWarning, "ehr"),
			disabled: map[string]string{"it": "http 410 Gone"},
			want:     []string{"pager", "imaging", "team", "acme-owners"}},
		{name: "sink_failing that no route matches goes to every other sink",
			alert: sinkAlert(authpilot.AlertSinkFailing, authpilot.SeverityWarning, "team"),
			want:  []string{"it", "pager", "imaging", "ehr", "acme-owners"}},
		{name: "sink_failing routed only to its own sink goes to every other sink",
			alert: sinkAlert(authpilot.AlertSinkFailing, authpilot.SeverityCritical, "pager"),
			want:  []string{"it", "imaging", "team", "ehr", "acme-owners"}},
		{name: "resolved follows the routes of the type it resolves",
			alert: func() authpilot.Alert {
				a := alert(authpilot.AlertResolved, authpilot.SeverityWarning, "", "", "acme-portal")
				a.Resolves = authpilot.AlertConnectorFailing
				return a
			}(),
			want: []string{"it", "acme-owners", "team"}},
		{name: "sink_disabled that a route matches follows the routes",
			alert: alert(authpilot.AlertSinkDisabled, authpilot.SeverityCritical, "", "", ""),
			want:  []string{"pager"}},
		{name: "digest by type", alert: alert(authpilot.AlertDigest, authpilot.SeverityInfo, "", "", ""), want: []string{"team"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.Route(tt.alert, tt.disabled); !slices.Equal(got, tt.want) {
				t.Errorf("Route = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRouterSinkDisabledFollowsRoutesThatNameIt(t *testing.T) {
	r := &Router{
		Routes: []Route{{Types: []authpilot.AlertType{authpilot.AlertSinkDisabled}, Sinks: []string{"it"}}},
		Sinks:  []string{"it", "team"},
	}
	got := r.Route(authpilot.Alert{Type: authpilot.AlertSinkDisabled}, nil)
	if !slices.Equal(got, []string{"it"}) {
		t.Errorf("Route = %q, want only the named sink", got)
	}
}

func TestRouterValidate(t *testing.T) {
	tests := []struct {
		name string
		r    Router
		want []string // substrings of the error; none means valid
	}{
		{name: "valid", r: Router{Routes: []Route{{Types: []authpilot.AlertType{authpilot.AlertDigest}, Sinks: []string{"a"}}},
			ExtraSinks: map[string][]string{"c": {"a"}}, Sinks: []string{"a"}}},
		{name: "unknown sink", r: Router{Routes: []Route{{Sinks: []string{"b"}}}, Sinks: []string{"a"}},
			want: []string{`routes[0]: sinks: unknown sink "b"`}},
		{name: "no sinks", r: Router{Routes: []Route{{}}}, want: []string{"routes[0]: sinks: at least one sink is required"}},
		{name: "bad values", r: Router{Routes: []Route{{Types: []authpilot.AlertType{"deadline_aproaching"},
			Tracks: []authpilot.Track{"spine"}, MinSeverity: "high", Sinks: []string{"a"}}}, Sinks: []string{"a"}},
			want: []string{`unknown alert type "deadline_aproaching"`, `unknown track "spine"`, `unknown severity "high"`}},
		{name: "extra sink unknown", r: Router{ExtraSinks: map[string][]string{"acme": {"x"}}, Sinks: []string{"a"}},
			want: []string{`connector "acme": extra sinks: unknown sink "x"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.r.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestClassify(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name      string
		code      int
		ra        string
		wantRetry bool
		wantAfter time.Duration
		wantErr   bool
	}{
		{name: "200", code: 200},
		{name: "299", code: 299},
		{name: "429 seconds", code: 429, ra: "12", wantRetry: true, wantAfter: 12 * time.Second, wantErr: true},
		{name: "503 date", code: 503, ra: now.Add(2 * time.Minute).Format(http.TimeFormat), wantRetry: true, wantAfter: 2 * time.Minute, wantErr: true},
		{name: "503 past date", code: 503, ra: now.Add(-time.Minute).Format(http.TimeFormat), wantRetry: true, wantErr: true},
		{name: "502 clamped", code: 502, ra: "999999", wantRetry: true, wantAfter: MaxRetryAfter, wantErr: true},
		{name: "504 negative ignored", code: 504, ra: "-5", wantRetry: true, wantErr: true},
		{name: "500 ignores Retry-After", code: 500, ra: "60", wantRetry: true, wantErr: true},
		{name: "400 retried", code: 400, wantRetry: true, wantErr: true},
		{name: "401 retried", code: 401, wantRetry: true, wantErr: true},
		{name: "404 ignores Retry-After", code: 404, ra: "60", wantRetry: true, wantErr: true},
		{name: "410 is gone, not retried", code: 410, wantErr: true},
		{name: "301 retried", code: 301, wantRetry: true, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.ra != "" {
				h.Set("Retry-After", tt.ra)
			}
			retry, after, err := Classify(tt.code, h, now)
			if retry != tt.wantRetry || after != tt.wantAfter || (err != nil) != tt.wantErr {
				t.Errorf("Classify = %v, %v, %v", retry, after, err)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		name     string
		attempts int
		rand     float64
		want     time.Duration
	}{
		{name: "first retry", attempts: 0, rand: 0.5, want: 5 * time.Second},
		{name: "doubles", attempts: 3, rand: 0.5, want: 40 * time.Second},
		{name: "jitter low", attempts: 1, rand: 0, want: 8 * time.Second},
		{name: "jitter high", attempts: 1, rand: 1, want: 12 * time.Second},
		{name: "capped at an hour", attempts: 12, rand: 0.5, want: time.Hour},
		{name: "cap holds with jitter", attempts: 40, rand: 1, want: time.Hour},
		{name: "jitter below the cap", attempts: 40, rand: 0, want: 48 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDispatcher(nil, nil, nil, nil, nil, nil, Options{Rand: func() float64 { return tt.rand }})
			if got := d.Backoff(tt.attempts); got != tt.want {
				t.Errorf("Backoff(%d) = %v, want %v", tt.attempts, got, tt.want)
			}
		})
	}
}

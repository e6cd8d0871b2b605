package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/authpilot/authpilot"
	_ "github.com/authpilot/authpilot/connectors/fhirpas"
	"github.com/authpilot/authpilot/connectors/portal"
	"github.com/authpilot/authpilot/internal/spinecodes"
	_ "github.com/authpilot/authpilot/notify/sinks"
)

// TestDemoJSON runs the demo as `authpilot demo --json` does and checks
// that every case reached the fate its simulator scripted, letters were
// downloaded from the portals and alerts were delivered.
func TestDemoJSON(t *testing.T) {
	if _, err := portal.FindChromium(""); err != nil {
		t.Fatalf("the demo drives Debian's chromium; run ./scripts/setup: %v", err)
	}
	var out, logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if _, err := Run(context.Background(), Options{Out: &out, JSON: true, Log: log}); err != nil {
		t.Fatalf("demo: %v", err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("agent warnings and errors:\n%s", logs.String())
		}
	}()
	var s struct {
		Cases []struct {
			ID         string `json:"id"`
			Label      string `json:"label"`
			Payer      string `json:"payer"`
			Track      string `json:"track"`
			Status     string `json:"status"`
			AuthNumber string `json:"auth_number"`
			Approved   []struct {
				Code  string `json:"code"`
				Units int    `json:"units"`
			} `json:"approved"`
			Letters int      `json:"letters"`
			Life    []string `json:"life"`
			Alerts  int      `json:"alerts"`
		} `json:"cases"`
		Alerts int `json:"alerts"`
	}
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out.String())
	}
	want := map[string]authpilot.Status{
		"lumbar fusion L4-S1":                     authpilot.StatusApproved,
		"bone-growth stimulator (fusion episode)": authpilot.StatusApproved,
		"lumbar RFA, two levels":                  authpilot.StatusPartiallyApproved,
		"lumbar ESI":                              authpilot.StatusApproved,
		"lumbar MRI":                              authpilot.StatusApproved,
		"cervical MRI":                            authpilot.StatusDenied,
		"cervical fusion C5-C7":                   authpilot.StatusApproved,
		"kyphoplasty":                             authpilot.StatusDenied,
		"lumbar discectomy, three levels":         authpilot.StatusModified,
		"laminectomy (tracked: filed by phone)":   authpilot.StatusApproved,
	}
	if len(s.Cases) != 13 {
		t.Fatalf("%d cases in the summary, want 13", len(s.Cases))
	}
	// The life of three cases after the payer's first answer, through
	// agent.Actions: a pended fusion answered with documents on the
	// portal, a denial overturned after a peer-to-peer (seen by the
	// watch), a decision given by phone recorded by hand with its letter.
	life := map[string]string{
		"lumbar fusion L4-S1": "pended → 2 documents sent on the portal's additional-information page → approved → auth ",
		"lumbar ESI":          "denied → peer-to-peer scheduled → peer-to-peer: overturned → approved → auth " + p2pAuth,
		"lumbar MRI":          "pended → approved by phone, recorded by hand with its letter → auth " + phoneAuth,
	}
	for _, c := range s.Cases {
		got := strings.Join(c.Life, " → ")
		if want, ok := life[c.Label]; !ok && got != "" || ok && !strings.HasPrefix(got, want) {
			t.Errorf("%s: life %q, want %q", c.Label, got, want)
		}
	}
	for _, c := range s.Cases {
		st := authpilot.Status(c.Status)
		if !st.Valid() {
			t.Errorf("%s: status %q is not in the normalized vocabulary", c.Label, c.Status)
		}
		if w, ok := want[c.Label]; ok && st != w {
			t.Errorf("%s: status %s, want %s", c.Label, st, w)
		}
		if c.Alerts == 0 {
			t.Errorf("%s: no alert reached the webhook", c.Label)
		}
		if st.Decided() && c.Payer != "keystone-ppo" && c.Letters == 0 {
			t.Errorf("%s: decided on a portal but no letter downloaded", c.Label)
		}
		if st.Authorized() && c.AuthNumber == "" {
			t.Errorf("%s: authorized without an auth number", c.Label)
		}
		var approved []spinecodes.Line
		for _, l := range c.Approved {
			approved = append(approved, spinecodes.Line{Code: l.Code, Units: l.Units})
		}
		if st.Authorized() && len(approved) == 0 {
			t.Errorf("%s: authorized without approved lines", c.Label)
		}
		if orphans := spinecodes.Orphans(approved); len(orphans) > 0 {
			t.Errorf("%s: add-on %v approved without its primary: %+v", c.Label, orphans, c.Approved)
		}
	}
}

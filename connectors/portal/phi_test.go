package portal

import (
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/connectors/connectortest"
	"github.com/authpilot/authpilot/payersim"
	"github.com/authpilot/authpilot/recordings"
)

// twoPatients seeds two pended requests on the Summit simulator and returns
// their cases (as the agent tracks them) and patients (as the store holds
// them: the names the portal shows, the member IDs and DOBs submitted).
func twoPatients(t *testing.T, p *summit) ([]*authpilot.Case, []authpilot.Patient) {
	t.Helper()
	subs := payersim.SampleSubmissions(2, &payersim.Outcome{Fate: payersim.FatePend, AfterChecks: 1000})
	refs, err := payersim.Seed(p.sim, subs...)
	if err != nil {
		t.Fatal(err)
	}
	var cases []*authpilot.Case
	var patients []authpilot.Patient
	for i, ref := range refs {
		req, ok := p.sim.Request(ref)
		if !ok {
			t.Fatalf("request %s not found", ref)
		}
		first, last, _ := strings.Cut(req.MemberName, " ")
		dob, err := time.Parse("2006-01-02", subs[i].DOB)
		if err != nil {
			t.Fatal(err)
		}
		pt := authpilot.Patient{FirstName: first, LastName: last, MemberID: subs[i].MemberID, DOB: authpilot.DateOf(dob)}
		patients = append(patients, pt)
		cases = append(cases, &authpilot.Case{ID: ref, PayerRef: ref, Status: authpilot.StatusSubmitted, StatusText: "In Review",
			Patient: pt, ServiceLines: []authpilot.ServiceLine{{Code: subs[i].Lines[0].Code, Units: 1}}})
	}
	if patients[0].LastName+patients[0].FirstName == patients[1].LastName+patients[1].FirstName {
		t.Fatalf("the simulator named both patients %s %s", patients[0].FirstName, patients[0].LastName)
	}
	return cases, patients
}

// TestRecordingHoldsNoOtherPatientUsernameOrTOTPCode is issue 10 item 5's
// recording report: a poll of one case records the payer's list page,
// which shows another patient of the practice too; the login types the
// portal username and a TOTP code; a second visit reuses the session and
// shows the username on the dashboard without typing it. With the store's
// PHI index on the recordings (as the agent sets it), none of it is on
// disk.
func TestRecordingHoldsNoOtherPatientUsernameOrTOTPCode(t *testing.T) {
	t.Parallel()
	p := newSummitWith(t, inTabs(t, exampleConfig(t, "summit-portal.yaml", "")))
	cases, patients := twoPatients(t, p)
	idx := recordings.NewIndex()
	for _, pt := range patients {
		idx.Add(recordings.PatientValues(pt)...)
	}
	dir := t.TempDir()
	rs, err := recordings.Open(dir, recordings.Options{Now: p.clock.Now, Index: idx})
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]bool{}
	for _, d := range []time.Duration{-30 * time.Second, 0, 30 * time.Second} {
		c, err := totpCode(payersim.DefaultTOTPSecret, p.clock.Now().Add(d))
		if err != nil {
			t.Fatal(err)
		}
		codes[c] = true
	}
	for visit := range 2 {
		rec := rs.Start("summit", "poll")
		// The agent registers the visit's own cases; the other patient is
		// known only to the store's index.
		rec.Redact(recordings.PatientValues(cases[0].Patient)...)
		sess, err := p.conn.Open(testCtx(t), rec)
		if err != nil {
			t.Fatalf("visit %d: open: %v", visit, err)
		}
		if obs, err := sess.Poll(testCtx(t), cases[:1]); err != nil || obs[0].Err != nil {
			t.Fatalf("visit %d: poll: %+v, %v", visit, obs, err)
		}
		_ = sess.Close()
		if err := rec.Finish(nil); err != nil {
			t.Fatal(err)
		}
	}
	if st := p.sim.Stats(); st.Logins != 1 {
		t.Fatalf("%d logins, want 1: the second visit must reuse the session", st.Logins)
	}
	needles := map[string]string{"the portal username": payersim.DefaultPayerUsername, "the password": payersim.DefaultPayerPassword}
	for i, pt := range patients {
		needles[[]string{"the polled patient's name", "the other patient's name"}[i]] = pt.FirstName + " " + pt.LastName
		needles[[]string{"the polled patient's member ID", "the other patient's member ID"}[i]] = pt.MemberID
	}
	for c := range codes {
		needles["a TOTP code"] = c
		connectortest.GrepRecordings(t, dir, 5, needles)
	}
}

// TestScreenshotMaskCoversKnownPHI masks the Summit list page, with real
// Chromium, the way a screenshot is taken: the text nodes and the filter
// field that hold a known value (the visit's patient, another patient from
// the store's index) show [REDACTED] while the page is photographed, and
// the page is as it was afterwards.
func TestScreenshotMaskCoversKnownPHI(t *testing.T) {
	t.Parallel()
	p := newSummit(t, "")
	_, patients := twoPatients(t, p)
	idx := recordings.NewIndex()
	idx.Add(recordings.PatientValues(patients[1])...)
	rs, err := recordings.Open(t.TempDir(), recordings.Options{Now: p.clock.Now, Index: idx})
	if err != nil {
		t.Fatal(err)
	}
	rec := rs.Start("summit", "poll")
	rec.Redact(recordings.PatientValues(patients[0])...)
	s, err := p.conn.Open(testCtx(t), rec)
	if err != nil {
		t.Fatal(err)
	}
	sess := s.(*Session)
	t.Cleanup(func() { _ = sess.Close() })
	page := sess.main.page.Context(testCtx(t))
	name0 := patients[0].FirstName + " " + patients[0].LastName
	name1 := patients[1].FirstName + " " + patients[1].LastName
	text := func() string {
		t.Helper()
		res, err := page.Eval(`() => document.body.innerText + "\n" + Array.from(document.querySelectorAll('input')).map(i => i.value).join("\n")`)
		if err != nil {
			t.Fatal(err)
		}
		return res.Value.Str()
	}
	for _, tt := range []struct {
		name, path string
		want       int // nodes masked at least
		shown      []string
	}{
		{"list of both patients", "/auth/list", 2, []string{name0, name1}},
		{"filtered by the other patient's member ID", "/auth/list?member=" + patients[1].MemberID, 2, []string{name1, patients[1].MemberID}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := page.Navigate(p.srv.URL + tt.path); err != nil {
				t.Fatal(err)
			}
			if err := page.WaitLoad(); err != nil {
				t.Fatal(err)
			}
			before := text()
			for _, v := range tt.shown {
				if !strings.Contains(before, v) {
					t.Fatalf("the page does not show %q: %q", v, before)
				}
			}
			n, restore := maskPage(sess.rec, page)
			masked := text()
			restore()
			if n < tt.want {
				t.Errorf("masked %d nodes, want at least %d", n, tt.want)
			}
			for _, v := range tt.shown {
				if strings.Contains(masked, v) {
					t.Errorf("%q still shown while masked", v)
				}
			}
			if !strings.Contains(masked, recordings.Redacted) {
				t.Errorf("no %s on the masked page: %q", recordings.Redacted, masked)
			}
			if after := text(); after != before {
				t.Errorf("page not restored:\nbefore %q\nafter  %q", before, after)
			}
		})
	}
}

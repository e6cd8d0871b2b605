package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/notify"
	"github.com/authpilot/authpilot/notify/notifytest"
	"github.com/authpilot/authpilot/notify/slack"
	"github.com/authpilot/authpilot/notify/webhook"
	"github.com/authpilot/authpilot/schedules/clocktest"
)

var start = time.Date(2026, 11, 23, 22, 0, 0, 0, time.UTC) // Mon 5:00 PM EST

// Secrets of the test keyring. Each must stay out of logs and errors.
const (
	hookSecret  = "whsec_dGVzdC1zaWduaW5nLWtleS1vZi10aGlydHktdHdvLWJ5dGVzIQ=="
	hookKeyPart = "dGVzdC1zaWduaW5nLWtleS1vZi10aGlydHktdHdvLWJ5dGVzIQ=="
	hookToken   = "HOOKQUERYTOKEN42"
	slackToken  = "XOXSLACKTOKEN77"
)

// newEndpoint is a real webhook receiver on clock, checking signatures
// with hookSecret, whose answers a test scripts (nil: 200).
func newEndpoint(t *testing.T, clock *clocktest.Fake, answer func(n int, r notifytest.Request) notifytest.Answer) *notifytest.Endpoint {
	t.Helper()
	return notifytest.NewEndpoint(t, notifytest.EndpointOptions{Secret: hookSecret, Now: clock.Now, Answer: answer})
}

// newSlackEndpoint is a Slack incoming webhook stand-in on clock.
func newSlackEndpoint(t *testing.T, clock *clocktest.Fake) *notifytest.Endpoint {
	t.Helper()
	return notifytest.NewEndpoint(t, notifytest.EndpointOptions{Now: clock.Now})
}

// env is a dispatcher over a fake outbox and real notifiers.
type env struct {
	clock  *clocktest.Fake
	outbox *notifytest.Outbox
	cases  notifytest.Cases
	logs   *notifytest.LogBuffer
	d      *notify.Dispatcher
	mu     sync.Mutex
	errs   []error
}

func newEnv(t *testing.T, clock *clocktest.Fake, sinkCfgs []notify.Sink, secrets notifytest.Secrets, router *notify.Router) *env {
	t.Helper()
	e := &env{clock: clock, cases: notifytest.Cases{seeded.ID: seeded}}
	e.outbox = &notifytest.Outbox{Now: e.clock.Now}
	logger, logs := notifytest.NewLogger()
	e.logs = logs
	ns, err := notify.Build(sinkCfgs, notify.Env{Secrets: secrets, Clock: e.clock, Location: eastern})
	if err != nil {
		t.Fatal(err)
	}
	if router.Sinks == nil {
		router.Sinks = notify.Names(sinkCfgs)
	}
	e.d = notify.NewDispatcher(e.outbox, e.cases, router, ns, e.clock, logger,
		notify.Options{Rand: func() float64 { return 0.5 }}) // no jitter: exact schedules
	t.Cleanup(func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		var all []string
		for _, v := range secrets {
			all = append(all, v)
		}
		notifytest.AssertNoSecrets(t, e.logs.String(), e.errs, e.outbox.All(),
			append(all, hookKeyPart, hookToken, slackToken)...)
	})
	return e
}

func (e *env) deliverOnce(t *testing.T) int {
	t.Helper()
	n, err := e.d.DeliverOnce(t.Context())
	if err != nil {
		e.mu.Lock()
		e.errs = append(e.errs, err)
		e.mu.Unlock()
		t.Fatalf("DeliverOnce: %v", err)
	}
	return n
}

// drain runs passes, advancing the fake clock by step between them, until
// no delivery is pending.
func (e *env) drain(t *testing.T, step time.Duration, maxPasses int) {
	t.Helper()
	for range maxPasses {
		e.deliverOnce(t)
		pending, err := e.outbox.PendingDeliveries(t.Context(), 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(pending) == 0 {
			return
		}
		e.clock.Advance(step)
	}
	t.Fatalf("deliveries still pending after %d passes", maxPasses)
}

func (e *env) enqueue(t *testing.T, alerts ...authpilot.Alert) {
	t.Helper()
	if _, err := e.outbox.Enqueue(t.Context(), alerts...); err != nil {
		t.Fatal(err)
	}
}

var eastern = func() *time.Location {
	l, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic(err)
	}
	return l
}()

var seeded = &authpilot.Case{
	ID: "01JCASE0000000000000000001", ExternalRef: "ORD-4411", Payer: "acme-health", PlanType: authpilot.PlanCommercial,
	ConnectorID: "acme-portal", Track: authpilot.TrackSurgery, Urgency: authpilot.UrgencyStandard,
	Patient: authpilot.Patient{FirstName: "Marguerite", LastName: "Quillfeather",
		DOB: authpilot.Date{Year: 1961, Month: time.July, Day: 14}, MemberID: "ZQX998877"},
	ServiceLines: []authpilot.ServiceLine{{Code: "22630", Units: 1, Level: "L4-L5"}},
	Diagnoses:    []string{"M51.16"},
	Status:       authpilot.StatusDenied,
}

// phi is what of the seeded case must never reach a sink without opt-in.
var phi = []string{"Marguerite", "Quillfeather", "1961-07-14", "ZQX998877", "22630", "M51.16", "L4-L5"}

func alertN(i int, typ authpilot.AlertType) authpilot.Alert {
	return authpilot.Alert{
		ID: fmt.Sprintf("01JALERT%018d", i), Type: typ, Severity: authpilot.SeverityWarning,
		At:     start.Add(time.Duration(i) * time.Millisecond),
		CaseID: seeded.ID, ExternalRef: seeded.ExternalRef, Payer: seeded.Payer, ConnectorID: seeded.ConnectorID,
		Track: seeded.Track, Status: authpilot.StatusPended, PrevStatus: authpilot.StatusSubmitted,
		Title: "More information requested", Action: "Upload the PT notes by Friday",
	}
}

func hookSink(name, urlSecret string) notify.Sink {
	return notify.Sink{Name: name, Type: webhook.KindName, Options: &webhook.Config{URLSecret: urlSecret, Secret: "hook-key"}}
}

func slackSink(name, urlSecret string) notify.Sink {
	return notify.Sink{Name: name, Type: slack.KindName, Options: &notify.ChatSink{Kind: slack.KindName, ChatConfig: slack.Config{URLSecret: urlSecret}}}
}

func phiSlackSink(name, urlSecret string) notify.Sink {
	s := slackSink(name, urlSecret)
	s.IncludePHI = true
	return s
}

func routeAll(sinks ...string) *notify.Router {
	return &notify.Router{Routes: []notify.Route{{Sinks: sinks}}}
}

// TestWebhookRetriesDeliverEachAlertOnceInOrder: a receiver that fails the
// first K requests, then accepts; every alert arrives exactly once, in the
// order raised, signed, after waits that honour Retry-After and backoff.
func TestWebhookRetriesDeliverEachAlertOnceInOrder(t *testing.T) {
	const alerts = 5
	tests := []struct {
		name       string
		failFirst  int
		code       int
		retryAfter string
		wantGaps   []time.Duration // minimum wait before each retry
	}{
		{name: "503 Retry-After 1", failFirst: 3, code: 503, retryAfter: "1",
			wantGaps: []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second}},
		{name: "429 Retry-After 120 beats backoff", failFirst: 2, code: 429, retryAfter: "120",
			wantGaps: []time.Duration{120 * time.Second, 120 * time.Second}},
		{name: "502 without Retry-After backs off", failFirst: 3, code: 502,
			wantGaps: []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second}},
		{name: "500 backs off", failFirst: 4, code: 500, retryAfter: "600",
			wantGaps: []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second}},
		{name: "504 HTTP-date Retry-After", failFirst: 1, code: 504, retryAfter: start.Add(10 * time.Minute).Format(http.TimeFormat),
			wantGaps: []time.Duration{10 * time.Minute}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := clocktest.New(start)
			ep := newEndpoint(t, clock, func(n int, _ notifytest.Request) notifytest.Answer {
				if n < tt.failFirst {
					return notifytest.Answer{Code: tt.code, RetryAfter: tt.retryAfter}
				}
				return notifytest.Answer{}
			})
			e := newEnv(t, clock, []notify.Sink{hookSink("hook", "hook-url")},
				notifytest.Secrets{"hook-url": ep.URL + "/in?token=" + hookToken, "hook-key": hookSecret}, routeAll("hook"))
			var raised []string
			for i := range alerts {
				a := alertN(i, authpilot.AlertStatusChanged)
				raised = append(raised, a.ID)
				e.enqueue(t, a)
			}
			e.drain(t, time.Second, 2000)

			reqs := ep.Requests()
			if len(reqs) != alerts+tt.failFirst {
				t.Fatalf("%d requests, want %d", len(reqs), alerts+tt.failFirst)
			}
			okCount := map[string]int{}
			var okOrder, allOrder []string
			for i, r := range reqs {
				if r.VerifyErr != nil {
					t.Errorf("request %d: signature does not verify: %v", i, r.VerifyErr)
				}
				if r.Header.Get(webhook.HeaderTimestamp) != fmt.Sprint(r.At.Unix()) {
					t.Errorf("request %d: webhook-timestamp %s, want the attempt's time %d", i, r.Header.Get(webhook.HeaderTimestamp), r.At.Unix())
				}
				if p := r.Payload(); p.Data.ID != r.ID() {
					t.Errorf("request %d: body %s does not carry the alert of webhook-id %s", i, r.Body, r.ID())
				}
				if allOrder == nil || allOrder[len(allOrder)-1] != r.ID() {
					allOrder = append(allOrder, r.ID())
				}
				if r.Code/100 == 2 {
					okCount[r.ID()]++
					okOrder = append(okOrder, r.ID())
				}
			}
			if len(okCount) != alerts {
				t.Errorf("%d distinct webhook-ids delivered, want %d", len(okCount), alerts)
			}
			for id, n := range okCount {
				if n != 1 {
					t.Errorf("alert %s delivered %d times", id, n)
				}
			}
			if !slices.Equal(okOrder, raised) {
				t.Errorf("delivered in order %q, want %q", okOrder, raised)
			}
			if !slices.Equal(allOrder, raised) {
				t.Errorf("attempted in order %q, want each alert finished before the next", allOrder)
			}
			for i, want := range tt.wantGaps {
				if gap := reqs[i+1].At.Sub(reqs[i].At); gap < want {
					t.Errorf("retry %d came %v after the failure, want at least %v", i+1, gap, want)
				}
			}
			ds, err := e.outbox.Deliveries(t.Context(), raised[0])
			if err != nil || len(ds) != 1 || ds[0].State != authpilot.DeliveryDelivered || ds[0].Attempts != tt.failFirst {
				t.Errorf("first alert's deliveries = %+v, %v; want delivered after %d failed attempts", ds, err, tt.failFirst)
			}
			if !strings.Contains(ds[0].LastError, fmt.Sprint(tt.code)) {
				t.Errorf("last error %q does not name the status", ds[0].LastError)
			}
		})
	}
}

// TestWebhookGoneDisablesSink: 410 disables the sink and tells the other
// sinks; its queue is kept, alerts raised meanwhile are queued for it, and
// once re-enabled it gets them all.
func TestWebhookGoneDisablesSink(t *testing.T) {
	clock := clocktest.New(start)
	hook := newEndpoint(t, clock, nil)
	hook.SetAnswer(notifytest.Answer{Code: 410})
	ops := newEndpoint(t, clock, nil)
	e := newEnv(t, clock, []notify.Sink{hookSink("hook", "hook-url"), hookSink("ops", "ops-url")},
		notifytest.Secrets{"hook-url": hook.URL + "/in?token=" + hookToken, "ops-url": ops.URL, "hook-key": hookSecret},
		&notify.Router{Routes: []notify.Route{{Types: []authpilot.AlertType{authpilot.AlertStatusChanged}, Sinks: []string{"hook"}}}})
	for i := range 3 {
		e.enqueue(t, alertN(i, authpilot.AlertStatusChanged))
	}

	e.deliverOnce(t)
	if n := len(hook.Requests()); n != 1 {
		t.Fatalf("gone endpoint got %d requests, want 1", n)
	}
	disabled, err := e.outbox.DisabledSinks(t.Context())
	if err != nil || !strings.Contains(disabled["hook"], "410") {
		t.Fatalf("DisabledSinks = %v, %v; want hook disabled for 410", disabled, err)
	}
	for i := range 3 {
		ds, _ := e.outbox.Deliveries(t.Context(), alertN(i, "").ID)
		if len(ds) != 1 || ds[0].State != authpilot.DeliveryPending {
			t.Errorf("alert %d: deliveries %+v, want one kept pending", i, ds)
		}
	}

	e.deliverOnce(t) // routes and delivers sink_disabled
	opsReqs := ops.Requests()
	if len(opsReqs) != 1 {
		t.Fatalf("ops got %d requests, want the sink_disabled alert", len(opsReqs))
	}
	p := opsReqs[0].Payload()
	if p.Type != authpilot.AlertSinkDisabled || !strings.Contains(p.Data.Title, `"hook"`) || p.Data.Sink != "hook" ||
		p.Data.Severity != authpilot.SeverityCritical || !strings.Contains(p.Data.Reason, "410") ||
		!strings.Contains(p.Data.Action, "authpilot notify enable hook") {
		t.Errorf("ops got %s %+v", p.Type, p.Data)
	}
	if opsReqs[0].VerifyErr != nil {
		t.Errorf("sink_disabled signature: %v", opsReqs[0].VerifyErr)
	}

	// Later alerts are queued for the disabled sink, not sent.
	e.enqueue(t, alertN(10, authpilot.AlertStatusChanged))
	e.clock.Advance(48 * time.Hour)
	e.deliverOnce(t)
	if n := len(hook.Requests()); n != 1 {
		t.Errorf("disabled endpoint got %d requests, want no more", n)
	}
	if ds, _ := e.outbox.Deliveries(t.Context(), alertN(10, "").ID); len(ds) != 1 || ds[0].State != authpilot.DeliveryPending {
		t.Errorf("alert raised while disabled: %+v, want queued", ds)
	}

	// Fixed and re-enabled two days later: the whole queue goes, in order.
	hook.SetAnswer(notifytest.Answer{})
	if was, err := e.outbox.EnableSink(t.Context(), "hook", e.clock.Now(), nil); err != nil || !was {
		t.Fatalf("EnableSink = %v, %v", was, err)
	}
	e.drain(t, time.Second, 20)
	var ids []string
	for _, r := range hook.Requests()[1:] {
		ids = append(ids, r.ID())
	}
	want := []string{alertN(0, "").ID, alertN(1, "").ID, alertN(2, "").ID, alertN(10, "").ID}
	if !slices.Equal(ids, want) {
		t.Errorf("after enable the sink got %q, want %q", ids, want)
	}
}

// TestWebhookClientErrorRetried: a 4xx is retried with backoff, it holds
// back only the later alerts of its own case, and after the retry window
// it is given up with a sink_failing alert to the other sink.
func TestWebhookClientErrorRetried(t *testing.T) {
	bad := alertN(0, authpilot.AlertStatusChanged)
	otherCase := alertN(1, authpilot.AlertStatusChanged)
	otherCase.CaseID = "01JCASE0000000000000000002"
	sameCase := alertN(2, authpilot.AlertStatusChanged)
	clock := clocktest.New(start)
	ep := newEndpoint(t, clock, func(_ int, r notifytest.Request) notifytest.Answer {
		if r.ID() == bad.ID {
			return notifytest.Answer{Code: 400}
		}
		return notifytest.Answer{}
	})
	ops := newEndpoint(t, clock, nil)
	e := newEnv(t, clock, []notify.Sink{hookSink("hook", "hook-url"), hookSink("ops", "ops-url")},
		notifytest.Secrets{"hook-url": ep.URL, "ops-url": ops.URL, "hook-key": hookSecret},
		&notify.Router{Routes: []notify.Route{{Types: []authpilot.AlertType{authpilot.AlertStatusChanged}, Sinks: []string{"hook"}}}})
	e.enqueue(t, bad, otherCase, sameCase)

	if n := e.deliverOnce(t); n != 1 {
		t.Errorf("DeliverOnce delivered %d, want the other case's alert", n)
	}
	for range 30 {
		e.clock.Advance(time.Hour)
		e.deliverOnce(t)
	}
	var ids []string
	for _, r := range ep.Requests() {
		ids = append(ids, r.ID())
	}
	if len(ids) < 10 || ids[0] != bad.ID || ids[1] != otherCase.ID || ids[len(ids)-1] != sameCase.ID ||
		slices.Index(ids, sameCase.ID) != len(ids)-1 {
		t.Errorf("requests %q: want the 400 retried, the other case at once, the same case only after the 400 was given up", ids)
	}
	ds, _ := e.outbox.Deliveries(t.Context(), bad.ID)
	if len(ds) != 1 || ds[0].State != authpilot.DeliveryDead || !strings.Contains(ds[0].LastError, "400") ||
		!strings.Contains(ds[0].LastError, "giving up after") {
		t.Errorf("deliveries = %+v, want dead with the 400 after the retry window", ds)
	}
	var types []authpilot.AlertType
	for _, r := range ops.Requests() {
		p := r.Payload()
		types = append(types, p.Type)
		if p.Type == authpilot.AlertSinkFailing && (p.Data.Sink != "hook" || !strings.Contains(p.Data.Reason, "http 400")) {
			t.Errorf("sink_failing %+v", p.Data)
		}
	}
	if want := []authpilot.AlertType{authpilot.AlertSinkFailing, authpilot.AlertResolved}; !slices.Equal(types, want) {
		t.Errorf("ops got %v, want %v", types, want)
	}
	if !strings.Contains(e.logs.String(), "alert delivery given up") {
		t.Error("giving up was not logged")
	}
}

// TestRetryWindow: the window counts from when the delivery was queued.
func TestRetryWindow(t *testing.T) {
	tests := []struct {
		name      string
		wait      time.Duration // between queuing and the first pass
		wantReqs  int
		wantError string
	}{
		{name: "queued more than a day ago is tried once", wait: 25 * time.Hour, wantReqs: 1,
			wantError: "giving up after 1 attempts in 24h0m0s: post webhook: http 503"},
		{name: "a retry past the day gives up", wait: 24*time.Hour - 2*time.Second, wantReqs: 1,
			wantError: "giving up after 1 attempts in 24h0m0s: post webhook: http 503"},
		{name: "an old alert queued now is tried", wait: 0, wantReqs: 1, wantError: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := clocktest.New(start)
			ep := newEndpoint(t, clock, func(int, notifytest.Request) notifytest.Answer { return notifytest.Answer{Code: 503} })
			e := newEnv(t, clock, []notify.Sink{hookSink("hook", "hook-url")},
				notifytest.Secrets{"hook-url": ep.URL, "hook-key": hookSecret}, routeAll("hook"))
			a := alertN(0, authpilot.AlertStatusChanged)
			a.At = start.Add(-72 * time.Hour) // raised while the daemon was down
			e.enqueue(t, a)
			if _, err := e.outbox.RouteNew(t.Context(), func(authpilot.Alert) []string { return []string{"hook"} }); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(tt.wait)
			e.deliverOnce(t)
			if n := len(ep.Requests()); n != tt.wantReqs {
				t.Errorf("%d requests, want %d", n, tt.wantReqs)
			}
			ds, _ := e.outbox.Deliveries(t.Context(), a.ID)
			wantState := authpilot.DeliveryDead
			if tt.wantError == "" {
				wantState = authpilot.DeliveryPending
			}
			if len(ds) != 1 || ds[0].State != wantState || !strings.Contains(ds[0].LastError, tt.wantError) {
				t.Errorf("deliveries = %+v, want %s with %q", ds, wantState, tt.wantError)
			}
		})
	}
}

func TestWebhookPHIOnlyForOptedInSink(t *testing.T) {
	clock := clocktest.New(start)
	plain := newEndpoint(t, clock, nil)
	ehr := newEndpoint(t, clock, nil)
	phiSink := hookSink("ehr", "ehr-url")
	phiSink.IncludePHI = true
	e := newEnv(t, clock, []notify.Sink{hookSink("plain", "plain-url"), phiSink},
		notifytest.Secrets{"plain-url": plain.URL, "ehr-url": ehr.URL, "hook-key": hookSecret}, routeAll("plain", "ehr"))
	known := alertN(0, authpilot.AlertDeterminationReceived)
	orphan := alertN(1, authpilot.AlertDeterminationReceived)
	orphan.CaseID = "01JCASEGONE"
	e.enqueue(t, known, orphan)
	e.drain(t, time.Second, 10)

	for _, r := range plain.Requests() {
		for _, s := range phi {
			if strings.Contains(string(r.Body), s) {
				t.Errorf("plain sink got PHI %q", s)
			}
		}
	}
	reqs := ehr.Requests()
	if len(reqs) != 2 {
		t.Fatalf("ehr got %d requests", len(reqs))
	}
	p := reqs[0].Payload()
	if p.Data.Patient == nil || p.Data.Patient.MemberID != "ZQX998877" || len(p.Data.ServiceLines) != 1 || p.Data.Diagnoses[0] != "M51.16" {
		t.Errorf("ehr payload lacks the opted-in PHI: %+v", p.Data)
	}
	orphanPayload := reqs[1].Payload()
	if orphanPayload.Data.Patient != nil || orphanPayload.Data.ID != orphan.ID {
		t.Error("alert of a missing case carried a patient")
	}
	if strings.Contains(e.logs.String(), "Quillfeather") || strings.Contains(e.logs.String(), "ZQX998877") {
		t.Error("PHI in logs")
	}
}

// slackMessage decodes a Slack body and checks it against Slack's limits.
func slackMessage(t *testing.T, body []byte) slack.Message {
	t.Helper()
	if !json.Valid(body) {
		t.Fatalf("invalid JSON: %s", body)
	}
	var m slack.Message
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if m.Text == "" {
		t.Error("no fallback text")
	}
	if len(m.Blocks) == 0 || len(m.Blocks) > 50 {
		t.Errorf("%d blocks", len(m.Blocks))
	}
	for i, b := range m.Blocks {
		if b.Text == nil {
			continue
		}
		n := utf8.RuneCountInString(b.Text.Text)
		if (b.Type == "header" && n > 150) || (b.Type == "section" && n > 3000) {
			t.Errorf("block %d (%s): %d chars", i, b.Type, n)
		}
	}
	return m
}

// TestSlackEveryAlertTypeWithoutPHI: one alert of each type about a case
// whose patient is known to the CaseReader; the default sink's messages are
// within Slack's limits and carry none of the PHI, while an opted-in sink
// shows it (so the check can fail).
func TestSlackEveryAlertTypeWithoutPHI(t *testing.T) {
	clock := clocktest.New(start)
	team := newSlackEndpoint(t, clock)
	withPHI := newSlackEndpoint(t, clock)
	phiSink := phiSlackSink("team-phi", "phi-url")
	e := newEnv(t, clock, []notify.Sink{slackSink("team", "team-url"), phiSink},
		notifytest.Secrets{"team-url": team.URL + "/services/T1/B1/" + slackToken, "phi-url": withPHI.URL + "/services/T2/B2/x"},
		routeAll("team", "team-phi"))

	long := strings.Repeat("The payer's note runs on & on <without end>. ", 120) // > 3,000 chars
	var raised []authpilot.Alert
	for i, typ := range authpilot.AlertTypes {
		a := alertN(i, typ)
		a.Severity = []authpilot.Severity{authpilot.SeverityInfo, authpilot.SeverityWarning, authpilot.SeverityCritical}[i%3]
		a.Title = strings.Repeat("Long title ", i*2) + string(typ)
		a.Deadline = &authpilot.Deadline{Kind: authpilot.DeadlineDecisionDue, Due: start.Add(23 * time.Hour)}
		a.AuthNumber = "AUTH-9"
		a.Reason = long
		if typ == authpilot.AlertDigest {
			for j := range 40 {
				a.Items = append(a.Items, authpilot.DigestItem{CaseID: fmt.Sprintf("01JCASE%019d", j), Payer: "acme-health",
					Track: authpilot.TrackImaging, Status: authpilot.StatusSubmitted, Deadline: a.Deadline})
			}
		}
		raised = append(raised, a)
		e.enqueue(t, a)
	}
	e.drain(t, 250*time.Millisecond, 400)

	reqs := team.Requests()
	if len(reqs) != len(raised) {
		t.Fatalf("team got %d messages, want %d", len(reqs), len(raised))
	}
	for i, r := range reqs {
		t.Run(string(raised[i].Type), func(t *testing.T) {
			m := slackMessage(t, r.Body)
			ctx := m.Blocks[len(m.Blocks)-1]
			if ctx.Type != "context" || !strings.Contains(ctx.Elements[0].Text, string(raised[i].Type)) ||
				!strings.Contains(ctx.Elements[0].Text, raised[i].ID) {
				t.Errorf("message %d is not the %s alert (order kept?): %+v", i, raised[i].Type, ctx)
			}
			for _, s := range phi {
				if strings.Contains(string(r.Body), s) {
					t.Errorf("PHI %q in the Slack message", s)
				}
			}
			if raised[i].Type != authpilot.AlertDigest && !strings.Contains(string(r.Body), "decision due Tue Nov 24, 4:00 PM EST (in 23h)") {
				t.Errorf("deadline not shown in the practice time zone: %s", r.Body)
			}
		})
	}
	shown := 0
	for _, r := range withPHI.Requests() {
		slackMessage(t, r.Body)
		if strings.Contains(string(r.Body), "Quillfeather") && strings.Contains(string(r.Body), "ZQX998877") {
			shown++
		}
	}
	if shown != len(raised) {
		t.Errorf("opted-in sink showed the patient in %d of %d messages", shown, len(raised))
	}
}

// TestSlackOneMessagePerSecondPerWebhook: three Slack sinks, two sharing a
// webhook URL; on the fake clock each URL gets at most one message per
// second, and waiting for the rate limit is not a failed attempt.
func TestSlackOneMessagePerSecondPerWebhook(t *testing.T) {
	clock := clocktest.New(start)
	ep := newSlackEndpoint(t, clock)
	e := newEnv(t, clock, []notify.Sink{
		slackSink("a", "url-a"),
		slackSink("a-too", "url-a"),
		slackSink("b", "url-b"),
	}, notifytest.Secrets{"url-a": ep.URL + "/services/A/" + slackToken, "url-b": ep.URL + "/services/B/x"},
		routeAll("a", "a-too", "b"))
	const alerts = 3
	for i := range alerts {
		e.enqueue(t, alertN(i, authpilot.AlertStatusChanged))
	}
	if n := e.deliverOnce(t); n != 2 {
		t.Errorf("first pass delivered %d, want one per webhook URL", n)
	}
	if n := e.deliverOnce(t); n != 0 {
		t.Errorf("second pass at the same instant delivered %d", n)
	}
	e.drain(t, 250*time.Millisecond, 100)

	last := map[string]time.Time{}
	count := map[string]int{}
	for _, r := range ep.Requests() {
		if prev, ok := last[r.Path]; ok && r.At.Sub(prev) < time.Second {
			t.Errorf("%s got two messages %v apart", r.Path[:12], r.At.Sub(prev))
		}
		last[r.Path] = r.At
		count[r.Path[:11]]++
	}
	if count["/services/A"] != 2*alerts || count["/services/B"] != alerts {
		t.Errorf("messages per webhook = %v", count)
	}
	for _, d := range e.outbox.All() {
		if d.State != authpilot.DeliveryDelivered || d.Attempts != 0 || d.LastError != "" {
			t.Errorf("delivery %d to %s: %s, %d failed attempts, %q", d.ID, d.Sink, d.State, d.Attempts, d.LastError)
		}
	}
}

// TestNoSecretLeaks: failures of every kind against URLs holding tokens
// leave no secret in logs, errors or stored last errors (the env's cleanup
// checks; this test makes the failures happen).
func TestNoSecretLeaks(t *testing.T) {
	clock := clocktest.New(start)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	ep := newEndpoint(t, clock, func(n int, _ notifytest.Request) notifytest.Answer {
		return notifytest.Answer{Code: []int{500, 401, 410}[n%3]}
	})
	e := newEnv(t, clock, []notify.Sink{
		hookSink("down", "down-url"),
		slackSink("slack-down", "slack-down-url"),
		hookSink("flaky", "flaky-url"),
	}, notifytest.Secrets{
		"down-url":       closedURL + "/hook?token=" + hookToken,
		"slack-down-url": closedURL + "/services/T/B/" + slackToken,
		"flaky-url":      ep.URL + "/x?token=" + hookToken,
		"hook-key":       hookSecret,
	}, routeAll("down", "slack-down", "flaky"))
	for i := range 3 {
		e.enqueue(t, alertN(i, authpilot.AlertNeedsHuman))
	}
	for range 5 {
		e.deliverOnce(t)
		e.clock.Advance(time.Minute)
	}
	if err := e.d.SendTest(t.Context(), "slack-down"); err == nil {
		t.Error("SendTest to a closed port succeeded")
	} else {
		e.errs = append(e.errs, err)
	}
	logs := e.logs.String()
	for _, want := range []string{"alert delivery failed, will retry", "sink disabled", "connection refused"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q (the failures did not happen?)", want)
		}
	}
}

func TestRunWakesOnKickAndTimer(t *testing.T) {
	clock := clocktest.New(start)
	ep := newEndpoint(t, clock, func(n int, _ notifytest.Request) notifytest.Answer {
		if n == 0 {
			return notifytest.Answer{Code: 503, RetryAfter: "1"}
		}
		return notifytest.Answer{}
	})
	e := newEnv(t, clock, []notify.Sink{hookSink("hook", "hook-url")},
		notifytest.Secrets{"hook-url": ep.URL, "hook-key": hookSecret}, routeAll("hook"))
	e.enqueue(t, alertN(0, authpilot.AlertStatusChanged))

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- e.d.Run(ctx) }()

	wait := func(what string) {
		t.Helper()
		select {
		case <-ep.Arrived():
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		}
	}
	wait("the first attempt")
	// Run sleeps until the retry is due (5 s backoff, > Retry-After 1).
	if err := e.clock.BlockUntilDue(ctx, start.Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(5 * time.Second)
	wait("the retry")

	// Then it sleeps on the poll interval; a kick wakes it for a new alert.
	if err := e.clock.BlockUntilDue(ctx, start.Add(35*time.Second)); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	e.enqueue(t, alertN(1, authpilot.AlertStatusChanged))
	e.d.Kick()
	wait("the kicked delivery")
	// The pass is over once Run sleeps again.
	if err := e.clock.BlockUntilDue(ctx, start.Add(36*time.Second)); err != nil {
		t.Fatal(err)
	}
	if n := e.clock.Waiters(); n != 1 {
		t.Errorf("%d timers pending, want the kicked-away one stopped", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil on cancel", err)
	}
	for _, d := range e.outbox.All() {
		if d.State != authpilot.DeliveryDelivered {
			t.Errorf("delivery %d is %s", d.ID, d.State)
		}
	}
}

func TestSendTest(t *testing.T) {
	clock := clocktest.New(start)
	ep := newEndpoint(t, clock, nil)
	e := newEnv(t, clock, []notify.Sink{hookSink("hook", "hook-url")},
		notifytest.Secrets{"hook-url": ep.URL, "hook-key": hookSecret}, routeAll("hook"))

	if err := e.d.SendTest(t.Context(), "hook"); err != nil {
		t.Fatalf("SendTest: %v", err)
	}
	reqs := ep.Requests()
	if len(reqs) != 1 || reqs[0].VerifyErr != nil {
		t.Fatalf("requests = %+v", reqs)
	}
	if p := reqs[0].Payload(); p.Type != authpilot.AlertTest || p.Data.ID == "" {
		t.Errorf("payload = %+v", p)
	}
	if len(e.outbox.All()) != 0 {
		t.Error("test alert went through the outbox")
	}
	if err := e.d.SendTest(t.Context(), "nope"); err == nil || !strings.Contains(err.Error(), `unknown sink "nope"`) {
		t.Errorf("SendTest(unknown) = %v", err)
	}
}

func TestUnconfiguredSinkIsGivenUp(t *testing.T) {
	e := newEnv(t, clocktest.New(start), nil, notifytest.Secrets{}, routeAll("removed"))
	a := alertN(0, authpilot.AlertStatusChanged)
	e.enqueue(t, a)
	e.deliverOnce(t)
	ds, _ := e.outbox.Deliveries(t.Context(), a.ID)
	if len(ds) != 1 || ds[0].State != authpilot.DeliveryDead || ds[0].LastError != "sink is not configured" {
		t.Errorf("deliveries = %+v", ds)
	}
}

var _ notify.Outbox = (*notifytest.Outbox)(nil)

package teams_test

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/notify"
	"github.com/authpilot/authpilot/notify/notifytest"
	"github.com/authpilot/authpilot/notify/teams"
	"github.com/authpilot/authpilot/schedules/clocktest"
)

// newEndpoint is a Teams incoming webhook: it checks every body is a
// message with one Adaptive Card attachment of a schema Teams renders,
// within the size limit (a bad one fails the test and is answered 400),
// and answers the others with answer (the zero Answer: 202).
func newEndpoint(t *testing.T, answer notifytest.Answer) *notifytest.Endpoint {
	answer.Code = cmp.Or(answer.Code, http.StatusAccepted)
	return notifytest.NewEndpoint(t, notifytest.EndpointOptions{Answer: func(_ int, r notifytest.Request) notifytest.Answer {
		if err := checkSchema(r); err != nil {
			t.Errorf("bad message: %v\n%s", err, r.Body)
			return notifytest.Answer{Code: http.StatusBadRequest, Body: "bad card"}
		}
		return answer
	}})
}

// checkSchema checks what Teams requires of an incoming-webhook card.
func checkSchema(r notifytest.Request) error {
	body := r.Body
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		return fmt.Errorf("%s with %q", r.Method, r.Header.Get("Content-Type"))
	}
	if len(body) > 28*1024 {
		return fmt.Errorf("%d bytes: over Teams' 28 KB", len(body))
	}
	var m struct {
		Type        string `json:"type"`
		Attachments []struct {
			ContentType string           `json:"contentType"`
			ContentURL  *string          `json:"contentUrl"`
			Content     *json.RawMessage `json:"content"`
		} `json:"attachments"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	if err := dec.Decode(&m); err != nil {
		return err
	}
	if m.Type != "message" || len(m.Attachments) != 1 {
		return fmt.Errorf("type %q with %d attachments", m.Type, len(m.Attachments))
	}
	a := m.Attachments[0]
	if a.ContentType != "application/vnd.microsoft.card.adaptive" || a.ContentURL != nil || a.Content == nil {
		return fmt.Errorf("attachment %q", a.ContentType)
	}
	var card struct {
		Schema  string            `json:"$schema"`
		Type    string            `json:"type"`
		Version string            `json:"version"`
		Body    []json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(*a.Content, &card); err != nil {
		return err
	}
	if card.Schema != "http://adaptivecards.io/schemas/adaptive-card.json" || card.Type != "AdaptiveCard" ||
		(card.Version != "1.4" && card.Version != "1.5") || len(card.Body) == 0 {
		return fmt.Errorf("card %q %q %q with %d elements", card.Schema, card.Type, card.Version, len(card.Body))
	}
	for i, raw := range card.Body {
		var el struct {
			Type  string `json:"type"`
			Text  string `json:"text"`
			Facts []struct {
				Title string `json:"title"`
				Value string `json:"value"`
			} `json:"facts"`
		}
		if err := json.Unmarshal(raw, &el); err != nil {
			return err
		}
		switch el.Type {
		case "TextBlock":
			if el.Text == "" {
				return fmt.Errorf("body[%d]: empty TextBlock", i)
			}
		case "FactSet":
			if len(el.Facts) == 0 {
				return fmt.Errorf("body[%d]: empty FactSet", i)
			}
			for _, f := range el.Facts {
				if f.Title == "" || f.Value == "" {
					return fmt.Errorf("body[%d]: fact %q: %q", i, f.Title, f.Value)
				}
			}
		default:
			return fmt.Errorf("body[%d]: element type %q", i, el.Type)
		}
	}
	return nil
}

var (
	start   = time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	eastern = func() *time.Location { l, _ := time.LoadLocation("America/New_York"); return l }()
	seeded  = notifytest.Case()
	phi     = notifytest.CasePHI()
)

const webhookSecret = "sig=TEAMS-SIGNATURE-SECRET"

func alert() authpilot.Alert { return notifytest.Alert(authpilot.SeverityCritical, start) }

func newNotifier(t *testing.T, e *notifytest.Endpoint, extra string) *teams.Notifier {
	t.Helper()
	s := notifytest.Sink(t, "name: ops\ntype: teams\nurl_secret: teams-url\n"+extra)
	n, err := teams.New(s, s.Options.(*notify.ChatSink).ChatConfig, notifytest.Secrets{"teams-url": e.URL + "/webhook?" + webhookSecret},
		teams.Options{Clock: clocktest.New(start), Location: eastern})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func delivery(a authpilot.Alert) notify.Delivery {
	return notify.Delivery{Delivery: authpilot.Delivery{Sink: "ops", Alert: a}, Case: seeded}
}

func TestDeliver(t *testing.T) {
	e := newEndpoint(t, notifytest.Answer{})
	n := newNotifier(t, e, "")
	retry, _, err := n.Notify(t.Context(), delivery(alert()))
	if err != nil || retry {
		t.Fatalf("Notify = %v, %v", retry, err)
	}
	got := e.Bodies()
	if len(got) != 1 {
		t.Fatalf("%d posts", len(got))
	}
	for _, want := range []string{
		`"text":"Request denied"`, `"color":"Attention"`, `{"title":"Case","value":"01JCASE0000000000000000001"}`,
		`{"title":"Status","value":"pended → denied"}`,
		`peer-to-peer window closes Tue Nov 24, 12:00 PM EST (in 26h)`, `**What to do:** Schedule the peer-to-peer`,
	} {
		if !strings.Contains(got[0], want) {
			t.Errorf("card lacks %s:\n%s", want, got[0])
		}
	}
	// The case was handed over but the sink has no include_phi.
	for _, v := range phi {
		if strings.Contains(got[0], v) {
			t.Errorf("card carries %q", v)
		}
	}
}

func TestIncludePHI(t *testing.T) {
	e := newEndpoint(t, notifytest.Answer{})
	n := newNotifier(t, e, "include_phi: true\n")
	if _, _, err := n.Notify(t.Context(), delivery(alert())); err != nil {
		t.Fatal(err)
	}
	body := e.Bodies()[0]
	for _, want := range []string{`{"title":"Patient","value":"Quillfeather, Marguerite"}`, `{"title":"Member ID","value":"ZQX998877"}`} {
		if !strings.Contains(body, want) {
			t.Errorf("card lacks %s", want)
		}
	}
}

// TestStatuses: 429 and 5xx are retried (after Retry-After when given),
// 410 disables the sink; no error carries the URL's signature.
func TestStatuses(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		retryAfter string
		wantRetry  bool
		wantAfter  time.Duration
		wantGone   bool
		wantErrSub string
	}{
		{name: "accepted", status: http.StatusAccepted},
		{name: "ok", status: http.StatusOK},
		{name: "throttled", status: http.StatusTooManyRequests, retryAfter: "30", wantRetry: true, wantAfter: 30 * time.Second, wantErrSub: "http 429"},
		{name: "server error", status: http.StatusInternalServerError, wantRetry: true, wantErrSub: "http 500"},
		{name: "unavailable", status: http.StatusServiceUnavailable, retryAfter: "120", wantRetry: true, wantAfter: 2 * time.Minute, wantErrSub: "http 503"},
		{name: "webhook removed", status: http.StatusGone, wantGone: true, wantErrSub: "http 410"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEndpoint(t, notifytest.Answer{Code: tt.status, RetryAfter: tt.retryAfter})
			n := newNotifier(t, e, "")
			retry, after, err := n.Notify(t.Context(), delivery(alert()))
			if tt.wantErrSub == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErrSub) || retry != tt.wantRetry || after != tt.wantAfter ||
				errors.Is(err, notify.ErrGone) != tt.wantGone {
				t.Errorf("Notify = %v, %v, %v", retry, after, err)
			}
			notifytest.AssertNoSecrets(t, "", []error{err}, nil, "TEAMS-SIGNATURE-SECRET")
		})
	}
	e := newEndpoint(t, notifytest.Answer{})
	n := newNotifier(t, e, "timeout: 1s\n")
	e.Close()
	retry, _, err := n.Notify(t.Context(), delivery(alert()))
	if err == nil || !retry {
		t.Errorf("endpoint down: Notify = %v, %v", retry, err)
	}
	notifytest.AssertNoSecrets(t, "", []error{err}, nil, "TEAMS-SIGNATURE-SECRET")
}

// TestSizeLimit: a huge digest and a huge payer text still make a card
// Teams accepts.
func TestSizeLimit(t *testing.T) {
	e := newEndpoint(t, notifytest.Answer{})
	s := notifytest.Sink(t, "name: ops\ntype: teams\nurl_secret: teams-url")
	n, err := teams.New(s, s.Options.(*notify.ChatSink).ChatConfig, notifytest.Secrets{"teams-url": e.URL},
		teams.Options{Clock: clocktest.New(start), DigestRows: 5000})
	if err != nil {
		t.Fatal(err)
	}
	digest := authpilot.Alert{ID: "01JALERT000000000000000002", Type: authpilot.AlertDigest, Severity: authpilot.SeverityInfo, Title: "Open cases"}
	for i := range 3000 {
		digest.Items = append(digest.Items, authpilot.DigestItem{CaseID: fmt.Sprintf("01JCASE%019d", i), Payer: "acme-health",
			Track: authpilot.TrackImaging, Status: authpilot.StatusPended, Deadline: &authpilot.Deadline{Kind: authpilot.DeadlineDecisionDue, Due: start}})
	}
	long := alert()
	long.Reason = strings.Repeat("The payer's very long explanation. ", 3000)
	long.Action = strings.Repeat("Call the payer. ", 3000)
	for _, a := range []authpilot.Alert{digest, long} {
		if _, _, err := n.Notify(t.Context(), notify.Delivery{Delivery: authpilot.Delivery{Sink: "ops", Alert: a}}); err != nil {
			t.Fatalf("%s: %v", a.Type, err)
		}
	}
	got := e.Bodies()
	if len(got) != 2 {
		t.Fatalf("%d cards accepted", len(got))
	}
	if !strings.Contains(got[0], "…and ") {
		t.Errorf("digest card does not say how many rows were left out")
	}
}

// TestThroughDispatcher: the dispatcher redacts the PHI in an alert's text
// before a Teams sink without include_phi gets it.
func TestThroughDispatcher(t *testing.T) {
	e := newEndpoint(t, notifytest.Answer{})
	clock := clocktest.New(start)
	s := notifytest.Sink(t, "name: ops\ntype: teams\nurl_secret: teams-url")
	n, err := teams.New(s, s.Options.(*notify.ChatSink).ChatConfig, notifytest.Secrets{"teams-url": e.URL}, teams.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	d, _, logs := notifytest.Dispatcher(t, "ops", n, clock, notifytest.Denial(authpilot.SeverityCritical, start))
	if _, err := d.DeliverOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := e.Bodies()
	if len(got) != 1 {
		t.Fatalf("%d cards; logs:\n%s", len(got), logs)
	}
	if !strings.Contains(got[0], `"value":"Denied for [REDACTED] [REDACTED] (DOB [REDACTED]), member [REDACTED], order [REDACTED]: not medically necessary."`) {
		t.Errorf("reason not redacted:\n%s", got[0])
	}
	for _, v := range phi {
		if strings.Contains(got[0], v) {
			t.Errorf("card carries %q", v)
		}
	}
}

func TestDecode(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{name: "url in the config", src: "url: https://example.webhook.office.com/x?sig=TEAMS-SIGNATURE-SECRET",
			want: "3: url: a Teams webhook URL is a secret: store it with `authpilot secrets set` and name it in url_secret"},
		{name: "no url", src: "timeout: 5s", want: "1: url_secret: required for a teams sink"},
		{name: "typo", src: "url_secert: u", want: `3: unknown key "url_secert" (did you mean "url_secret"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := notifytest.DecodeSink("name: ops\ntype: teams\n" + tt.src)
			notifytest.CheckDecode(t, err, tt.want, "TEAMS-SIGNATURE-SECRET")
		})
	}
}

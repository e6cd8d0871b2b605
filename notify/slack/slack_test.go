package slack_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/notify"
	"github.com/authpilot/authpilot/notify/notifytest"
	"github.com/authpilot/authpilot/notify/slack"
	"github.com/authpilot/authpilot/schedules"
	"github.com/authpilot/authpilot/schedules/clocktest"
)

var eastern = mustLoad("America/New_York")

func mustLoad(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// checkLimits fails t unless m is within Slack's limits and encodes to
// valid JSON; it returns the JSON.
func checkLimits(t *testing.T, m slack.Message) string {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil || !json.Valid(b) {
		t.Fatalf("message does not encode to valid JSON: %v", err)
	}
	if m.Text == "" {
		t.Error("no fallback text")
	}
	if n := len(m.Blocks); n == 0 || n > slack.MaxBlocks {
		t.Errorf("%d blocks, want 1..%d", n, slack.MaxBlocks)
	}
	for i, bl := range m.Blocks {
		switch bl.Type {
		case "header":
			if bl.Text == nil || bl.Text.Type != "plain_text" || utf8.RuneCountInString(bl.Text.Text) > slack.MaxHeaderText {
				t.Errorf("block %d: bad header %+v", i, bl.Text)
			}
		case "section":
			if bl.Text == nil || utf8.RuneCountInString(bl.Text.Text) > slack.MaxSectionText || bl.Text.Text == "" {
				t.Errorf("block %d: section text of %d chars", i, utf8.RuneCountInString(bl.Text.Text))
			}
		case "context":
			if len(bl.Elements) == 0 || len(bl.Elements) > slack.MaxContextItems {
				t.Errorf("block %d: %d context elements", i, len(bl.Elements))
			}
			for _, e := range bl.Elements {
				if utf8.RuneCountInString(e.Text) > slack.MaxSectionText {
					t.Errorf("block %d: context element of %d chars", i, utf8.RuneCountInString(e.Text))
				}
			}
		default:
			t.Errorf("block %d: unexpected type %q", i, bl.Type)
		}
	}
	return string(b)
}

func TestBuildAlert(t *testing.T) {
	now := time.Date(2026, 11, 23, 23, 0, 0, 0, time.UTC) // Mon 6:00 PM EST
	a := authpilot.Alert{
		ID: "01JALERT000000000000000001", Type: authpilot.AlertDeadlineApproaching, Severity: authpilot.SeverityWarning, At: now,
		CaseID: "01JCASE0000000000000000001", ExternalRef: "ORD-77", Payer: "acme-health", ConnectorID: "acme-portal",
		Track: authpilot.TrackSurgery, Status: authpilot.StatusDenied, PrevStatus: authpilot.StatusPended,
		Title:      "Peer-to-peer window closes tomorrow",
		Action:     "Schedule the peer-to-peer with acme-health before the window closes",
		Deadline:   &authpilot.Deadline{Kind: authpilot.DeadlinePeerToPeer, Due: time.Date(2026, 11, 24, 22, 0, 0, 0, time.UTC)},
		AuthNumber: "AUTH-1", Reason: "Criteria <not met> & no PT notes",
		Link: "https://authpilot.example.org/cases/01JCASE0000000000000000001",
	}
	m := slack.Build(a, nil, slack.BuildOptions{Now: now, Location: eastern})
	js := checkLimits(t, m)
	if h := m.Blocks[0].Text.Text; h != ":warning: Peer-to-peer window closes tomorrow" {
		t.Errorf("header = %q", h)
	}
	facts := m.Blocks[1].Text.Text
	for _, want := range []string{
		"`01JCASE0000000000000000001`", "ORD-77", "acme-health", "surgery", "pended → *denied*",
		"peer-to-peer window closes Tue Nov 24, 5:00 PM EST (in 23h)", "AUTH-1",
		"Criteria &lt;not met&gt; &amp; no PT notes",
		"<https://authpilot.example.org/cases/01JCASE0000000000000000001|Open the case>",
	} {
		if !strings.Contains(facts, want) {
			t.Errorf("facts section lacks %q:\n%s", want, facts)
		}
	}
	if !strings.Contains(m.Blocks[2].Text.Text, "*What to do:* Schedule the peer-to-peer") {
		t.Errorf("action section = %q", m.Blocks[2].Text.Text)
	}
	ctx := m.Blocks[len(m.Blocks)-1]
	if ctx.Type != "context" || !strings.Contains(ctx.Elements[0].Text, "`deadline_approaching`") ||
		!strings.Contains(ctx.Elements[0].Text, a.ID) {
		t.Errorf("context = %+v", ctx)
	}
	if strings.Contains(js, "<not met>") {
		t.Error("payer text reached Slack unescaped")
	}
}

func TestBuildEnforcesLimits(t *testing.T) {
	long := strings.Repeat("Lorem ipsum & dolor ", 400) // 8,000 chars, with entities
	a := authpilot.Alert{
		ID: "01JALERT", Type: authpilot.AlertNeedsHuman, Severity: authpilot.SeverityCritical,
		Title: strings.Repeat("T", 400), Action: long, Reason: long, CaseID: "01JCASE",
	}
	m := slack.Build(a, nil, slack.BuildOptions{Now: time.Unix(0, 0)})
	checkLimits(t, m)
	if h := m.Blocks[0].Text.Text; !strings.HasSuffix(h, "…") || utf8.RuneCountInString(h) != slack.MaxHeaderText {
		t.Errorf("header not truncated to %d with …: %d chars", slack.MaxHeaderText, utf8.RuneCountInString(h))
	}
	for _, b := range m.Blocks[1:3] {
		txt := b.Text.Text
		if !strings.HasSuffix(txt, "…") {
			t.Errorf("long section not truncated with …")
		}
		if i := strings.LastIndexByte(txt, '&'); i >= 0 && !strings.Contains(txt[i:], ";") {
			t.Errorf("truncation left half an entity: %q", txt[len(txt)-20:])
		}
	}
}

func TestBuildDigest(t *testing.T) {
	now := time.Date(2026, 11, 23, 13, 0, 0, 0, time.UTC)
	items := func(n int) []authpilot.DigestItem {
		out := make([]authpilot.DigestItem, n)
		for i := range out {
			out[i] = authpilot.DigestItem{
				CaseID: fmt.Sprintf("01JCASE%019d", i), Payer: "acme-health-commercial-plans", Track: authpilot.TrackImaging,
				Status:   authpilot.StatusSubmitted,
				Deadline: &authpilot.Deadline{Kind: authpilot.DeadlineDecisionDue, Due: now.Add(time.Duration(i) * time.Hour)},
			}
		}
		return out
	}
	tests := []struct {
		name     string
		items    int
		rows     int
		wantRows int
		wantMore string
	}{
		{name: "empty digest", items: 0, wantRows: 0},
		{name: "short digest lists all", items: 3, wantRows: 3},
		{name: "500 items capped at the default", items: 500, wantRows: slack.DefaultDigestRows, wantMore: "…and 475 more"},
		{name: "500 items uncapped fit in 50 blocks", items: 500, rows: 500, wantRows: 500},
		{name: "2000 items uncapped are cut to 50 blocks", items: 2000, rows: 2000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := authpilot.Alert{ID: "01JDIGEST", Type: authpilot.AlertDigest, Severity: authpilot.SeverityInfo, At: now,
				Title: fmt.Sprintf("Daily digest: %d open cases", tt.items), Items: items(tt.items)}
			m := slack.Build(a, nil, slack.BuildOptions{Now: now, Location: eastern, DigestRows: tt.rows})
			js := checkLimits(t, m)
			rows := strings.Count(js, "• `01JCASE")
			if tt.items == 2000 {
				// Too many for 50 blocks: enforce drops blocks and says so.
				if rows >= 2000 || !strings.Contains(js, "more blocks not shown") {
					t.Errorf("%d rows shown, no drop notice", rows)
				}
				return
			}
			if rows != tt.wantRows {
				t.Errorf("%d rows, want %d", rows, tt.wantRows)
			}
			if tt.wantMore != "" && !strings.Contains(js, tt.wantMore) {
				t.Errorf("no %q line", tt.wantMore)
			}
			if tt.items == 3 && !strings.Contains(js, "decision due Mon Nov 23, 10:00 AM EST (in 2h)") {
				t.Errorf("row deadline not in the practice time zone:\n%s", js)
			}
		})
	}
}

func TestRelativeDeadlines(t *testing.T) {
	now := time.Date(2026, 3, 7, 15, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		due  time.Time
		want string
	}{
		{name: "minutes ahead", due: now.Add(45 * time.Minute), want: "Sat Mar 7, 10:45 AM EST (in 45m)"},
		{name: "hours ahead", due: now.Add(23*time.Hour + 40*time.Minute), want: "(in 23h)"},
		{name: "days ahead across DST", due: now.Add(3*24*time.Hour + 5*time.Hour), want: "Tue Mar 10, 4:00 PM EDT (in 3d 5h)"},
		{name: "overdue", due: now.Add(-3 * time.Hour), want: "(3h ago)"},
		{name: "now", due: now.Add(20 * time.Second), want: "(now)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := authpilot.Alert{ID: "x", Type: authpilot.AlertDeadlineApproaching, Title: "t",
				Deadline: &authpilot.Deadline{Kind: authpilot.DeadlineDecisionDue, Due: tt.due}}
			m := slack.Build(a, nil, slack.BuildOptions{Now: now, Location: eastern})
			if txt := m.Blocks[1].Text.Text; !strings.Contains(txt, tt.want) {
				t.Errorf("deadline line %q lacks %q", txt, tt.want)
			}
		})
	}
}

func newSlack(t *testing.T, url string, clock schedules.Clock, lim *slack.Limiter) *slack.Notifier {
	t.Helper()
	n, err := slack.New(notify.Sink{Name: "team", Type: slack.KindName}, slack.Config{URLSecret: "slack-url"},
		notifytest.Secrets{"slack-url": url}, slack.Options{ChatOptions: notify.ChatOptions{Clock: clock, Location: eastern}, Limiter: lim})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func delivery(id string) notify.Delivery {
	return notify.Delivery{Delivery: authpilot.Delivery{Sink: "team", Alert: authpilot.Alert{
		ID: id, Type: authpilot.AlertStatusChanged, Severity: authpilot.SeverityInfo, Title: "Pended", CaseID: "01JCASE"}}}
}

func TestNotifyAnswers(t *testing.T) {
	tests := []struct {
		name      string
		code      int
		ra, body  string
		wantRetry bool
		wantAfter time.Duration
		wantGone  bool
		wantErr   string
		wantHold  time.Duration // limiter delay right after
	}{
		{name: "ok", code: 200, body: "ok", wantHold: time.Second},
		{name: "rate limited honours Retry-After", code: 429, ra: "30", body: "rate_limited", wantRetry: true,
			wantAfter: 30 * time.Second, wantErr: "http 429 Too Many Requests: rate_limited", wantHold: 30 * time.Second},
		{name: "archived channel is gone", code: 410, body: "channel_is_archived", wantGone: true, wantErr: "channel_is_archived", wantHold: time.Second},
		{name: "invalid payload retried (the dispatcher bounds it)", code: 400, body: "invalid_blocks", wantRetry: true,
			wantErr: "invalid_blocks", wantHold: time.Second},
		{name: "server error retried", code: 500, body: "<html>oops</html>", wantRetry: true, wantErr: "http 500", wantHold: time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := notifytest.NewEndpoint(t, notifytest.EndpointOptions{})
			srv.SetAnswer(notifytest.Answer{Code: tt.code, RetryAfter: tt.ra, Body: tt.body})
			clock := clocktest.New(time.Unix(1_800_000_000, 0))
			n := newSlack(t, srv.URL+"/services/T000/B000/XOXTOKEN", clock, nil)
			retry, after, err := n.Notify(t.Context(), delivery("01JA"))
			if retry != tt.wantRetry || after != tt.wantAfter || errors.Is(err, notify.ErrGone) != tt.wantGone {
				t.Errorf("Notify = %v, %v, %v", retry, after, err)
			}
			if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
			if d := n.Throttle(clock.Now()); d != tt.wantHold {
				t.Errorf("Throttle after = %v, want %v", d, tt.wantHold)
			}
			notifytest.AssertNoSecrets(t, "", []error{err}, nil, "XOXTOKEN", "/services/T000")
		})
	}
}

func TestNotifyOneMessagePerSecondPerWebhook(t *testing.T) {
	srv := notifytest.NewEndpoint(t, notifytest.EndpointOptions{})
	clock := clocktest.New(time.Unix(1_800_000_000, 0))
	lim := slack.NewLimiter(slack.Interval)
	a := newSlack(t, srv.URL+"/services/A", clock, lim)
	a2 := newSlack(t, srv.URL+"/services/A", clock, lim) // another sink, same webhook
	b := newSlack(t, srv.URL+"/services/B", clock, lim)

	steps := []struct {
		name      string
		n         *slack.Notifier
		advance   time.Duration
		wantSent  bool
		wantAfter time.Duration
	}{
		{name: "first message to A goes", n: a, wantSent: true},
		{name: "second to A at once is throttled", n: a, wantAfter: time.Second},
		{name: "same webhook through another sink is throttled", n: a2, wantAfter: time.Second},
		{name: "another webhook is independent", n: b, wantSent: true},
		{name: "A after 999ms still throttled", n: a, advance: 999 * time.Millisecond, wantAfter: time.Millisecond},
		{name: "A after a full second goes", n: a2, advance: time.Millisecond, wantSent: true},
	}
	sent := 0
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			clock.Advance(st.advance)
			retry, after, err := st.n.Notify(t.Context(), delivery("01J"+st.name))
			if st.wantSent {
				sent++
				if err != nil {
					t.Fatalf("Notify: %v", err)
				}
			} else if !errors.Is(err, notify.ErrThrottled) || !retry || after != st.wantAfter {
				t.Fatalf("Notify = %v, %v, %v; want ErrThrottled after %v", retry, after, err, st.wantAfter)
			}
			if got := len(srv.Requests()); got != sent {
				t.Errorf("server got %d messages, want %d", got, sent)
			}
		})
	}
}

func TestNewRequiresKeyringURL(t *testing.T) {
	tests := []struct {
		name string
		cfg  slack.Config
		sec  notifytest.Secrets
		want string
	}{
		{name: "plain url refused", cfg: slack.Config{URL: "https://hooks.slack.com/services/TOPSECRET"},
			want: "store it with `authpilot secrets set`"},
		{name: "secret missing", cfg: slack.Config{URLSecret: "u"}, sec: notifytest.Secrets{},
			want: "secret not found"},
		{name: "secret not a URL", cfg: slack.Config{URLSecret: "u"},
			sec: notifytest.Secrets{"u": "hooks.slack.com/services/TOPSECRET"}, want: "does not hold an http(s) URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := slack.New(notify.Sink{Name: "s", Type: slack.KindName}, tt.cfg, tt.sec, slack.Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want %q", err, tt.want)
			}
			notifytest.AssertNoSecrets(t, "", []error{err}, nil, "TOPSECRET")
		})
	}
}

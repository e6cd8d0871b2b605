package fhirpas

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/connectors"
	"github.com/authpilot/authpilot/notify/notifytest"
	"github.com/authpilot/authpilot/payersim/pas"
)

func TestCapabilities(t *testing.T) {
	h := newHarness(t, harnessConfig{})
	want := connectors.Capabilities{Submit: true, Poll: true, Find: true, Respond: true}
	if got := h.conn.Capabilities(); got != want {
		t.Errorf("Capabilities = %+v", got)
	}
}

func TestSubmitDecisions(t *testing.T) {
	day := func(n int) authpilot.Date { return date("2026-03-02").AddDays(n) }
	tests := []struct {
		name       string
		rules      []pas.Rule
		status     authpilot.Status
		authNumber string
		approved   []authpilot.ApprovedLine
		validTo    authpilot.Date
		reason     string
		info       string
		noDet      bool
	}{
		{
			name:   "approved at once by default",
			status: authpilot.StatusApproved, authNumber: "AUTH000001",
			approved: []authpilot.ApprovedLine{{Code: "22612", Units: 1}, {Code: "22840", Units: 1}, {Code: "C1889", Units: 2}},
			validTo:  day(90),
		},
		{
			name:   "denied with a reason",
			rules:  []pas.Rule{{Code: "22612", Fate: pas.Deny, Reason: "Fewer than 6 weeks of conservative care"}},
			status: authpilot.StatusDenied, reason: "Fewer than 6 weeks of conservative care",
		},
		{
			name:   "modified to fewer units",
			rules:  []pas.Rule{{Code: "C1889", Fate: pas.Modify, ModifyUnits: 1, ValidDays: 60}},
			status: authpilot.StatusModified, authNumber: "AUTH000001",
			approved: []authpilot.ApprovedLine{{Code: "22612", Units: 1}, {Code: "22840", Units: 1}, {Code: "C1889", Units: 1}},
			validTo:  day(60), reason: "Authorized as modified",
		},
		{
			name:   "modified to another code",
			rules:  []pas.Rule{{Code: "22612", Fate: pas.Modify, ModifyCode: "22630", Reason: "Single-level PLIF authorized"}},
			status: authpilot.StatusModified, authNumber: "AUTH000001",
			approved: []authpilot.ApprovedLine{{Code: "22840", Units: 1}, {Code: "C1889", Units: 2}, {Code: "22630", Units: 1}},
			validTo:  day(90), reason: "Single-level PLIF authorized",
		},
		{
			name:   "partially approved",
			rules:  []pas.Rule{{Code: "22840", Fate: pas.Partial, Reason: "Instrumentation not necessary"}},
			status: authpilot.StatusPartiallyApproved, authNumber: "AUTH000001",
			approved: []authpilot.ApprovedLine{{Code: "22612", Units: 1}, {Code: "C1889", Units: 2}},
			validTo:  day(90), reason: "Instrumentation not necessary",
		},
		{
			// The fusion denied: its instrumentation (an add-on code) is
			// not certified without it, whatever the rule targets.
			name:   "partial denying the primary denies its add-on",
			rules:  []pas.Rule{{Code: "22612", Fate: pas.Partial, Reason: "Fusion not medically necessary"}},
			status: authpilot.StatusPartiallyApproved, authNumber: "AUTH000001",
			approved: []authpilot.ApprovedLine{{Code: "C1889", Units: 2}},
			validTo:  day(90), reason: "Fusion not medically necessary",
		},
		{
			name:   "pended asking for documents",
			rules:  []pas.Rule{{Fate: pas.Pend, Reason: "Send physical therapy notes"}},
			status: authpilot.StatusPended, info: "Send physical therapy notes",
		},
		{
			// A4 with no request for information: in review, not pended.
			name:   "in review until inquired",
			rules:  []pas.Rule{{Fate: pas.Approve, AfterInquiries: 1}},
			status: authpilot.StatusSubmitted, noDet: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessConfig{})
			h.scenario(tt.rules...)
			s := h.open()
			sub := h.submit(s, testCase())
			if sub.Status != tt.status {
				t.Fatalf("status = %s (%s), want %s", sub.Status, sub.StatusText, tt.status)
			}
			if sub.PayerRef != "SHP-PA-000001" {
				t.Errorf("PayerRef = %q", sub.PayerRef)
			}
			if sub.StatusText == "" {
				t.Error("no status text")
			}
			d := sub.Determination
			if tt.noDet {
				if d != nil {
					t.Errorf("determination = %+v, want none", d)
				}
				return
			}
			if d == nil {
				t.Fatal("no determination")
			}
			if d.Status != tt.status || d.AuthNumber != tt.authNumber || d.DenialReason != tt.reason || d.InfoRequested != tt.info {
				t.Errorf("determination = %+v", d)
			}
			if !reflect.DeepEqual(d.ApprovedLines, tt.approved) {
				t.Errorf("approved lines = %v, want %v", d.ApprovedLines, tt.approved)
			}
			if tt.status.Authorized() && (d.ValidFrom != day(0) || d.ValidTo != tt.validTo) {
				t.Errorf("validity %s..%s, want %s..%s", d.ValidFrom, d.ValidTo, day(0), tt.validTo)
			}
			if tt.status.Decided() && (d.DecidedAt == nil || !d.DecidedAt.Equal(h.clock.Now()) || d.NoticeDate != day(0)) {
				t.Errorf("decided at %v, notice %s", d.DecidedAt, d.NoticeDate)
			}
			st := h.sim.Stats()
			if st.Submissions != 1 || st.Calls["submit"] != 1 {
				t.Errorf("stats = %+v", st)
			}
		})
	}
}

func TestPendedThenApproved(t *testing.T) {
	// Tokens outlive the days this test lets pass (expiry is tested below).
	h := newHarness(t, harnessConfig{sim: pas.Options{TokenTTL: 30 * 24 * time.Hour}})
	h.scenario(pas.Rule{Code: "22612", Fate: pas.Pend, Reason: "Send PT notes",
		AfterInquiries: 2, Then: pas.Approve, ValidDays: 60})
	s := h.open()
	c := testCase()
	sub := h.submit(s, c)
	if sub.Status != authpilot.StatusPended || sub.PayerRef != "SHP-PA-000001" {
		t.Fatalf("submit = %s %q", sub.Status, sub.PayerRef)
	}
	if sub.Determination == nil || sub.Determination.InfoRequested != "Send PT notes" {
		t.Errorf("pend determination = %+v", sub.Determination)
	}
	c.Status, c.PayerRef = sub.Status, sub.PayerRef

	h.clock.Advance(24 * time.Hour)
	o := h.poll(s, c)
	if o.Err != nil || o.Status != authpilot.StatusPended {
		t.Fatalf("first inquiry = %+v", o)
	}
	if o.PayerRef != "" {
		t.Errorf("unchanged reference reported as %q", o.PayerRef)
	}

	h.clock.Advance(48 * time.Hour)
	decided := h.clock.Now()
	o = h.poll(s, c)
	if o.Err != nil || o.Status != authpilot.StatusApproved {
		t.Fatalf("second inquiry = %+v", o)
	}
	d := o.Determination
	if d == nil || d.AuthNumber != "AUTH000001" {
		t.Fatalf("determination = %+v", d)
	}
	from := authpilot.DateOf(decided)
	if d.ValidFrom != from || d.ValidTo != from.AddDays(60) {
		t.Errorf("validity %s..%s, want %s..%s", d.ValidFrom, d.ValidTo, from, from.AddDays(60))
	}
	if d.DecidedAt == nil || !d.DecidedAt.Equal(decided) || d.NoticeDate != from {
		t.Errorf("decided %v notice %s", d.DecidedAt, d.NoticeDate)
	}
	want := []authpilot.ApprovedLine{{Code: "22612", Units: 1}, {Code: "22840", Units: 1}, {Code: "C1889", Units: 2}}
	if !reflect.DeepEqual(d.ApprovedLines, want) {
		t.Errorf("approved lines = %v", d.ApprovedLines)
	}
	if st := h.sim.Stats(); st.Calls["inquire"] != 2 || st.Inquiries != 2 || st.Submissions != 1 {
		t.Errorf("stats = %+v", st)
	}
	if got := h.rec.StepNames(); !slices.Equal(got, []string{"token", "submit", "inquire", "inquire"}) {
		t.Errorf("steps = %v", got)
	}
}

func TestOperationOutcomeRejectedWithoutRetry(t *testing.T) {
	t.Run("submit", func(t *testing.T) {
		h := newHarness(t, harnessConfig{})
		h.scenario(pas.Rule{MemberID: "SHP99887766", Fate: pas.Reject, Reason: "Subscriber not found"})
		s := h.open()
		_, err := s.Submit(context.Background(), testCase(), noCommit)
		if !errors.Is(err, authpilot.ErrRejected) {
			t.Fatalf("err = %v, want ErrRejected", err)
		}
		for _, want := range []string{"submit", "HTTP 400", "error invalid: Subscriber not found"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("err %q lacks %q", err, want)
			}
		}
		// The payer's own words travel apart from the message (for the
		// case's event and the alert's reason, never a log).
		var ce *authpilot.Error
		if !errors.As(err, &ce) || ce.PayerText != "Subscriber not found" {
			t.Errorf("payer text = %q, want the OperationOutcome's diagnostics", ce.PayerText)
		}
		if st := h.sim.Stats(); st.Calls["submit"] != 1 || st.BadRequests != 1 || st.Submissions != 0 {
			t.Errorf("stats = %+v, want one call", st)
		}
		// A failed step captures the exchange even when only failures are.
		if n := network(t, h.rec); len(n) != 1 || n[0].Status != 400 || !strings.HasSuffix(n[0].URL, "/Claim/$submit") {
			t.Errorf("network records = %+v", n)
		}
	})
	t.Run("inquire", func(t *testing.T) {
		h := newHarness(t, harnessConfig{})
		s := h.open()
		c := testCase()
		h.submit(s, c)
		h.fault(pas.Fault{Kind: pas.FaultBadRequest, Op: "inquire", Diagnostics: "Invalid inquiry"})
		o := h.poll(s, c)
		if !errors.Is(o.Err, authpilot.ErrRejected) || !strings.Contains(o.Err.Error(), "error invalid: Invalid inquiry") {
			t.Fatalf("observation err = %v", o.Err)
		}
		if st := h.sim.Stats(); st.Calls["inquire"] != 1 {
			t.Errorf("inquire calls = %d, want 1", st.Calls["inquire"])
		}
	})
	t.Run("payer echoes PHI", func(t *testing.T) {
		h := newHarness(t, harnessConfig{})
		h.scenario(pas.Rule{Fate: pas.Reject, Reason: "Member SHP99887766 (QUIMBY) not found"})
		_, err := h.open().Submit(context.Background(), testCase(), noCommit)
		if err == nil || strings.Contains(err.Error(), "SHP99887766") || strings.Contains(err.Error(), "QUIMBY") ||
			!strings.Contains(err.Error(), "Member <redacted> (<redacted>) not found") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestTransientFailures(t *testing.T) {
	tests := []struct {
		name     string
		op       string
		fault    pas.Fault
		calls    int
		errClass error
		errSays  string
		waits    int // retries waiting 5ms (retry_wait_max)
	}{
		{name: "submit 503 with Retry-After twice then 200", op: "submit",
			fault: pas.Fault{Kind: pas.Fault503, Op: "submit", Count: 2, RetryAfter: 1},
			calls: 3, waits: 2},
		{name: "inquire 503 twice then 200", op: "inquire",
			fault: pas.Fault{Kind: pas.Fault503, Op: "inquire", Count: 2},
			calls: 3},
		{name: "inquire 500 twice then 200", op: "inquire",
			fault: pas.Fault{Kind: pas.Fault500, Op: "inquire", Count: 2},
			calls: 3},
		{name: "submit 503 without Retry-After not retried", op: "submit",
			fault: pas.Fault{Kind: pas.Fault503, Op: "submit"},
			calls: 1, errClass: authpilot.ErrRetryable, errSays: "HTTP 503: error transient: simulated maintenance"},
		{name: "submit 500 not retried", op: "submit",
			fault: pas.Fault{Kind: pas.Fault500, Op: "submit"},
			calls: 1, errClass: authpilot.ErrRetryable, errSays: "HTTP 500: error exception: simulated internal error (not retried"},
		{name: "inquire retries exhausted", op: "inquire",
			fault: pas.Fault{Kind: pas.Fault500, Op: "inquire", Count: 10},
			calls: 4, errClass: authpilot.ErrRetryable, errSays: "HTTP 500 after 4 attempts: error exception"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessConfig{})
			h.rec.WantAll = true
			s := h.open()
			c := testCase()
			if tt.op == "inquire" {
				h.submit(s, c)
			}
			h.fault(tt.fault)
			var err error
			if tt.op == "submit" {
				_, err = s.Submit(context.Background(), c, noCommit)
			} else {
				o := h.poll(s, c)
				err = o.Err
				if err == nil && o.Status != authpilot.StatusApproved {
					t.Errorf("status = %s", o.Status)
				}
			}
			if tt.errClass == nil && err != nil {
				t.Fatalf("err = %v", err)
			}
			if tt.errClass != nil && (!errors.Is(err, tt.errClass) || !strings.Contains(err.Error(), tt.errSays)) {
				t.Fatalf("err = %v, want %v saying %q", err, tt.errClass, tt.errSays)
			}
			if got := h.sim.Stats().Calls[tt.op]; got != tt.calls {
				t.Errorf("%s calls = %d, want %d", tt.op, got, tt.calls)
			}
			// Every attempt is one recorded exchange.
			if n := exchangesTo(network(t, h.rec), "/Claim/$"+tt.op); len(n) != tt.calls {
				t.Errorf("recorded attempts = %d, want %d", len(n), tt.calls)
			}
			if tt.waits > 0 && strings.Count(h.logs.String(), "timeout=5ms") != tt.waits {
				t.Errorf("want %d waits of 5ms (Retry-After: 1 clamped to retry_wait_max):\n%s", tt.waits, h.logs.String())
			}
		})
	}
}

func TestRetryAfterClamped(t *testing.T) {
	h := newHarness(t, harnessConfig{options: func(o *Options) { o.RetryWaitMax = 20 * time.Millisecond }})
	h.rec.WantAll = true
	s := h.open()
	c := testCase()
	h.submit(s, c)
	h.fault(pas.Fault{Kind: pas.Fault503, Op: "inquire", RetryAfter: 3600})
	began := time.Now()
	o := h.poll(s, c)
	if o.Err != nil || o.Status != authpilot.StatusApproved {
		t.Fatalf("observation = %+v", o)
	}
	if waited := time.Since(began); waited > 10*time.Second {
		t.Errorf("poll took %v: Retry-After: 3600 was not clamped", waited)
	}
	if n := exchangesTo(network(t, h.rec), "/Claim/$inquire"); len(n) != 2 || n[0].Status != 503 || n[1].Status != 200 {
		t.Errorf("recorded inquiries = %+v, want a 503 then a 200", n)
	}
	if !strings.Contains(h.logs.String(), "timeout=20ms") {
		t.Errorf("retry log does not show the clamped wait:\n%s", h.logs.String())
	}
}

func TestExpiredTokenRefreshedOnce(t *testing.T) {
	h := newHarness(t, harnessConfig{})
	s := h.open()
	c := testCase()
	h.submit(s, c)
	if st := h.sim.Stats(); st.TokensIssued != 1 {
		t.Fatalf("tokens issued = %d", st.TokensIssued)
	}
	h.sim.ExpireTokens()
	o := h.poll(s, c)
	if o.Err != nil || o.Status != authpilot.StatusApproved {
		t.Fatalf("observation = %+v", o)
	}
	st := h.sim.Stats()
	if st.TokensIssued != 2 || st.Unauthorized != 1 || st.Calls["inquire"] != 2 {
		t.Errorf("stats = %+v, want 2 tokens, 1 refusal, 2 inquiries", st)
	}
	// The refreshed token is cached: the next call needs no new one.
	h.poll(s, c)
	if st := h.sim.Stats(); st.TokensIssued != 2 {
		t.Errorf("tokens issued = %d after another poll", st.TokensIssued)
	}
	// The token expired on the payer's clock too (TTL 1h): refresh again.
	h.clock.Advance(2 * time.Hour)
	h.poll(s, c)
	if st := h.sim.Stats(); st.TokensIssued != 3 || st.Unauthorized != 2 {
		t.Errorf("stats = %+v after expiry", st)
	}
}

func TestTokenRefusedTwiceIsAuthError(t *testing.T) {
	h := newHarness(t, harnessConfig{wrap: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/Claim/") {
				w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
				http.Error(w, "no", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	}})
	s := h.open()
	obs, err := s.Poll(context.Background(), []*authpilot.Case{testCase(), testCase()})
	if !errors.Is(err, authpilot.ErrAuth) {
		t.Fatalf("poll err = %v, want ErrAuth", err)
	}
	if len(obs) != 1 || !errors.Is(obs[0].Err, authpilot.ErrAuth) {
		t.Errorf("observations = %+v", obs)
	}
	if st := h.sim.Stats(); st.TokensIssued != 2 {
		t.Errorf("tokens issued = %d, want 2 (one refresh)", st.TokensIssued)
	}
}

func TestOpenErrors(t *testing.T) {
	t.Run("wrong client secret", func(t *testing.T) {
		h := newHarness(t, harnessConfig{secrets: notifytest.Secrets{"summit-pas": "wrong"}})
		_, err := h.conn.Open(context.Background(), h.rec)
		if !errors.Is(err, authpilot.ErrAuth) || !strings.Contains(err.Error(), "invalid_client") {
			t.Fatalf("err = %v", err)
		}
		if strings.Contains(err.Error(), "wrong") {
			t.Errorf("err carries the secret: %v", err)
		}
		if st := h.sim.Stats(); st.TokensRefused != 1 || st.Calls["token"] != 1 {
			t.Errorf("stats = %+v", st)
		}
		if !slices.Contains(h.rec.Redacted(), "wrong") {
			t.Error("client secret not registered for redaction")
		}
	})
	t.Run("secret not in keyring", func(t *testing.T) {
		h := newHarness(t, harnessConfig{secrets: notifytest.Secrets{}})
		_, err := h.conn.Open(context.Background(), h.rec)
		if !errors.Is(err, authpilot.ErrAuth) || !errors.Is(err, authpilot.ErrSecretNotFound) ||
			!strings.Contains(err.Error(), `"summit-pas"`) {
			t.Fatalf("err = %v", err)
		}
		if h.sim.Stats().Calls["token"] != 0 {
			t.Error("token endpoint called without a secret")
		}
	})
	t.Run("token endpoint down", func(t *testing.T) {
		h := newHarness(t, harnessConfig{})
		h.srv.Close()
		_, err := h.conn.Open(context.Background(), h.rec)
		if !errors.Is(err, authpilot.ErrRetryable) {
			t.Fatalf("err = %v, want ErrRetryable", err)
		}
	})
	t.Run("token endpoint 503 then ok", func(t *testing.T) {
		h := newHarness(t, harnessConfig{})
		h.fault(pas.Fault{Kind: pas.Fault503, Op: "token", Count: 2})
		h.open()
		if st := h.sim.Stats(); st.Calls["token"] != 3 || st.TokensIssued != 1 {
			t.Errorf("stats = %+v", st)
		}
	})
}

func TestSubmitIdempotentAndFind(t *testing.T) {
	h := newHarness(t, harnessConfig{})
	h.scenario(pas.Rule{Fate: pas.Pend, Reason: "Send imaging report"})
	c := testCase()
	first := h.submit(h.open(), c)
	// A crash after the POST: the agent submits again in a new visit.
	again := h.submit(h.open(), c)
	if again.PayerRef != first.PayerRef || again.Status != first.Status {
		t.Errorf("resubmit = %+v, first %+v", again, first)
	}
	if st := h.sim.Stats(); st.Submissions != 1 || st.Calls["submit"] != 2 {
		t.Errorf("stats = %+v", st)
	}
	// Reconciliation finds the request by the identifier derived from the
	// case ID.
	s := h.open()
	found, err := s.Find(context.Background(), c, time.Time{})
	if err != nil {
		t.Fatalf("find: %v", err)
	}
	if found.PayerRef != first.PayerRef || found.Status != authpilot.StatusPended {
		t.Errorf("found = %+v", found)
	}
	// The response shows whose request it is: the agent checks it.
	if found.Shown == nil || len(c.IdentityMismatch(*found.Shown)) > 0 || found.Shown.MemberID == "" || found.Shown.DOB == "" {
		t.Errorf("found.Shown = %+v, want the case's member number and birth date", found.Shown)
	}
	wrong := *c
	wrong.Patient.MemberID, wrong.Patient.DOB = "ZZZ999999", authpilot.NewDate(1999, 1, 1)
	if diff := wrong.IdentityMismatch(*found.Shown); len(diff) != 2 {
		t.Errorf("another member's case: mismatch %v, want member_id and dob", diff)
	}
	// A request answered before the intent is an older request's.
	findsNothing(t, s, c, time.Now().Add(time.Hour))
	other := testCase()
	other.ID = "01HZX5T0OTHER"
	findsNothing(t, s, other, time.Time{})
}

func TestSubmitTimeouts(t *testing.T) {
	t.Run("submit not retried once sent", func(t *testing.T) {
		h := newHarness(t, harnessConfig{options: func(o *Options) { o.Timeout = 250 * time.Millisecond }})
		s := h.open()
		h.fault(pas.Fault{Kind: pas.FaultSlow, Op: "submit", Delay: pas.Duration(2 * time.Second)})
		_, err := s.Submit(context.Background(), testCase(), noCommit)
		if !errors.Is(err, authpilot.ErrRetryable) || !strings.Contains(err.Error(), "may have received it") {
			t.Fatalf("err = %v", err)
		}
		if got := h.sim.Stats().Calls["submit"]; got != 1 {
			t.Errorf("submit calls = %d, want 1", got)
		}
	})
	t.Run("inquire retried after a timeout", func(t *testing.T) {
		h := newHarness(t, harnessConfig{options: func(o *Options) { o.Timeout = 250 * time.Millisecond }})
		s := h.open()
		c := testCase()
		h.submit(s, c)
		h.fault(pas.Fault{Kind: pas.FaultSlow, Op: "inquire", Delay: pas.Duration(2 * time.Second)})
		if o := h.poll(s, c); o.Err != nil || o.Status != authpilot.StatusApproved {
			t.Fatalf("observation = %+v", o)
		}
		if got := h.sim.Stats().Calls["inquire"]; got != 2 {
			t.Errorf("inquire calls = %d, want 2", got)
		}
	})
	t.Run("connection refused before sending is retried", func(t *testing.T) {
		h := newHarness(t, harnessConfig{})
		s := h.open()
		h.srv.Close()
		_, err := s.Submit(context.Background(), testCase(), noCommit)
		if !errors.Is(err, authpilot.ErrRetryable) || !strings.Contains(err.Error(), "no answer after 4 attempt(s)") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestCommitFailureStopsSubmit(t *testing.T) {
	h := newHarness(t, harnessConfig{})
	s := h.open()
	boom := errors.New("store down")
	_, err := s.Submit(context.Background(), testCase(), func(context.Context) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if got := h.sim.Stats().Calls["submit"]; got != 0 {
		t.Errorf("submit calls = %d, want 0", got)
	}
}

func TestInquiryResponseForms(t *testing.T) {
	for _, form := range []string{"return", "responseBundle", "bundle"} {
		t.Run(form, func(t *testing.T) {
			h := newHarness(t, harnessConfig{sim: pas.Options{InquiryParam: form}})
			h.scenario(pas.Rule{Fate: pas.Deny, Reason: "Not covered", AfterInquiries: 1})
			s := h.open()
			c := testCase()
			h.submit(s, c)
			o := h.poll(s, c)
			if o.Err != nil || o.Status != authpilot.StatusDenied || o.Determination.DenialReason != "Not covered" {
				t.Fatalf("observation = %+v", o)
			}
			other := testCase()
			other.ID = "01HZX5T0NEVER"
			findsNothing(t, s, other, time.Time{})
		})
	}
}

func TestPollManyCases(t *testing.T) {
	h := newHarness(t, harnessConfig{})
	s := h.open()
	submitted := testCase()
	sub := h.submit(s, submitted)
	never := testCase()
	never.ID = "01HZX5T0NEVER"
	// A case filed elsewhere and tracked by the payer's reference.
	tracked := testCase()
	tracked.ID = "01HZX5T0TRACKED"
	tracked.Tracked = true
	tracked.PayerRef = sub.PayerRef
	obs, err := s.Poll(context.Background(), []*authpilot.Case{submitted, never, tracked})
	if err != nil {
		t.Fatal(err)
	}
	if len(obs) != 3 {
		t.Fatalf("%d observations", len(obs))
	}
	if obs[0].Status != authpilot.StatusApproved || obs[0].PayerRef != sub.PayerRef {
		t.Errorf("submitted case: %+v", obs[0])
	}
	if !errors.Is(obs[1].Err, authpilot.ErrRequestNotFound) || obs[1].Status != "" {
		t.Errorf("unknown case: %+v", obs[1])
	}
	if obs[2].Err != nil || obs[2].Status != authpilot.StatusApproved || obs[2].PayerRef != "" {
		t.Errorf("tracked case: %+v", obs[2])
	}
}

func TestPollGivesUpWhenPayerIsDown(t *testing.T) {
	h := newHarness(t, harnessConfig{options: func(o *Options) { o.Retries = 0 }})
	s := h.open()
	h.fault(pas.Fault{Kind: pas.Fault500, Op: "inquire", Count: 100})
	cases := []*authpilot.Case{testCase(), testCase(), testCase(), testCase(), testCase()}
	obs, err := s.Poll(context.Background(), cases)
	if !errors.Is(err, authpilot.ErrRetryable) {
		t.Fatalf("err = %v", err)
	}
	if len(obs) != pollAbortAfter || h.sim.Stats().Calls["inquire"] != pollAbortAfter {
		t.Errorf("%d observations, %d calls; want %d", len(obs), h.sim.Stats().Calls["inquire"], pollAbortAfter)
	}
}

func TestRecordingRedacted(t *testing.T) {
	h := newHarness(t, harnessConfig{})
	h.rec.WantAll = true
	s := h.open()
	c := testCase()
	h.submit(s, c)
	h.poll(s, c)
	if got := h.rec.StepNames(); !slices.Equal(got, []string{"token", "submit", "inquire"}) {
		t.Errorf("steps = %v", got)
	}
	for _, v := range []string{"SHP99887766", "Rosalind", "Quimby", "1961-07-14", testSecret} {
		if !slices.Contains(h.rec.Redacted(), v) {
			t.Errorf("%q not registered for redaction", v)
		}
	}
	var token bool
	for _, v := range h.rec.Redacted() {
		if len(v) == 48 && strings.Trim(v, "0123456789abcdef") == "" {
			token = true
		}
	}
	if !token {
		t.Error("access token not registered for redaction")
	}
	n := network(t, h.rec)
	if len(n) != 3 || !strings.HasSuffix(n[0].URL, "/token") || !strings.HasSuffix(n[1].URL, "/Claim/$submit") ||
		!strings.HasSuffix(n[2].URL, "/Claim/$inquire") {
		t.Fatalf("network records = %+v", n)
	}
	if n[1].Method != http.MethodPost || n[1].Status != 200 || n[1].RequestHeaders.Get("Authorization") != "Bearer <redacted>" ||
		n[1].RequestHeaders.Get("Content-Type") != mediaFHIR || len(n[1].Body) == 0 {
		t.Errorf("submit record = %+v", n[1])
	}
	for _, a := range h.rec.Artifacts("") {
		for _, phi := range []string{"SHP99887766", "Quimby", "1961-07-14"} {
			if strings.Contains(string(a.Data), phi) {
				t.Errorf("attachment %s carries %q", a.Name, phi)
			}
		}
	}
}

// TestNoticeDateKeepsThePayersOffset: a payer in New York denies at 23:30
// local time (04:30 UTC the next day); its ClaimResponse.created says
// 2026-12-01T23:30:00-05:00 and carries no issue date. The notice date, from
// which appeal windows run, is December 1, not December 2.
func TestNoticeDateKeepsThePayersOffset(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, harnessConfig{zone: ny})
	h.clock.Set(time.Date(2026, 12, 2, 4, 30, 0, 0, time.UTC))
	h.scenario(pas.Rule{Code: "22612", Fate: pas.Deny, Reason: "Not medically necessary"})
	s := h.open()
	sub := h.submit(s, testCase())
	d := sub.Determination
	if sub.Status != authpilot.StatusDenied || d == nil {
		t.Fatalf("submit = %s %+v", sub.Status, d)
	}
	if want := authpilot.NewDate(2026, 12, 1); d.NoticeDate != want {
		t.Errorf("notice date %s, want %s (the payer's own date)", d.NoticeDate, want)
	}
	if d.DecidedAt == nil || !d.DecidedAt.Equal(time.Date(2026, 12, 1, 23, 30, 0, 0, ny)) {
		t.Errorf("decided at %v, want 2026-12-01 23:30 in New York", d.DecidedAt)
	}
}

// TestRetryAfterEndsTheVisit: a 503 whose Retry-After outlasts the
// client's clamped retries ends the poll visit and hands the payer's
// Retry-After (unclamped; the agent clamps it with limits.max_retry_after)
// to the agent, which keeps away until then; the other cases are not
// inquired.
func TestRetryAfterEndsTheVisit(t *testing.T) {
	h := newHarness(t, harnessConfig{options: func(o *Options) { o.RetryWaitMax = 20 * time.Millisecond }})
	s := h.open()
	a, b := testCase(), testCase()
	b.ID = "01JCASEB0000000000000000B"
	h.submit(s, a)
	h.submit(s, b)
	h.fault(pas.Fault{Kind: pas.Fault503, Op: "inquire", Count: 100, RetryAfter: 30})
	before := h.sim.Stats().Calls["inquire"]
	obs, err := s.Poll(context.Background(), []*authpilot.Case{a, b})
	if err == nil || !errors.Is(err, authpilot.ErrRetryable) {
		t.Fatalf("poll error = %v, want a retryable one", err)
	}
	if got := authpilot.RetryAfterOf(err); got != 30*time.Second {
		t.Fatalf("RetryAfter = %v, want 30s", got)
	}
	if len(obs) != 1 {
		t.Fatalf("%d observations, want 1 (the visit ends at the first Retry-After)", len(obs))
	}
	if calls := h.sim.Stats().Calls["inquire"] - before; calls != 1+h.opts.Retries {
		t.Fatalf("%d inquiries, want the first case's attempts only", calls)
	}
}

// TestRespondSendsClaimUpdate: a request the payer pended until it gets
// an update is answered with two PDFs and a note: the simulator accepts
// the PAS Claim Update (related to the prior Claim, which the Bundle
// holds) with both files by name and content, the answer is in review
// (A4 without an information request: submitted), a retried update is
// the same update, and the next inquiry sees the approval.
func TestRespondSendsClaimUpdate(t *testing.T) {
	h := newHarness(t, harnessConfig{})
	h.scenario(pas.Rule{Code: "22612", Fate: pas.Pend, Reason: "Send PT notes and the MRI report",
		AwaitUpdate: true, AfterInquiries: 1, Then: pas.Approve})
	s := h.open()
	c := testCase()
	sub := h.submit(s, c)
	if sub.Status != authpilot.StatusPended {
		t.Fatalf("submit = %s, want pended", sub.Status)
	}
	c.Status, c.PayerRef = sub.Status, sub.PayerRef
	resp := connectors.Response{Note: "PT notes and MRI report attached.", Files: []authpilot.File{
		{Name: "pt-notes.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.4 twelve weeks of PT")},
		{Name: "mri-report.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.4 MRI L4-S1")},
	}}
	o, err := s.(connectors.Responder).Respond(context.Background(), c, resp)
	if err != nil {
		t.Fatalf("respond: %v", err)
	}
	if o.CaseID != c.ID || o.Status != authpilot.StatusSubmitted || o.Shown == nil {
		t.Fatalf("respond observation %+v, want in review with what the payer showed", o)
	}
	if diff := c.IdentityMismatch(*o.Shown); len(diff) > 0 {
		t.Fatalf("the answer shows another patient: %v", diff)
	}
	if _, err := s.(connectors.Responder).Respond(context.Background(), c, resp); err != nil {
		t.Fatalf("retried respond: %v", err)
	}
	reqs := h.sim.Requests()
	if len(reqs) != 1 || len(reqs[0].Updates) != 1 {
		t.Fatalf("simulator requests %+v, want one request with one update", reqs)
	}
	u := reqs[0].Updates[0]
	if u.Note != resp.Note || len(u.Attachments) != 2 {
		t.Fatalf("update at the simulator: note %q, %d attachments", u.Note, len(u.Attachments))
	}
	for i, a := range u.Attachments {
		f := resp.Files[i]
		sum := sha256.Sum256(f.Data)
		if a.Title != f.Name || a.ContentType != "application/pdf" || a.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("attachment %d = %+v, want %s with the sent content", i, a, f.Name)
		}
	}
	if st := h.sim.Stats(); st.Updates != 1 || st.Submissions != 1 {
		t.Errorf("stats %+v", st)
	}
	if o := h.poll(s, c); o.Err != nil || o.Status != authpilot.StatusApproved {
		t.Fatalf("inquiry after the update = %+v, want approved", o)
	}
	if got := h.rec.StepNames(); !slices.Equal(got, []string{"token", "submit", "respond", "respond", "inquire"}) {
		t.Errorf("steps %v", got)
	}
}

// TestUpdateBundleShape checks the Claim Update against PAS 2.2.1: the
// update Claim first, with the claim-update profile, its own identifier,
// related.claim → the prior Claim (in the Bundle, relationship prior), the
// request's items unchanged, one additionalInformation supportingInfo per
// file referring to a DocumentReference with the file as its attachment,
// the note as a freeFormMessage; a response with nothing is refused.
func TestUpdateBundleShape(t *testing.T) {
	h := newHarness(t, harnessConfig{})
	b := h.conn.(*Connector).build
	c := testCase()
	body, err := b.updateBundle(c, connectors.Response{Note: "see attached", Files: []authpilot.File{
		{Name: "a.pdf", ContentType: "application/pdf", Data: []byte("%PDF a")}, {Name: "b.pdf", Data: []byte("%PDF b")}}})
	if err != nil {
		t.Fatal(err)
	}
	var bd struct {
		Identifier struct{ Value string }
		Entry      []struct {
			FullURL  string
			Resource map[string]any
		}
	}
	if err := json.Unmarshal(body, &bd); err != nil {
		t.Fatal(err)
	}
	byURL := map[string]map[string]any{}
	for _, e := range bd.Entry {
		byURL[e.FullURL] = e.Resource
	}
	upd := bd.Entry[0].Resource
	if prof := upd["meta"].(map[string]any)["profile"].([]any)[0]; prof != profileClaimUpdate {
		t.Errorf("profile %v", prof)
	}
	id := upd["identifier"].([]any)[0].(map[string]any)["value"].(string)
	if id == traceNumber(c.ID) || id != bd.Identifier.Value {
		t.Errorf("update identifier %q (bundle %q): its own, and the Bundle's", id, bd.Identifier.Value)
	}
	rel := upd["related"].([]any)[0].(map[string]any)
	prior := byURL[rel["claim"].(map[string]any)["reference"].(string)]
	if prior == nil || prior["resourceType"] != "Claim" || prior["identifier"].([]any)[0].(map[string]any)["value"] != traceNumber(c.ID) {
		t.Fatalf("related.claim does not resolve to the prior Claim in the Bundle: %v", rel)
	}
	if code := rel["relationship"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"]; code != "prior" {
		t.Errorf("relationship %v", code)
	}
	if len(upd["item"].([]any)) != len(c.ServiceLines) {
		t.Errorf("%d items, want the request's %d", len(upd["item"].([]any)), len(c.ServiceLines))
	}
	si := upd["supportingInfo"].([]any)
	var cats []string
	for _, x := range si {
		m := x.(map[string]any)
		cats = append(cats, m["category"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"].(string))
		if r, ok := m["valueReference"].(map[string]any); ok {
			doc := byURL[r["reference"].(string)]
			att := doc["content"].([]any)[0].(map[string]any)["attachment"].(map[string]any)
			if doc["resourceType"] != "DocumentReference" || att["title"] == "" || att["data"] == "" {
				t.Errorf("document %v", doc)
			}
		}
	}
	if strings.Join(cats, ",") != "additionalInformation,additionalInformation,freeFormMessage" {
		t.Errorf("supportingInfo categories %v", cats)
	}
	if _, err := b.updateBundle(c, connectors.Response{}); err == nil {
		t.Error("an empty response was built")
	}
}

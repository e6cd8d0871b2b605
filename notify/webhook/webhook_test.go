package webhook_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/notify"
	"github.com/authpilot/authpilot/notify/notifytest"
	"github.com/authpilot/authpilot/notify/webhook"
	"github.com/authpilot/authpilot/schedules"
	"github.com/authpilot/authpilot/schedules/clocktest"
)

// The published test vector of Standard Webhooks (standard-webhooks/
// standard-webhooks, libraries/go/webhook_test.go, TestWebhookSign).
const (
	vectorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTS     = 1614265330
	vectorBody   = `{"test": 2432232314}`
	vectorSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignMatchesPublishedVector(t *testing.T) {
	key, err := webhook.DecodeSecret(vectorSecret)
	if err != nil {
		t.Fatal(err)
	}
	if got := webhook.Sign(key, vectorID, time.Unix(vectorTS, 0), []byte(vectorBody)); got != vectorSig {
		t.Fatalf("Sign = %q, want the published %q", got, vectorSig)
	}
	// And independently, with crypto/hmac over the spec's signed content.
	m := hmac.New(sha256.New, key)
	m.Write([]byte(vectorID + "." + strconv.Itoa(vectorTS) + "." + vectorBody))
	if got := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)); got != vectorSig {
		t.Fatalf("independent HMAC = %q, want %q", got, vectorSig)
	}
}

func vectorHeaders() http.Header {
	h := http.Header{}
	h.Set(webhook.HeaderID, vectorID)
	h.Set(webhook.HeaderTimestamp, strconv.Itoa(vectorTS))
	h.Set(webhook.HeaderSignature, vectorSig)
	return h
}

func TestVerify(t *testing.T) {
	at := time.Unix(vectorTS, 0)
	tol := 5 * time.Minute
	tests := []struct {
		name   string
		secret string
		edit   func(h http.Header, body *[]byte)
		now    time.Time
		want   error // nil, or a sentinel checked with errors.Is
		anyErr bool
	}{
		{name: "published vector verifies", secret: vectorSecret, now: at},
		{name: "secret without prefix verifies", secret: strings.TrimPrefix(vectorSecret, "whsec_"), now: at},
		{name: "within tolerance after", secret: vectorSecret, now: at.Add(tol)},
		{name: "within tolerance before", secret: vectorSecret, now: at.Add(-tol)},
		{name: "too old", secret: vectorSecret, now: at.Add(tol + time.Second), want: webhook.ErrTooOld},
		{name: "too new", secret: vectorSecret, now: at.Add(-tol - time.Second), want: webhook.ErrTooNew},
		{name: "tampered body", secret: vectorSecret, now: at, want: webhook.ErrNoSignature,
			edit: func(_ http.Header, b *[]byte) { *b = []byte(`{"test": 2432232315}`) }},
		{name: "tampered id", secret: vectorSecret, now: at, want: webhook.ErrNoSignature,
			edit: func(h http.Header, _ *[]byte) { h.Set(webhook.HeaderID, "msg_other") }},
		{name: "wrong secret", secret: "whsec_" + base64.StdEncoding.EncodeToString([]byte("another key of 24 bytes!")), now: at,
			want: webhook.ErrNoSignature},
		{name: "several signatures, one valid", secret: vectorSecret, now: at,
			edit: func(h http.Header, _ *[]byte) {
				h.Set(webhook.HeaderSignature, "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,abc "+vectorSig)
			}},
		{name: "valid bytes under another version", secret: vectorSecret, now: at, want: webhook.ErrNoSignature,
			edit: func(h http.Header, _ *[]byte) {
				h.Set(webhook.HeaderSignature, "v2,"+strings.TrimPrefix(vectorSig, "v1,"))
			}},
		{name: "missing id", secret: vectorSecret, now: at, want: webhook.ErrMissingHeaders,
			edit: func(h http.Header, _ *[]byte) { h.Del(webhook.HeaderID) }},
		{name: "missing timestamp", secret: vectorSecret, now: at, want: webhook.ErrMissingHeaders,
			edit: func(h http.Header, _ *[]byte) { h.Del(webhook.HeaderTimestamp) }},
		{name: "missing signature", secret: vectorSecret, now: at, want: webhook.ErrMissingHeaders,
			edit: func(h http.Header, _ *[]byte) { h.Del(webhook.HeaderSignature) }},
		{name: "timestamp not a number", secret: vectorSecret, now: at, want: webhook.ErrBadTimestamp,
			edit: func(h http.Header, _ *[]byte) { h.Set(webhook.HeaderTimestamp, "2021-02-25T15:02:10Z") }},
		{name: "secret not base64", secret: "whsec_not*base64", now: at, anyErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, body := vectorHeaders(), []byte(vectorBody)
			if tt.edit != nil {
				tt.edit(h, &body)
			}
			err := webhook.Verify(tt.secret, h, body, tol, tt.now)
			switch {
			case tt.anyErr:
				if err == nil {
					t.Fatal("Verify succeeded, want an error")
				}
				if strings.Contains(err.Error(), tt.secret) {
					t.Errorf("error %q contains the secret", err)
				}
			case tt.want == nil && err != nil:
				t.Fatalf("Verify: %v", err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

var seededCase = &authpilot.Case{
	ID: "01JCASE0000000000000000001", ExternalRef: "ORD-77", Payer: "acme-health", Track: authpilot.TrackSurgery,
	Patient:      authpilot.Patient{FirstName: "Marguerite", LastName: "Quillfeather", DOB: authpilot.Date{Year: 1961, Month: 7, Day: 14}, MemberID: "ZQX998877"},
	ServiceLines: []authpilot.ServiceLine{{Code: "22630", Units: 1}},
	Diagnoses:    []string{"M51.16"},
}

func sampleAlert() authpilot.Alert {
	return authpilot.Alert{
		ID: "01JALERT000000000000000001", Type: authpilot.AlertDeterminationReceived, Severity: authpilot.SeverityWarning,
		At:     time.Date(2026, 11, 23, 22, 0, 0, 0, time.UTC),
		CaseID: seededCase.ID, ExternalRef: "ORD-77", Payer: "acme-health", Track: authpilot.TrackSurgery,
		Status: authpilot.StatusDenied, PrevStatus: authpilot.StatusPended,
		Title: "Denied by acme-health", Action: "Request a peer-to-peer review by Tue Nov 24",
		Deadline:   &authpilot.Deadline{Kind: authpilot.DeadlinePeerToPeer, Due: time.Date(2026, 11, 24, 22, 0, 0, 0, time.UTC)},
		AuthNumber: "AUTH-1", Reason: "Conservative care not documented",
	}
}

func TestBody(t *testing.T) {
	phi := []string{"Marguerite", "Quillfeather", "1961-07-14", "ZQX998877", "22630", "M51.16"}
	tests := []struct {
		name    string
		c       *authpilot.Case
		wantPHI bool
	}{
		{name: "alert fields only by default", c: nil},
		{name: "patient, service lines and diagnoses when the sink opts in", c: seededCase, wantPHI: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := webhook.Body(sampleAlert(), tt.c)
			if err != nil {
				t.Fatal(err)
			}
			var p webhook.Payload
			if err := json.Unmarshal(b, &p); err != nil {
				t.Fatal(err)
			}
			if p.Type != authpilot.AlertDeterminationReceived || p.Timestamp != "2026-11-23T22:00:00Z" {
				t.Errorf("type, timestamp = %q, %q", p.Type, p.Timestamp)
			}
			d := p.Data
			if d.CaseID != seededCase.ID || d.ExternalRef != "ORD-77" || d.Payer != "acme-health" ||
				d.Track != authpilot.TrackSurgery || d.Status != authpilot.StatusDenied || d.Deadline == nil ||
				d.Title == "" || d.Action == "" || d.AuthNumber != "AUTH-1" || d.Reason == "" {
				t.Errorf("data lacks alert fields: %+v", d)
			}
			for _, s := range phi {
				if got := bytes.Contains(b, []byte(s)); got != tt.wantPHI {
					t.Errorf("body contains %q = %v, want %v", s, got, tt.wantPHI)
				}
			}
			if tt.wantPHI && (d.Patient == nil || d.Patient.MemberID != "ZQX998877" || len(d.ServiceLines) != 1 || len(d.Diagnoses) != 1) {
				t.Errorf("PHI fields = %+v %+v %+v", d.Patient, d.ServiceLines, d.Diagnoses)
			}
		})
	}
}

const testSecret = "whsec_c2VjcmV0LWtleS1vZi10aGlydHktdHdvLWJ5dGVzISE="

func newNotifier(t *testing.T, url string, clock schedules.Clock, timeout time.Duration) *webhook.Notifier {
	t.Helper()
	n, err := webhook.New(notify.Sink{Name: "hook", Type: webhook.KindName}, webhook.Config{URLSecret: "hook-url", Secret: "hook-key", Timeout: timeout},
		notifytest.Secrets{"hook-url": url, "hook-key": testSecret}, webhook.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestNotifyStatuses(t *testing.T) {
	now := time.Date(2026, 11, 23, 22, 0, 5, 0, time.UTC)
	tests := []struct {
		name      string
		code      int
		header    map[string]string
		wantErr   bool
		wantRetry bool
		wantAfter time.Duration
		wantGone  bool
	}{
		{name: "200 delivered", code: 200},
		{name: "204 delivered", code: 204},
		{name: "400 retried", code: 400, wantErr: true, wantRetry: true},
		{name: "404 retried, Retry-After ignored", code: 404, header: map[string]string{"Retry-After": "30"}, wantErr: true, wantRetry: true},
		{name: "410 gone", code: 410, wantErr: true, wantGone: true},
		{name: "429 with seconds", code: 429, header: map[string]string{"Retry-After": "7"}, wantErr: true, wantRetry: true, wantAfter: 7 * time.Second},
		{name: "503 with HTTP date", code: 503, header: map[string]string{"Retry-After": now.Add(90 * time.Second).Format(http.TimeFormat)},
			wantErr: true, wantRetry: true, wantAfter: 90 * time.Second},
		{name: "503 Retry-After clamped to an hour", code: 503, header: map[string]string{"Retry-After": "86400"},
			wantErr: true, wantRetry: true, wantAfter: notify.MaxRetryAfter},
		{name: "502 without Retry-After", code: 502, wantErr: true, wantRetry: true},
		{name: "504 garbage Retry-After", code: 504, header: map[string]string{"Retry-After": "soon"}, wantErr: true, wantRetry: true},
		{name: "500 retried with backoff", code: 500, header: map[string]string{"Retry-After": "30"}, wantErr: true, wantRetry: true},
		{name: "501 retried with backoff", code: 501, wantErr: true, wantRetry: true},
		{name: "302 not followed, retried", code: 302, header: map[string]string{"Location": "https://elsewhere.invalid/"}, wantErr: true, wantRetry: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got struct {
				sync.Mutex
				h    http.Header
				body []byte
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				got.Lock()
				got.h, got.body = r.Header.Clone(), b
				got.Unlock()
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.code)
			}))
			defer srv.Close()
			clock := clocktest.New(now)
			n := newNotifier(t, srv.URL+"/hooks/authpilot?token=QUERYTOKEN123", clock, 0)
			retry, after, err := n.Notify(t.Context(), notify.Delivery{Delivery: authpilot.Delivery{Sink: "hook", Alert: sampleAlert()}})
			if (err != nil) != tt.wantErr || retry != tt.wantRetry || after != tt.wantAfter {
				t.Fatalf("Notify = %v, %v, %v; want err %v, retry %v, after %v", retry, after, err, tt.wantErr, tt.wantRetry, tt.wantAfter)
			}
			if gone := errors.Is(err, notify.ErrGone); gone != tt.wantGone {
				t.Errorf("errors.Is(err, ErrGone) = %v", gone)
			}
			if err != nil && !strings.Contains(err.Error(), strconv.Itoa(tt.code)) {
				t.Errorf("error %q does not name the status", err)
			}
			notifytest.AssertNoSecrets(t, "", []error{err}, nil, "QUERYTOKEN123", "/hooks/authpilot", testSecret, strings.TrimPrefix(testSecret, "whsec_"))

			got.Lock()
			defer got.Unlock()
			h := got.h
			if h.Get("Content-Type") != "application/json" || h.Get("User-Agent") != "authpilot" {
				t.Errorf("Content-Type, User-Agent = %q, %q", h.Get("Content-Type"), h.Get("User-Agent"))
			}
			if h.Get(webhook.HeaderID) != sampleAlert().ID {
				t.Errorf("webhook-id = %q, want the alert ID", h.Get(webhook.HeaderID))
			}
			if h.Get(webhook.HeaderTimestamp) != strconv.FormatInt(now.Unix(), 10) {
				t.Errorf("webhook-timestamp = %q, want the attempt's time %d", h.Get(webhook.HeaderTimestamp), now.Unix())
			}
			if err := webhook.Verify(testSecret, h, got.body, 5*time.Minute, now); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

func TestNotifyNetworkErrorsAreRetriedWithoutTheURL(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		closed  bool
	}{
		{name: "connection refused", closed: true},
		{name: "timeout", handler: func(w http.ResponseWriter, r *http.Request) {
			// Reading the body lets the server notice the client hang up.
			_, _ = io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			url := srv.URL + "/in/SECRETPATHTOKEN"
			if tt.closed {
				srv.Close()
			} else {
				defer srv.Close()
				// Unblock the handler however the client ended.
				defer srv.CloseClientConnections()
			}
			n := newNotifier(t, url, clocktest.New(time.Unix(1_800_000_000, 0)), 50*time.Millisecond)
			retry, _, err := n.Notify(t.Context(), notify.Delivery{Delivery: authpilot.Delivery{Sink: "hook", Alert: sampleAlert()}})
			if err == nil || !retry {
				t.Fatalf("Notify = %v, %v; want a retryable error", retry, err)
			}
			if tt.handler != nil && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %q does not wrap context.DeadlineExceeded", err)
			}
			notifytest.AssertNoSecrets(t, "", []error{err}, nil, "SECRETPATHTOKEN", url)
		})
	}
}

func TestNewRejectsBadConfigWithoutLeaking(t *testing.T) {
	tests := []struct {
		name    string
		sink    notify.Sink
		cfg     webhook.Config
		secrets notifytest.Secrets
		want    string
	}{
		{name: "missing signing secret", sink: notify.Sink{Name: "h", Type: "webhook"}, cfg: webhook.Config{URL: "https://x.example/h", Secret: "k"},
			secrets: notifytest.Secrets{}, want: "secret not found"},
		{name: "signing secret not base64", sink: notify.Sink{Name: "h", Type: "webhook"}, cfg: webhook.Config{URL: "https://x.example/h", Secret: "k"},
			secrets: notifytest.Secrets{"k": "whsec_%%TOPSECRET%%"}, want: "not standard base64"},
		{name: "url secret not a URL", sink: notify.Sink{Name: "h", Type: "webhook"}, cfg: webhook.Config{URLSecret: "u", Secret: "k"},
			secrets: notifytest.Secrets{"u": "ftp://TOPSECRET.example/x", "k": testSecret}, want: "scheme"},
		{name: "url secret unparsable", sink: notify.Sink{Name: "h", Type: "webhook"}, cfg: webhook.Config{URLSecret: "u", Secret: "k"},
			secrets: notifytest.Secrets{"u": "https://x.example/%zzTOPSECRET", "k": testSecret}, want: "not a valid URL"},
		{name: "no signing secret configured", sink: notify.Sink{Name: "h", Type: "webhook"}, cfg: webhook.Config{URL: "https://x.example/h"},
			want: "secret is required for a webhook sink"},
		{name: "wrong type", sink: notify.Sink{Name: "h", Type: "slack"}, cfg: webhook.Config{URLSecret: "u"}, want: `type is "slack"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := webhook.New(tt.sink, tt.cfg, tt.secrets, webhook.Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want an error containing %q", err, tt.want)
			}
			notifytest.AssertNoSecrets(t, "", []error{err}, nil, "TOPSECRET")
		})
	}
}

// TestReceive: the receiving side reads, verifies and decodes a delivery,
// and refuses a wrong signature or a body that is no payload.
func TestReceive(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	key, err := webhook.DecodeSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	request := func(body, sig string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(body))
		r.Header.Set(webhook.HeaderID, "alert-1")
		r.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
		if sig == "" {
			sig = webhook.Sign(key, "alert-1", now, []byte(body))
		}
		r.Header.Set(webhook.HeaderSignature, sig)
		return r
	}
	const body = `{"type":"status_changed","timestamp":"2027-01-15T08:00:00Z","data":{"case_id":"case-1","status":"approved"}}`
	d, err := webhook.Receive(request(body, ""), secret, time.Minute, now)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if d.ID != "alert-1" || d.Type != authpilot.AlertStatusChanged || d.Data.CaseID != "case-1" || d.Data.Status != authpilot.StatusApproved {
		t.Errorf("Receive = %+v", d)
	}
	if _, err := webhook.Receive(request(body, "v1,AAAA"), secret, time.Minute, now); !errors.Is(err, webhook.ErrNoSignature) {
		t.Errorf("wrong signature: %v, want ErrNoSignature", err)
	}
	if _, err := webhook.Receive(request(`[1]`, ""), secret, time.Minute, now); !errors.Is(err, webhook.ErrBadPayload) {
		t.Errorf("not a payload: %v, want ErrBadPayload", err)
	}
}

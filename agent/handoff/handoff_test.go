package handoff_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot/agent/handoff"
	"github.com/authpilot/authpilot/connectors"
	"github.com/authpilot/authpilot/notify/notifytest"
)

// waitOpen waits until b has an open hand-off.
func waitOpen(t *testing.T, b *handoff.Broker) handoff.View {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		ch := b.Changed()
		if l := b.List(); len(l) > 0 {
			return l[0]
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatal("no hand-off opened")
		}
	}
}

type result struct {
	answer string
	err    error
}

func ask(b *handoff.Broker, ctx context.Context, q connectors.Question) <-chan result {
	out := make(chan result, 1)
	go func() {
		a, err := b.Ask(ctx, q)
		out <- result{a, err}
	}()
	return out
}

func TestAnswerIsReturnedAndNeverLogged(t *testing.T) {
	log, buf := notifytest.NewLogger()
	b := handoff.New(nil, log)
	res := ask(b, context.Background(), connectors.Question{Kind: connectors.HandOffCode, Connector: "summit", Prompt: "the code",
		Expires: time.Now().Add(time.Minute)})
	v := waitOpen(t, b)
	if err := b.HandBack(v.ID); !errors.Is(err, handoff.ErrWrongKind) {
		t.Errorf("hand back of a code hand-off: %v", err)
	}
	if err := b.Answer(v.ID, ""); !errors.Is(err, handoff.ErrEmptyAnswer) {
		t.Errorf("empty answer: %v", err)
	}
	if err := b.Answer(v.ID, "493817"); err != nil {
		t.Fatal(err)
	}
	if r := <-res; r.err != nil || r.answer != "493817" {
		t.Fatalf("ask: %+v", r)
	}
	if err := b.Answer(v.ID, "493817"); !errors.Is(err, handoff.ErrNotFound) {
		t.Errorf("second answer: %v", err)
	}
	if strings.Contains(buf.String(), "493817") || !strings.Contains(buf.String(), "hand-off answered") {
		t.Errorf("logs:\n%s", buf)
	}
}

// TestExpiryIsTheEarlierOfStepAndVisit: a hand-off shows when the visit
// will really stop waiting, and ends then with ErrHandOffExpired.
func TestExpiryIsTheEarlierOfStepAndVisit(t *testing.T) {
	b := handoff.New(nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	deadline, _ := ctx.Deadline()
	res := ask(b, ctx, connectors.Question{Kind: connectors.HandOffCode, Expires: time.Now().Add(time.Hour)})
	v := waitOpen(t, b)
	if !v.Expires.Equal(deadline) {
		t.Errorf("expires %v, want the visit's deadline %v", v.Expires, deadline)
	}
	if r := <-res; !errors.Is(r.err, context.DeadlineExceeded) {
		t.Errorf("ask: %+v, want the visit's deadline", r)
	}
	if len(b.List()) != 0 {
		t.Errorf("still open: %+v", b.List())
	}
	res = ask(b, context.Background(), connectors.Question{Kind: connectors.HandOffCode, Expires: time.Now().Add(100 * time.Millisecond)})
	if r := <-res; !errors.Is(r.err, connectors.ErrHandOffExpired) {
		t.Errorf("ask: %+v, want ErrHandOffExpired", r)
	}
}

// frames is a live page that draws n frames at once and records input.
type frames struct {
	n      int
	inputs chan connectors.InputEvent
}

func (f *frames) Screencast(ctx context.Context, frame func([]byte)) error {
	for i := range f.n {
		frame([]byte{0xff, 0xd8, byte(i)})
	}
	<-ctx.Done()
	return nil
}

func (f *frames) Input(_ context.Context, ev connectors.InputEvent) error {
	f.inputs <- ev
	return nil
}

func TestLiveHandOffOverHTTP(t *testing.T) {
	b := handoff.New(nil, nil)
	mux := http.NewServeMux()
	for _, rt := range b.Routes() {
		mux.Handle(rt.Pattern, rt.Handler)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	page := &frames{n: 2, inputs: make(chan connectors.InputEvent, 1)}
	res := ask(b, context.Background(), connectors.Question{Kind: connectors.HandOffCaptcha, Page: page, Expires: time.Now().Add(time.Minute)})
	v := waitOpen(t, b)
	if !v.Live {
		t.Errorf("%+v is not live", v)
	}
	tests := []struct {
		name, method, path, body string
		want                     int
	}{
		{"a frame", "GET", "/frame?after=0", "", http.StatusOK},
		{"bad after", "GET", "/frame?after=x", "", http.StatusUnprocessableEntity},
		{"answer to a live hand-off", "POST", "/answer", `{"value":"x"}`, http.StatusConflict},
		{"unknown field", "POST", "/input", `{"type":"click","z":1}`, http.StatusBadRequest},
		{"key without key", "POST", "/input", `{"type":"key"}`, http.StatusUnprocessableEntity},
		{"click", "POST", "/input", `{"type":"click","x":10,"y":20}`, http.StatusNoContent},
		{"hand back", "POST", "/handback", "", http.StatusNoContent},
		{"gone", "GET", "", "", http.StatusGone},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, srv.URL+"/v1/handoffs/"+v.ID+tt.path, strings.NewReader(tt.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, resp.StatusCode, tt.want)
		}
		if tt.name == "a frame" && (resp.Header.Get("X-Frame-Seq") == "" || resp.Header.Get("Content-Type") != "image/jpeg") {
			t.Errorf("frame headers %v", resp.Header)
		}
		if tt.name == "hand back" {
			if r := <-res; r.err != nil || r.answer != "" {
				t.Errorf("ask after hand back: %+v", r)
			}
		}
	}
	if ev := <-page.inputs; ev.X != 10 || ev.Y != 20 || ev.Type != "click" {
		t.Errorf("input %+v", ev)
	}
}

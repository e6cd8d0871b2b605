package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/authpilot/authpilot/notify/webhook"
)

// receivedAlert is one alert delivered to the demo's webhook receiver.
type receivedAlert struct {
	ID     string
	Type   string
	CaseID string
}

// webhookReceiver is the practice's own system: it verifies every
// delivery's Standard Webhooks signature and counts alerts per case.
type webhookReceiver struct {
	secret string
	now    func() time.Time

	mu       sync.Mutex
	seen     map[string]bool
	alerts   []receivedAlert
	rejected int
}

func (wr *webhookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d, err := webhook.Receive(r, wr.secret, 10*time.Minute, wr.now())
	if err != nil {
		wr.mu.Lock()
		wr.rejected++
		wr.mu.Unlock()
		http.Error(w, "bad delivery", http.StatusUnauthorized)
		return
	}
	wr.mu.Lock()
	if !wr.seen[d.ID] {
		wr.seen[d.ID] = true
		wr.alerts = append(wr.alerts, receivedAlert{ID: d.ID, Type: string(d.Type), CaseID: d.Data.CaseID})
	}
	wr.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (wr *webhookReceiver) perCase() map[string]int {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	out := map[string]int{}
	for _, a := range wr.alerts {
		if a.CaseID != "" {
			out[a.CaseID]++
		}
	}
	return out
}

func (wr *webhookReceiver) total() (alerts, rejected int) {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	return len(wr.alerts), wr.rejected
}

// slackReceiver stands in for Slack's incoming webhook: it prints each
// message the way a coordinator would read it in the channel.
type slackReceiver struct {
	out  func(string)
	mu   sync.Mutex
	msgs int
}

func (sr *slackReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var msg struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type string `json:"type"`
			Text *struct {
				Text string `json:"text"`
			} `json:"text"`
			Elements []struct {
				Text string `json:"text"`
			} `json:"elements"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	var lines []string
	for _, b := range msg.Blocks {
		switch {
		case b.Type == "header" && b.Text != nil:
			lines = append(lines, "*"+b.Text.Text+"*")
		case b.Type == "section" && b.Text != nil:
			lines = append(lines, b.Text.Text)
		}
	}
	if len(lines) == 0 {
		lines = []string{msg.Text}
	}
	sr.mu.Lock()
	sr.msgs++
	sr.mu.Unlock()
	text := strings.Join(lines, "\n")
	text = strings.ReplaceAll(text, "\n", "\n          │ ")
	sr.out(fmt.Sprintf("  slack   │ %s", text))
	_, _ = w.Write([]byte("ok"))
}

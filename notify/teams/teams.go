// Package teams delivers alerts to Microsoft Teams channels through an
// incoming webhook (or a Teams Workflows webhook) as an Adaptive Card
// (schema 1.4) in a message attachment: the alert's title in its
// severity's colour, the case's facts, what to do, and the patient only
// for a sink that opted in with include_phi. A card stays within Teams'
// message size limit (MaxBytes). The URL lives in the keyring
// (url_secret). Throttling (429) and server errors are retried by the
// dispatcher after the endpoint's Retry-After.
package teams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/notify"
)

// Notifier posts alerts to one Teams webhook.
type Notifier struct {
	notify.ChatSender
}

var _ notify.Recipient = (*Notifier)(nil)

// New returns the notifier of a Teams sink, reading its webhook URL from
// secrets.
func New(s notify.Sink, cfg Config, secrets authpilot.Secrets, o Options) (*Notifier, error) {
	cs, err := chat.Sender(s, cfg, secrets, o)
	if err != nil {
		return nil, err
	}
	return &Notifier{ChatSender: cs}, nil
}

// Notify implements notify.Notifier: one card.
func (n *Notifier) Notify(ctx context.Context, d notify.Delivery) (bool, time.Duration, error) {
	now := n.Clock.Now()
	c := n.Case(d)
	body, err := Build(notify.Summarize(d.Alert, c, now, n.Location, n.DigestRows))
	if err != nil {
		return false, 0, err
	}
	return n.Post(KindName, nil).Send(ctx, body, now)
}

// Message is a Teams webhook message carrying one Adaptive Card.
type Message struct {
	Type        string       `json:"type"` // "message"
	Attachments []Attachment `json:"attachments"`
}

// Attachment holds the card.
type Attachment struct {
	ContentType string  `json:"contentType"` // ContentType
	ContentURL  *string `json:"contentUrl"`  // always null
	Content     Card    `json:"content"`
}

// Card is an Adaptive Card.
type Card struct {
	Schema  string    `json:"$schema"`
	Type    string    `json:"type"` // "AdaptiveCard"
	Version string    `json:"version"`
	Body    []Element `json:"body"`
	MSTeams *Width    `json:"msteams,omitempty"`
}

// Width asks Teams for a full-width card.
type Width struct {
	Width string `json:"width"`
}

// Element is a TextBlock or a FactSet.
type Element struct {
	Type      string `json:"type"`
	Text      string `json:"text,omitempty"`
	Wrap      bool   `json:"wrap,omitempty"`
	Weight    string `json:"weight,omitempty"`
	Size      string `json:"size,omitempty"`
	Color     string `json:"color,omitempty"`
	IsSubtle  bool   `json:"isSubtle,omitempty"`
	Separator bool   `json:"separator,omitempty"`
	Facts     []Fact `json:"facts,omitempty"`
}

// Fact is one row of a FactSet.
type Fact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

// Card constants.
const (
	ContentType = "application/vnd.microsoft.card.adaptive"
	Schema      = "http://adaptivecards.io/schemas/adaptive-card.json"
	Version     = "1.4"
	// MaxBytes is the size a message is kept under: Teams refuses
	// webhook messages over about 28 KB.
	MaxBytes = 27 << 10
	// maxText caps one text or fact value.
	maxText = 2000
)

// Build lays out the card of a summary as the JSON body of a webhook
// message, within MaxBytes: a long digest loses rows (the last row says
// how many more), then long texts are cut.
func Build(s notify.Summary) ([]byte, error) {
	rows := s.Rows
	for {
		b, err := json.Marshal(message(s, rows))
		if err != nil {
			return nil, fmt.Errorf("encode teams card: %w", err)
		}
		if len(b) <= MaxBytes {
			return b, nil
		}
		if len(rows) <= 1 {
			// Nothing left to drop: cut every text to a tenth.
			s = shrink(s)
			rows = nil
			if b, err := json.Marshal(message(s, rows)); err == nil && len(b) <= MaxBytes {
				return b, nil
			}
			return nil, errors.New("encode teams card: too large even cut down")
		}
		keep := len(rows) * 3 / 4
		more := len(s.Rows) - keep
		rows = append(append([]string(nil), s.Rows[:keep]...), fmt.Sprintf("…and %d more", more))
	}
}

func shrink(s notify.Summary) notify.Summary {
	cut := func(v string) string { return truncate(v, 200) }
	s.Title, s.Action, s.Footer = cut(s.Title), cut(s.Action), cut(s.Footer)
	for _, fs := range []*[]notify.Fact{&s.Facts, &s.Patient} {
		out := make([]notify.Fact, len(*fs))
		for i, f := range *fs {
			out[i] = notify.Fact{Label: f.Label, Value: cut(f.Value)}
		}
		*fs = out
	}
	return s
}

func message(s notify.Summary, rows []string) Message {
	body := []Element{{
		Type: "TextBlock", Text: truncate(s.Title, maxText), Wrap: true, Weight: "Bolder", Size: "Medium", Color: color(s.Severity),
	}}
	if len(s.Facts) > 0 {
		body = append(body, factSet(s.Facts))
	}
	if len(rows) > 0 {
		var b strings.Builder
		for _, r := range rows {
			b.WriteString("- " + plain(r) + "\n")
		}
		body = append(body, Element{Type: "TextBlock", Text: b.String(), Wrap: true})
	}
	if s.Action != "" {
		body = append(body, Element{Type: "TextBlock", Text: "**What to do:** " + plain(truncate(s.Action, maxText)), Wrap: true})
	}
	if len(s.Patient) > 0 {
		ps := factSet(s.Patient)
		ps.Separator = true
		body = append(body, ps)
	}
	body = append(body, Element{Type: "TextBlock", Text: plain(s.Footer), Wrap: true, IsSubtle: true, Size: "Small", Separator: true})
	return Message{Type: "message", Attachments: []Attachment{{
		ContentType: ContentType,
		Content:     Card{Schema: Schema, Type: "AdaptiveCard", Version: Version, Body: body, MSTeams: &Width{Width: "Full"}},
	}}}
}

func factSet(fs []notify.Fact) Element {
	e := Element{Type: "FactSet"}
	for _, f := range fs {
		e.Facts = append(e.Facts, Fact{Title: f.Label, Value: plain(truncate(f.Value, maxText))})
	}
	return e
}

// color is the title's colour for a severity.
func color(severity string) string {
	switch severity {
	case string(authpilot.SeverityCritical):
		return "Attention"
	case string(authpilot.SeverityWarning):
		return "Warning"
	case "resolved":
		return "Good"
	}
	return "Default"
}

// plain keeps a payer's text from making a link in the card (Adaptive
// Cards render a subset of Markdown, [text](url) included).
func plain(s string) string {
	return strings.ReplaceAll(s, "](", "] (")
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

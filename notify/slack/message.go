package slack

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/notify"
)

// Slack's limits for a message (Block Kit reference).
const (
	MaxBlocks       = 50
	MaxSectionText  = 3000
	MaxHeaderText   = 150
	MaxFieldText    = 2000
	MaxFields       = 10
	MaxContextItems = 10
	// MaxFallbackText keeps the notification text short; Slack's own cap
	// is far higher.
	MaxFallbackText = 3000
)

// DefaultDigestRows caps the rows a digest lists.
const DefaultDigestRows = 25

// Message is an incoming-webhook payload.
type Message struct {
	// Text is the fallback shown in notifications and by clients that
	// cannot render blocks.
	Text        string  `json:"text"`
	Blocks      []Block `json:"blocks"`
	UnfurlLinks bool    `json:"unfurl_links"`
	UnfurlMedia bool    `json:"unfurl_media"`
}

// Block is a Block Kit layout block (header, section, context, divider).
type Block struct {
	Type     string `json:"type"`
	Text     *Text  `json:"text,omitempty"`
	Fields   []Text `json:"fields,omitempty"`
	Elements []Text `json:"elements,omitempty"`
}

// Text is a Block Kit text object.
type Text struct {
	Type  string `json:"type"` // "plain_text" or "mrkdwn"
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"`
}

// BuildOptions shape a message.
type BuildOptions struct {
	// Now is the time relative deadlines ("in 23h") are counted from.
	Now time.Time
	// Location is the practice's time zone for dates; nil means UTC.
	Location *time.Location
	// DigestRows caps a digest's rows (DefaultDigestRows when zero).
	DigestRows int
}

// Build lays out the message of an alert. c is the alert's case and must
// be nil unless the sink opted in to PHI; without it the message carries
// only the alert's own, PHI-free fields. The result is within Slack's
// limits.
func Build(a authpilot.Alert, c *authpilot.Case, o BuildOptions) Message {
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.DigestRows <= 0 {
		o.DigestRows = DefaultDigestRows
	}
	title := strings.TrimSpace(a.Title)
	if title == "" {
		title = notify.HumanType(a.Type)
	}
	blocks := []Block{header(alertEmoji(a) + " " + title)}
	if a.Type == authpilot.AlertDigest {
		blocks = append(blocks, digestBlocks(a, o)...)
	} else if facts := factLines(a, o); len(facts) > 0 {
		blocks = append(blocks, section(strings.Join(facts, "\n")))
	}
	if a.Action != "" {
		blocks = append(blocks, section(":point_right: *What to do:* "+escape(a.Action)))
	}
	if c != nil {
		blocks = append(blocks, section(phiLines(c)))
	}
	blocks = append(blocks, contextLine(a))

	fallback := alertEmoji(a) + " " + escape(title)
	if a.CaseID != "" {
		fallback += " — case " + escape(a.CaseID)
	}
	return enforce(Message{Text: fallback, Blocks: blocks})
}

func factLines(a authpilot.Alert, o BuildOptions) []string {
	var lines []string
	if a.CaseID != "" {
		l := "*Case:* `" + escape(a.CaseID) + "`"
		if a.ExternalRef != "" {
			l += "   *Ref:* " + escape(a.ExternalRef)
		}
		if a.Link != "" && !strings.ContainsAny(a.Link, "<>| ") {
			l += "   <" + a.Link + "|Open the case>"
		}
		lines = append(lines, l)
	}
	var pt []string
	if a.Payer != "" {
		pt = append(pt, "*Payer:* "+escape(a.Payer))
	}
	if a.Track != "" {
		pt = append(pt, "*Track:* "+escape(string(a.Track)))
	}
	if len(pt) > 0 {
		lines = append(lines, strings.Join(pt, "   "))
	}
	if a.Status != "" {
		s := "*Status:* "
		if a.PrevStatus != "" && a.PrevStatus != a.Status {
			s += escape(string(a.PrevStatus)) + " → "
		}
		lines = append(lines, s+"*"+escape(string(a.Status))+"*")
	}
	if a.Deadline != nil {
		lines = append(lines, "*Deadline:* "+deadlineText(a.Deadline, o))
	}
	if a.AuthNumber != "" {
		lines = append(lines, "*Auth #:* `"+escape(a.AuthNumber)+"`")
	}
	if a.Reason != "" {
		lines = append(lines, "*Reason:* "+escape(a.Reason))
	}
	return lines
}

// digestBlocks lists up to DigestRows items, packed into sections that fit
// Slack's section limit, then "…and N more".
func digestBlocks(a authpilot.Alert, o BuildOptions) []Block {
	if len(a.Items) == 0 {
		return []Block{section("Nothing open. :tada:")}
	}
	var rows []string
	for i, it := range a.Items {
		if i == o.DigestRows {
			break
		}
		r := "• `" + escape(it.CaseID) + "` " + escape(it.Payer)
		if it.Track != "" {
			r += " · " + escape(string(it.Track))
		}
		if it.Status != "" {
			r += " · " + escape(string(it.Status))
		}
		if it.Deadline != nil {
			r += " — " + deadlineText(it.Deadline, o)
		}
		rows = append(rows, truncate(r, MaxSectionText/4, true))
	}
	if more := len(a.Items) - len(rows); more > 0 {
		rows = append(rows, fmt.Sprintf("…and %d more", more))
	}
	var blocks []Block
	var cur strings.Builder
	for _, r := range rows {
		if cur.Len() > 0 && utf8.RuneCountInString(cur.String())+1+utf8.RuneCountInString(r) > MaxSectionText {
			blocks = append(blocks, section(cur.String()))
			cur.Reset()
		}
		if cur.Len() > 0 {
			cur.WriteByte('\n')
		}
		cur.WriteString(r)
	}
	if cur.Len() > 0 {
		blocks = append(blocks, section(cur.String()))
	}
	return blocks
}

// phiLines is the patient section of a sink that opted in to PHI.
func phiLines(c *authpilot.Case) string {
	p := c.Patient
	l := "*Patient:* " + escape(strings.TrimSpace(p.LastName+", "+p.FirstName))
	if !p.DOB.IsZero() {
		l += "   *DOB:* " + p.DOB.String()
	}
	if p.MemberID != "" {
		l += "   *Member ID:* " + escape(p.MemberID)
	}
	if codes := c.Codes(); len(codes) > 0 {
		l += "\n*Codes:* " + escape(strings.Join(codes, ", "))
	}
	if len(c.Diagnoses) > 0 {
		l += "\n*Diagnoses:* " + escape(strings.Join(c.Diagnoses, ", "))
	}
	return l
}

func contextLine(a authpilot.Alert) Block {
	parts := []string{"`" + escape(string(a.Type)) + "`", "alert " + escape(a.ID)}
	if a.ConnectorID != "" {
		parts = append(parts, "connector "+escape(a.ConnectorID))
	}
	if a.Recording != "" {
		parts = append(parts, "recording "+escape(a.Recording))
	}
	if a.Screenshot != "" {
		parts = append(parts, "screenshot "+escape(a.Screenshot))
	}
	return Block{Type: "context", Elements: []Text{{Type: "mrkdwn", Text: strings.Join(parts, " · ")}}}
}

// deadlineText reads "decision due Tue Nov 24, 5:00 PM EST (in 23h)".
func deadlineText(d *authpilot.Deadline, o BuildOptions) string {
	return escape(notify.DeadlineText(d, o.Now, o.Location))
}

// alertEmoji marks a resolved alert as good news whatever its severity
// (it keeps its problem's severity for routing and priority).
func alertEmoji(a authpilot.Alert) string {
	if a.Type == authpilot.AlertResolved {
		return ":white_check_mark:"
	}
	return emoji(a.Severity)
}

func emoji(s authpilot.Severity) string {
	switch s {
	case authpilot.SeverityCritical:
		return ":rotating_light:"
	case authpilot.SeverityWarning:
		return ":warning:"
	default:
		return ":information_source:"
	}
}

func header(text string) Block {
	return Block{Type: "header", Text: &Text{Type: "plain_text", Text: text, Emoji: true}}
}

func section(mrkdwn string) Block {
	return Block{Type: "section", Text: &Text{Type: "mrkdwn", Text: mrkdwn}}
}

// escape makes text safe in mrkdwn: Slack reads &, < and > as markup
// (links, mentions such as <!channel>).
func escape(s string) string {
	return mrkdwnEscaper.Replace(s)
}

var mrkdwnEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// truncate cuts s to at most n characters, ending in "…". For mrkdwn it
// does not leave half an escape entity behind.
func truncate(s string, n int, mrkdwn bool) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)[:n-1]
	out := string(r)
	if mrkdwn {
		if amp := strings.LastIndexByte(out, '&'); amp >= 0 && !strings.Contains(out[amp:], ";") {
			out = out[:amp]
		}
	}
	return out + "…"
}

// enforce holds a message to Slack's limits whatever its content.
func enforce(m Message) Message {
	m.Text = truncate(m.Text, MaxFallbackText, true)
	if len(m.Blocks) > MaxBlocks {
		// Keep the head and the context line; say what was dropped.
		last := m.Blocks[len(m.Blocks)-1]
		dropped := len(m.Blocks) - (MaxBlocks - 1)
		m.Blocks = append(m.Blocks[:MaxBlocks-2:MaxBlocks-2],
			section(fmt.Sprintf("…%d more blocks not shown", dropped)), last)
	}
	for i := range m.Blocks {
		b := &m.Blocks[i]
		if b.Text != nil {
			limit := MaxSectionText
			if b.Type == "header" {
				limit = MaxHeaderText
			}
			b.Text.Text = truncate(b.Text.Text, limit, b.Text.Type == "mrkdwn")
		}
		if len(b.Fields) > MaxFields {
			b.Fields = b.Fields[:MaxFields]
		}
		for j := range b.Fields {
			b.Fields[j].Text = truncate(b.Fields[j].Text, MaxFieldText, b.Fields[j].Type == "mrkdwn")
		}
		if len(b.Elements) > MaxContextItems {
			b.Elements = b.Elements[:MaxContextItems]
		}
		for j := range b.Elements {
			b.Elements[j].Text = truncate(b.Elements[j].Text, MaxSectionText, b.Elements[j].Type == "mrkdwn")
		}
	}
	return m
}

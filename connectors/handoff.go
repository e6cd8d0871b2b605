package connectors

import (
	"context"
	"errors"
	"time"
)

// HandOffs lets a connector pause a visit and hand it to a person: a code
// the payer texted or e-mailed (the portal's ask step), or a CAPTCHA or
// unexpected page the person gets past in a live view of the paused page.
// The agent's hand-off broker implements it (Env.HandOffs).
type HandOffs interface {
	// Ask opens a hand-off and waits until a person answers it (the
	// value, for HandOffCode) or hands the page back ("" for the live
	// kinds). It returns ErrHandOffExpired when q.Expires passes first and
	// ctx's error when ctx ends. The answer is a secret: neither side
	// logs or records it.
	Ask(ctx context.Context, q Question) (string, error)
}

// HandOffKind says what a person is asked to do.
type HandOffKind string

const (
	// HandOffCode asks for a value typed into the page (an SMS code).
	HandOffCode HandOffKind = "code"
	// HandOffCaptcha asks a person to pass a CAPTCHA in the live view.
	HandOffCaptcha HandOffKind = "captcha"
	// HandOffUnexpectedPage asks a person to get past a page the flow
	// does not know, in the live view.
	HandOffUnexpectedPage HandOffKind = "unexpected_page"
)

// Live reports whether a person acts on the page itself (live view and
// hand back) rather than typing an answer.
func (k HandOffKind) Live() bool { return k == HandOffCaptcha || k == HandOffUnexpectedPage }

// ErrHandOffExpired is Ask's error when nobody answered in time.
var ErrHandOffExpired = errors.New("hand-off expired")

// Question is one hand-off. It holds no PHI in its words: Prompt is the
// flow's text; the screenshot is masked like a recording's.
type Question struct {
	Kind HandOffKind
	// Connector is the connector's ID; Run names the visit (the flow and
	// step, or the case's ID when the visit is about one case).
	Connector, Run string
	// Prompt is what the person is asked, e.g. "Summit texted a code to
	// the practice's phone: type it".
	Prompt string
	// Screenshot is a PNG of the paused page.
	Screenshot []byte
	// Expires is when the visit gives up waiting: the flow's own timeout
	// or the visit's deadline, whichever comes first.
	Expires time.Time
	// Page, for the live kinds, is the paused page a person sees and
	// drives; nil for HandOffCode.
	Page LivePage
}

// LivePage is a paused browser page a person sees and drives.
type LivePage interface {
	// Screencast sends JPEG frames of the page to frame as it repaints,
	// until ctx ends.
	Screencast(ctx context.Context, frame func(jpeg []byte)) error
	// Input dispatches a person's mouse click or keys to the page.
	Input(ctx context.Context, ev InputEvent) error
}

// InputEvent is one input a person sends through the live view.
type InputEvent struct {
	// Type is "click" (at X, Y in CSS pixels of the page's viewport),
	// "key" (Key, a key name such as "Enter", "Tab", "Backspace") or
	// "text" (Text typed as is).
	Type string  `json:"type"`
	X    float64 `json:"x,omitempty"`
	Y    float64 `json:"y,omitempty"`
	Key  string  `json:"key,omitempty"`
	Text string  `json:"text,omitempty"`
}

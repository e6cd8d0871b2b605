package portal

import (
	"context"
	"fmt"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/input"
	"github.com/go-rod/rod/lib/proto"

	"github.com/authpilot/authpilot/connectors"
)

// livePage is a paused visit's page as a person sees and drives it in a
// hand-off's live view: CDP screencast frames out, mouse and key events
// in.
type livePage struct {
	p *rod.Page
	// rec redacts what a person types into the page from the visit's
	// recording (it may be a secret).
	rec *lockedRecorder
}

var _ connectors.LivePage = (*livePage)(nil)

// screencastQuality is the JPEG quality of live-view frames.
const screencastQuality = 70

// Screencast streams the page's frames (Page.startScreencast) until ctx
// ends, acknowledging each so Chromium sends the next.
func (l *livePage) Screencast(ctx context.Context, frame func(jpeg []byte)) error {
	p := l.p.Context(ctx)
	wait := p.EachEvent(func(e *proto.PageScreencastFrame) {
		frame(e.Data)
		_ = proto.PageScreencastFrameAck{SessionID: e.SessionID}.Call(p)
	})
	q, one := screencastQuality, 1
	if err := (proto.PageStartScreencast{Format: proto.PageStartScreencastFormatJpeg, Quality: &q, EveryNthFrame: &one}).Call(p); err != nil {
		return fmt.Errorf("start the screencast: %w", err)
	}
	wait()
	// The visit goes on with this page: stop the frames on a context of
	// its own (ctx has ended).
	_ = proto.PageStopScreencast{}.Call(l.p)
	return nil
}

// Input dispatches a click (press and release of the left button at X,
// Y), a named key, or text.
func (l *livePage) Input(ctx context.Context, ev connectors.InputEvent) error {
	p := l.p.Context(ctx)
	switch ev.Type {
	case "click":
		for _, t := range []proto.InputDispatchMouseEventType{proto.InputDispatchMouseEventTypeMouseMoved,
			proto.InputDispatchMouseEventTypeMousePressed, proto.InputDispatchMouseEventTypeMouseReleased} {
			e := proto.InputDispatchMouseEvent{Type: t, X: ev.X, Y: ev.Y}
			if t != proto.InputDispatchMouseEventTypeMouseMoved {
				e.Button, e.ClickCount = proto.InputMouseButtonLeft, 1
			}
			if err := e.Call(p); err != nil {
				return fmt.Errorf("click: %w", err)
			}
		}
		return nil
	case "key":
		k, ok := keyNamed[ev.Key]
		if !ok {
			return fmt.Errorf("key: unknown key name")
		}
		if err := p.Keyboard.Type(k); err != nil {
			return fmt.Errorf("key: %w", err)
		}
		return nil
	case "text":
		if l.rec != nil {
			l.rec.Redact(ev.Text)
		}
		if err := p.InsertText(ev.Text); err != nil {
			return fmt.Errorf("text: %w", err)
		}
		return nil
	}
	return fmt.Errorf("type: unknown input type")
}

// keyNamed are the keys a person can press in the live view besides
// typing text (DOM KeyboardEvent.key names).
var keyNamed = map[string]input.Key{
	"Enter": input.Enter, "Tab": input.Tab, "Backspace": input.Backspace, "Escape": input.Escape,
	"Delete": input.Delete, "Space": input.Space, "ArrowUp": input.ArrowUp, "ArrowDown": input.ArrowDown,
	"ArrowLeft": input.ArrowLeft, "ArrowRight": input.ArrowRight, "Home": input.Home, "End": input.End,
}

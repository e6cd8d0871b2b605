// Package handoff is the agent's hand-off broker: a connector's visit that
// needs a person (a code the payer texted, a CAPTCHA, a page the flow does
// not know) waits here, tied to its live browser page, until a person
// answers or hands the page back, or the hand-off expires. Nothing
// survives a restart: a hand-off without its page means nothing.
package handoff

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/authpilot/authpilot/connectors"
	"github.com/authpilot/authpilot/ids"
)

var (
	// ErrNotFound: no open hand-off has this ID (answered, expired or
	// never opened).
	ErrNotFound = errors.New("no open hand-off with this id")
	// ErrWrongKind: an answer to a live hand-off, a hand-back or live
	// input to a code hand-off.
	ErrWrongKind = errors.New("not this kind of hand-off")
	// ErrEmptyAnswer: an answer with no characters.
	ErrEmptyAnswer = errors.New("the answer is empty")
)

// View is an open hand-off as a person sees it listed (no screenshot, no
// answer).
type View struct {
	ID        string                 `json:"id"`
	Connector string                 `json:"connector"`
	Run       string                 `json:"run"`
	Kind      connectors.HandOffKind `json:"kind"`
	Question  string                 `json:"question"`
	Created   time.Time              `json:"created"`
	Expires   time.Time              `json:"expires"`
	// Live says the page can be seen and driven (GET …/frame, POST …/input)
	// and is handed back rather than answered.
	Live bool `json:"live"`
}

// Broker holds the open hand-offs. It implements connectors.HandOffs.
type Broker struct {
	now func() time.Time
	log *slog.Logger

	mu   sync.Mutex
	open map[string]*handOff
	// changed is closed and replaced whenever a hand-off opens or
	// closes (Wait).
	changed chan struct{}
}

var _ connectors.HandOffs = (*Broker)(nil)

// New returns an empty broker. now is the clock of Created (nil:
// time.Now); expiry is the visit's real deadline.
func New(now func() time.Time, log *slog.Logger) *Broker {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Broker{now: now, log: log, open: map[string]*handOff{}, changed: make(chan struct{})}
}

type handOff struct {
	view       View
	screenshot []byte
	page       connectors.LivePage
	// answer takes the one answer or hand-back; buffered, written once.
	answer chan string
	done   bool
	screen *screen // live kinds: the screencast, started on first look
}

// Ask opens a hand-off for q and waits for its answer (see
// connectors.HandOffs). The answer is never logged.
func (b *Broker) Ask(ctx context.Context, q connectors.Question) (string, error) {
	if q.Kind.Live() && q.Page == nil {
		return "", fmt.Errorf("hand-off %s: no page to show", q.Kind)
	}
	now := b.now()
	h := &handOff{
		view: View{ID: ids.New(now), Connector: q.Connector, Run: q.Run, Kind: q.Kind, Question: q.Prompt,
			Created: now, Expires: q.Expires, Live: q.Kind.Live()},
		screenshot: q.Screenshot, page: q.Page, answer: make(chan string, 1),
	}
	wctx := ctx
	if d, ok := ctx.Deadline(); ok && (h.view.Expires.IsZero() || !h.view.Expires.Before(d)) {
		h.view.Expires = d // an honest expiry: the visit will not wait longer
	} else if !h.view.Expires.IsZero() {
		var cancel context.CancelFunc
		wctx, cancel = context.WithDeadline(ctx, h.view.Expires)
		defer cancel()
	}
	if h.view.Live {
		h.screen = newScreen(wctx, q.Page)
	}
	b.mu.Lock()
	b.open[h.view.ID] = h
	b.notifyLocked()
	b.mu.Unlock()
	log := b.log.With("handoff", h.view.ID, "connector", q.Connector, "kind", string(q.Kind))
	log.Info("hand-off opened", "expires", h.view.Expires)
	defer b.close(h)
	select {
	case a := <-h.answer:
		log.Info("hand-off answered")
		return a, nil
	case <-wctx.Done():
		if ctx.Err() != nil {
			log.Info("hand-off abandoned: the visit ended")
			return "", ctx.Err()
		}
		log.Warn("hand-off expired")
		return "", connectors.ErrHandOffExpired
	}
}

func (b *Broker) close(h *handOff) {
	b.mu.Lock()
	defer b.mu.Unlock()
	h.done = true
	delete(b.open, h.view.ID)
	b.notifyLocked()
}

func (b *Broker) notifyLocked() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// List returns the open hand-offs, oldest first.
func (b *Broker) List() []View {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]View, 0, len(b.open))
	for _, h := range b.open {
		out = append(out, h.view)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Changed returns a channel closed at the next opening or closing of a
// hand-off (for a page or test waiting on one).
func (b *Broker) Changed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.changed
}

// Get returns an open hand-off.
func (b *Broker) Get(id string) (View, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	h, ok := b.open[id]
	if !ok {
		return View{}, false
	}
	return h.view, true
}

// Screenshot returns the PNG of the paused page taken when the hand-off
// opened.
func (b *Broker) Screenshot(id string) ([]byte, error) {
	h, err := b.get(id, nil)
	if err != nil {
		return nil, err
	}
	return h.screenshot, nil
}

func (b *Broker) get(id string, live *bool) (*handOff, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	h, ok := b.open[id]
	if !ok {
		return nil, ErrNotFound
	}
	if live != nil && h.view.Live != *live {
		return nil, ErrWrongKind
	}
	return h, nil
}

// Answer gives a code hand-off its value: the paused visit types it and
// goes on.
func (b *Broker) Answer(id, value string) error {
	if value == "" {
		return ErrEmptyAnswer
	}
	return b.finish(id, false, value)
}

// HandBack ends a live hand-off: the visit checks the page against its
// flow again.
func (b *Broker) HandBack(id string) error {
	return b.finish(id, true, "")
}

func (b *Broker) finish(id string, live bool, value string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	h, ok := b.open[id]
	if !ok || h.done {
		return ErrNotFound
	}
	if h.view.Live != live {
		return ErrWrongKind
	}
	h.done = true
	h.answer <- value
	return nil
}

// Input sends a person's click or keys to a live hand-off's page.
func (b *Broker) Input(ctx context.Context, id string, ev connectors.InputEvent) error {
	live := true
	h, err := b.get(id, &live)
	if err != nil {
		return err
	}
	return h.page.Input(ctx, ev)
}

// Frame returns the live page's latest JPEG frame newer than after (its
// sequence number), waiting for one until ctx ends.
func (b *Broker) Frame(ctx context.Context, id string, after int) (int, []byte, error) {
	live := true
	h, err := b.get(id, &live)
	if err != nil {
		return 0, nil, err
	}
	return h.screen.next(ctx, after)
}

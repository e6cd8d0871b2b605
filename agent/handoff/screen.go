package handoff

import (
	"context"
	"sync"

	"github.com/authpilot/authpilot/connectors"
)

// screen keeps the latest screencast frame of a live hand-off's page.
type screen struct {
	mu    sync.Mutex
	seq   int
	frame []byte
	err   error
	// changed is closed and replaced at every frame and when the
	// screencast ends.
	changed chan struct{}
	ended   bool
}

// newScreen starts the page's screencast; it runs until ctx ends (the
// hand-off closes).
func newScreen(ctx context.Context, p connectors.LivePage) *screen {
	s := &screen{changed: make(chan struct{})}
	go func() {
		err := p.Screencast(ctx, s.put)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.ended, s.err = true, err
		close(s.changed)
	}()
	return s
}

func (s *screen) put(jpeg []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	s.seq++
	s.frame = jpeg
	close(s.changed)
	s.changed = make(chan struct{})
}

// next waits for a frame with a sequence number above after.
func (s *screen) next(ctx context.Context, after int) (int, []byte, error) {
	for {
		s.mu.Lock()
		seq, frame, ended, ch := s.seq, s.frame, s.ended, s.changed
		s.mu.Unlock()
		switch {
		case seq > after:
			return seq, frame, nil
		case ended:
			return 0, nil, ErrNotFound
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		}
	}
}

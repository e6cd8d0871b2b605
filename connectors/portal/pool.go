package portal

import (
	"context"
	"fmt"
	"sync"
)

// pollPool runs one poll's work — list pages and detail reads — on up to
// limits.pages workers, so details of the first list page start while the
// next pages load. Without fetch mode each worker has its own tab, opened
// only when work is waiting; in fetch mode every worker fetches from the
// one logged-in tab (see fetch.go).
type pollPool struct {
	s   *Session
	ctx context.Context
	max int
	// shared is the tab fetch-mode workers read from; nil without fetch
	// mode. sharedMu is held shared by each fetched task and exclusively
	// by a fallback that must navigate the shared tab itself.
	shared   *pageSlot
	sharedMu sync.RWMutex

	mu          sync.Mutex
	cond        *sync.Cond
	front, back []func(*worker)
	closed      bool
	workers     int
	idle        int
	started     int
	wg          sync.WaitGroup
}

// worker is one lane of a pollPool.
type worker struct {
	// slot is the worker's tab (fetch mode: the shared one).
	slot *pageSlot
	// key names the worker's fetched document (fetch mode).
	key string
	// err is set when no tab could be had: tasks must fail with it.
	err error
}

func (s *Session) newPollPool(ctx context.Context, shared *pageSlot) *pollPool {
	p := &pollPool{s: s, ctx: ctx, max: max(1, cap(s.c.pages)), shared: shared}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// push queues a task; front tasks (list pages) run before the others.
func (p *pollPool) push(front bool, t func(*worker)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if front {
		p.front = append(p.front, t)
	} else {
		p.back = append(p.back, t)
	}
	if p.idle == 0 && p.workers < p.max {
		p.spawnLocked()
		return
	}
	p.cond.Signal()
}

func (p *pollPool) spawnLocked() {
	p.workers++
	first := p.started == 0
	p.started++
	p.wg.Go(func() { p.work(first) })
}

func (p *pollPool) work(first bool) {
	s := p.s
	w := &worker{}
	switch {
	case p.shared != nil:
		w.slot, w.key = p.shared, fmt.Sprintf("w%d", s.docSeq.Add(1))
	case first:
		// The first worker waits for a tab; the others only take one that
		// is free now, so a busy portal runs on fewer tabs, not none.
		w.slot, w.err = s.page(p.ctx)
	default:
		if w.slot = s.takePage(); w.slot == nil {
			w.slot, _ = s.acquirePage(p.ctx, false)
		}
		if w.slot == nil {
			p.mu.Lock()
			p.workers--
			p.mu.Unlock()
			return
		}
	}
	if p.shared == nil && w.slot != nil {
		defer s.putPage(w.slot)
	}
	for {
		t := p.pop()
		if t == nil {
			return
		}
		t(w)
	}
}

func (p *pollPool) pop() func(*worker) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.front) == 0 && len(p.back) == 0 && !p.closed {
		p.idle++
		p.cond.Wait()
		p.idle--
	}
	var t func(*worker)
	switch {
	case len(p.front) > 0:
		t, p.front = p.front[0], p.front[1:]
	case len(p.back) > 0:
		t, p.back = p.back[0], p.back[1:]
	}
	return t
}

// close lets the workers finish the queued tasks and stop; wait waits for
// them.
func (p *pollPool) close() {
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *pollPool) wait() { p.wg.Wait() }

// fetched runs op on the shared tab alongside the other fetch-mode tasks.
func (p *pollPool) fetched(op func()) {
	p.sharedMu.RLock()
	defer p.sharedMu.RUnlock()
	op()
}

// tab returns a tab to read a page in after a fetch missed: a free tab of
// the visit, a new one if the portal's limit allows, or else the shared
// tab, held exclusively (its fetched documents are lost, and every
// fetched task starts with its own goto).
func (p *pollPool) tab() (*pageSlot, func()) {
	s := p.s
	if slot := s.takePage(); slot != nil {
		return slot, func() { s.putPage(slot) }
	}
	if slot, _ := s.acquirePage(p.ctx, false); slot != nil {
		return slot, func() { s.putPage(slot) }
	}
	p.sharedMu.Lock()
	return p.shared, p.sharedMu.Unlock
}

package portal

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/go-rod/rod"

	"github.com/authpilot/authpilot"
)

// Poll observes cases in one visit. With a list it reads every page of the
// list once, matches rows to cases by payer reference, and opens the
// detail flow only for rows that changed (status wording, mapped status,
// or the updated field) or for decided cases still missing their
// determination; the others come back Unchanged. Without a list it runs
// the lookup (or detail) flow for every case. The work runs on up to
// limits.pages workers, and a changed row's detail starts as soon as its
// list page is read; with poll.fetch the workers fetch pages from the
// logged-in tab instead of navigating tabs.
func (s *Session) Poll(ctx context.Context, cases []*authpilot.Case) ([]authpilot.Observation, error) {
	obs := make([]authpilot.Observation, 0, len(cases))
	err := s.PollEach(ctx, cases, func(o authpilot.Observation) { obs = append(obs, o) })
	if err != nil {
		return nil, err
	}
	return obs, nil
}

// PollEach is Poll handing each observation to emit as soon as it is made
// (connectors.StreamPoller): unchanged rows as their list page is read,
// the others as their detail is.
func (s *Session) PollEach(ctx context.Context, cases []*authpilot.Case, emit func(authpilot.Observation)) error {
	p := s.c.opts.Poll
	if p == nil {
		return &authpilot.Error{Class: authpilot.ErrUnsupported, Step: "poll", Msg: "no poll flow configured"}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		emitMu sync.Mutex
		failed bool
	)
	done := func(o authpilot.Observation) {
		emitMu.Lock()
		defer emitMu.Unlock()
		if !failed {
			emit(o)
		}
	}
	var shared *pageSlot
	if p.Fetch {
		slot, err := s.page(ctx)
		if err != nil {
			return err
		}
		shared = slot
		defer s.putPage(shared)
	}
	pool := s.newPollPool(ctx, shared)
	defer pool.wait()
	defer pool.close()

	detail := func(i int, row map[string]string) {
		pool.push(false, func(w *worker) { done(s.pollOne(ctx, pool, w, cases[i], row)) })
	}
	byRef := map[string][]int{}
	for i, c := range cases {
		ref := normRef(c.PayerRef)
		switch {
		case ref == "":
			done(authpilot.Observation{CaseID: c.ID, Err: &authpilot.Error{Class: authpilot.ErrRequestNotFound, Step: "poll", Msg: "the case has no payer reference"}})
		case p.List == nil:
			detail(i, nil)
		default:
			byRef[ref] = append(byRef[ref], i)
		}
	}
	if p.List == nil {
		return nil
	}
	_, listHasStatus := p.List.Fields[VarStatus]
	var mu sync.Mutex
	seen := map[int]bool{}
	onRows := func(rows []map[string]string) {
		mu.Lock()
		defer mu.Unlock()
		for _, row := range rows {
			for _, i := range byRef[normRef(row[VarPayerRef])] {
				if seen[i] {
					continue
				}
				seen[i] = true
				c := cases[i]
				var st authpilot.Status
				if listHasStatus {
					var ok bool
					if st, ok = s.c.opts.mapStatus(row[VarStatus]); !ok {
						done(authpilot.Observation{CaseID: c.ID, StatusText: normSpace(row[VarStatus]), Err: errUnmapped("poll.list.fields.status")})
						continue
					}
				}
				if listHasStatus && !s.rowChanged(c, row, st) && !s.needsDetermination(c, st) {
					s.c.remember(normRef(c.PayerRef), row)
					done(authpilot.Observation{CaseID: c.ID, Status: st, StatusText: normSpace(row[VarStatus]), Unchanged: true})
					continue
				}
				detail(i, row)
			}
		}
	}
	if err := s.readList(ctx, pool, onRows); err != nil {
		emitMu.Lock()
		failed = true
		emitMu.Unlock()
		cancel()
		return err
	}
	for i, c := range cases {
		if _, listed := byRef[normRef(c.PayerRef)]; !listed || seen[i] {
			continue
		}
		if p.Detail != nil {
			detail(i, nil)
			continue
		}
		done(authpilot.Observation{CaseID: c.ID, Err: &authpilot.Error{Class: authpilot.ErrRequestNotFound, Step: "poll.list", Msg: "the request is not on the list"}})
	}
	return nil
}

// rowChanged compares a list row with what the case last recorded.
func (s *Session) rowChanged(c *authpilot.Case, row map[string]string, st authpilot.Status) bool {
	if normSpace(row[VarStatus]) != normSpace(c.StatusText) || st != c.Status {
		return true
	}
	if u, ok := row[VarUpdated]; ok {
		s.c.mu.Lock()
		prev, seen := s.c.updated[normRef(c.PayerRef)]
		s.c.mu.Unlock()
		if seen && prev != normSpace(u) {
			return true
		}
	}
	return false
}

// needsDetermination is true for a decided case whose determination (or,
// when a download flow exists, whose letter) was never read.
func (s *Session) needsDetermination(c *authpilot.Case, st authpilot.Status) bool {
	if !st.Decided() {
		return false
	}
	if c.Determination == nil {
		return true
	}
	return s.wantsLetter(st) && len(c.Determination.Letters) == 0
}

func (s *Session) wantsLetter(st authpilot.Status) bool {
	d := s.c.opts.Download
	if d == nil {
		return false
	}
	if len(d.When) == 0 {
		return st.Decided()
	}
	for _, w := range d.When {
		if w == st {
			return true
		}
	}
	return false
}

// listPages is how many list pages the last poll found (0: unknown).
func (c *Connector) listPages() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastPages
}

func (c *Connector) setListPages(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastPages = n
}

// remember keeps a row's updated value, so the next poll of this process
// notices when it moves.
func (c *Connector) remember(ref string, row map[string]string) {
	u, ok := row[VarUpdated]
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.updated[ref] = normSpace(u)
}

// pollOne reads one case on worker w: fetched first in fetch mode, and in
// a tab when that misses.
func (s *Session) pollOne(ctx context.Context, pool *pollPool, w *worker, c *authpilot.Case, row map[string]string) authpilot.Observation {
	if w.err != nil {
		return authpilot.Observation{CaseID: c.ID, Err: w.err}
	}
	if w.key != "" {
		var ob authpilot.Observation
		pool.fetched(func() { ob = s.readCase(ctx, w.slot, w.key, c, row) })
		if ob.Err == nil || ctx.Err() != nil {
			return ob
		}
		slot, release := pool.tab()
		defer release()
		return s.readCase(ctx, slot, "", c, row)
	}
	return s.readCase(ctx, w.slot, "", c, row)
}

// readCase runs the detail or lookup flow of one case (seeded with its
// list row) and, for a newly decided case, the download flow on the same
// page — in slot's tab, or on a fetched document when doc is set (then
// any failure is an error, for the caller to read the case in a tab).
func (s *Session) readCase(ctx context.Context, slot *pageSlot, doc string, c *authpilot.Case, row map[string]string) authpilot.Observation {
	p := s.c.opts.Poll
	flow, name := p.Detail, "poll.detail"
	if p.Lookup != nil {
		flow, name = p.Lookup, "poll.lookup"
	}
	ob := authpilot.Observation{CaseID: c.ID}
	var r *runner
	op := func() error {
		vars := map[string]any{}
		for k, v := range row {
			vars[k] = v
		}
		r = s.newRunner(slot, &tmplData{Case: c, Vars: vars}, name)
		r.doc = doc
		if flow == nil {
			return nil
		}
		return r.runFlow(ctx, flow.Steps)
	}
	var err error
	if doc != "" {
		err = op()
	} else {
		err = s.withRelogin(ctx, slot, nil, op)
	}
	if err != nil {
		ob.Err = err
		return ob
	}
	out, err := s.c.opts.outcomeOf(c, r.data.Vars, name)
	if err != nil {
		ob.StatusText, ob.Err = out.statusText, err
		return ob
	}
	if !out.hasStatus {
		ob.Err = &authpilot.Error{Class: authpilot.ErrPortalChanged, Step: name, Msg: "no status was read"}
		return ob
	}
	ob.Status, ob.StatusText, ob.Determination = out.status, out.statusText, out.det
	ob.Shown = s.c.opts.shown(r.data.Vars)
	if out.payerRef != "" && normRef(out.payerRef) != normRef(c.PayerRef) {
		ob.PayerRef = out.payerRef
	}
	if s.wantsLetter(out.status) && (out.status != c.Status || c.Determination == nil || len(c.Determination.Letters) == 0) {
		download := func() error {
			r.out.files = nil
			return r.runFlow(ctx, s.c.opts.Download.Steps)
		}
		if doc != "" {
			if err := download(); err != nil {
				return authpilot.Observation{CaseID: c.ID, Err: err}
			}
		} else if err := s.withRelogin(ctx, slot, nil, download); err != nil {
			// The status stands; the letter is fetched on the next poll
			// (the case still has no letter).
			s.log.Warn("portal letter download failed", "case", c.ID, "err", err)
		}
		ob.Files = r.out.files
	}
	if row != nil {
		s.c.remember(normRef(c.PayerRef), row)
	}
	return ob
}

// readList reads every page of the list, handing each page's rows to
// onRows as soon as they are read (from several goroutines). With
// page_url and page_count the pages after the first are read side by
// side — those the last poll found are asked for together with the first
// page, the rest once the first page tells how many there are; a page
// asked for ahead that turns out not to exist is ignored. Otherwise the
// next link is followed one page at a time.
func (s *Session) readList(ctx context.Context, pool *pollPool, onRows func([]map[string]string)) error {
	ctx, cancel := context.WithTimeout(ctx, s.c.opts.Limits.FlowTimeout)
	defer cancel()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		count  int // pages the first page announced; 0 until it is read
		pushed = map[int]bool{}
		errs   = map[int]error{}
	)
	var page func(n int)
	page = func(n int) {
		mu.Lock()
		if pushed[n] {
			mu.Unlock()
			return
		}
		pushed[n] = true
		mu.Unlock()
		wg.Add(1)
		pool.push(true, func(w *worker) {
			defer wg.Done()
			more, err := 0, w.err
			if err == nil {
				more, err = s.listPages(ctx, pool, w, n, onRows)
			}
			mu.Lock()
			if err != nil {
				errs[n] = err
				if n == 1 || (count > 0 && n <= count) {
					cancel()
				}
			}
			if n == 1 && err == nil {
				count = max(more, 1)
			}
			mu.Unlock()
			if n == 1 && err == nil && more > 0 {
				s.c.setListPages(more)
				for m := 2; m <= more; m++ {
					page(m)
				}
			}
		})
	}
	page(1)
	if s.c.opts.Poll.List.pageStep != nil {
		for m := 2; m <= s.c.listPages(); m++ {
			page(m)
		}
	}
	wg.Wait()
	if err := errs[1]; err != nil {
		return err
	}
	for n := 2; n <= count; n++ {
		if err := errs[n]; err != nil {
			return err
		}
	}
	return nil
}

// listPages reads list page n on worker w (fetched first in fetch mode)
// and returns, for the first page of a page_url list, how many pages
// there are to read. Without page_url, page 1 follows the next link
// through the whole list.
func (s *Session) listPages(ctx context.Context, pool *pollPool, w *worker, n int, onRows func([]map[string]string)) (int, error) {
	read := func(slot *pageSlot, doc string) (more int, err error) {
		op := func() error {
			var e error
			more, e = s.readListPages(ctx, slot, doc, n, onRows)
			return e
		}
		if doc != "" {
			return more, op()
		}
		return more, s.withRelogin(ctx, slot, nil, op)
	}
	if w.key != "" {
		var more int
		var err error
		pool.fetched(func() { more, err = read(w.slot, w.key) })
		if err == nil || ctx.Err() != nil {
			return more, err
		}
		slot, release := pool.tab()
		defer release()
		return read(slot, "")
	}
	return read(w.slot, "")
}

// readListPages reads page n into onRows; see listPages.
func (s *Session) readListPages(ctx context.Context, slot *pageSlot, doc string, n int, onRows func([]map[string]string)) (int, error) {
	l := s.c.opts.Poll.List
	r := s.newRunner(slot, &tmplData{Vars: map[string]any{}, Page: n}, "poll.list")
	r.doc = doc
	r.flowCtx = ctx
	if n == 1 {
		if l.gotoStep != nil {
			if err := r.runStep(ctx, l.gotoStep); err != nil {
				return 0, err
			}
		}
		if err := r.runSteps(ctx, l.Steps); err != nil {
			return 0, err
		}
	} else if err := r.runStep(ctx, l.pageStep); err != nil {
		return 0, err
	}
	specs := []namedSpec{{name: VarPayerRef, spec: l.Key}}
	for _, name := range keys(l.Fields) {
		specs = append(specs, namedSpec{name: name, spec: l.Fields[name]})
	}
	for ; ; n++ {
		if err := r.runStep(ctx, l.rowsStep); err != nil {
			return 0, err
		}
		start := s.c.now()
		recs, err := readRows(slot.page.Context(ctx), doc, l.Rows, specs, false)
		if err != nil {
			e := &authpilot.Error{Class: authpilot.ErrPortalChanged, Step: l.Path, Msg: fmt.Sprintf("page %d", n), Err: err}
			if _, ok := err.(*fieldError); !ok {
				e.Class = authpilot.ErrRetryable
			}
			if doc == "" {
				r.evidence(ctx, l.rowsStep, true, e)
			}
			s.rec.Step(fmt.Sprintf("%s read page %d", l.Path, n), start, e)
			return 0, e
		}
		var rows []map[string]string
		for _, rec := range recs {
			if normRef(rec[VarPayerRef]) != "" {
				rows = append(rows, rec)
			}
		}
		onRows(rows)
		s.rec.Step(fmt.Sprintf("%s read page %d (%d rows)", l.Path, n, len(recs)), start, nil)
		if l.pageStep != nil {
			if n > 1 {
				return 0, nil
			}
			return s.listPageCount(ctx, slot, doc, l)
		}
		if l.nextStep == nil || n >= l.MaxPages {
			return 0, nil
		}
		var has bool
		if doc != "" {
			x := &exec{r: r, st: l.nextStep, ctx: ctx, page: slot.page.Context(ctx)}
			has, err = x.docHasEnabled(l.Next)
		} else {
			has, err = hasEnabled(slot.page.Context(ctx), l.Next)
		}
		if err != nil {
			return 0, &authpilot.Error{Class: authpilot.ErrRetryable, Step: l.Path + ".next", Msg: "look for the next page link", Err: err}
		}
		if !has {
			return 0, nil
		}
		if err := r.runStep(ctx, l.nextStep); err != nil {
			return 0, err
		}
	}
}

// listPageCount reads page_count from the first list page, bounded by
// max_pages.
func (s *Session) listPageCount(ctx context.Context, slot *pageSlot, doc string, l *ListSpec) (int, error) {
	recs, err := readRows(slot.page.Context(ctx), doc, ":root", []namedSpec{{name: "page_count", spec: l.PageCount}}, true)
	if err != nil || len(recs) == 0 {
		return 0, &authpilot.Error{Class: authpilot.ErrPortalChanged, Step: l.Path + ".page_count", Msg: "read the number of pages", Err: err}
	}
	v := recs[0]["page_count"]
	if v == "" && l.PageCount.Optional {
		return 1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, &authpilot.Error{Class: authpilot.ErrPortalChanged, Step: l.Path + ".page_count", Msg: "the number of pages is not a positive number (check the regex)"}
	}
	return min(n, l.MaxPages), nil
}

const jsEnabled = `(sel) => {
	for (const el of document.querySelectorAll(sel)) {
		if (el.getClientRects().length === 0 || getComputedStyle(el).visibility === 'hidden') continue;
		if (el.disabled || el.getAttribute('aria-disabled') === 'true' || el.classList.contains('disabled')) continue;
		if (el.tagName === 'A' && !el.getAttribute('href')) continue;
		return true;
	}
	return false;
}`

// hasEnabled reports whether a visible, enabled element matches sel now.
func hasEnabled(p *rod.Page, sel string) (bool, error) {
	res, err := p.Eval(jsEnabled, sel)
	if err != nil {
		return false, err
	}
	return res.Value.Bool(), nil
}

// listRowsStep waits until the list shows rows (or its empty state).
type listRowsStep struct {
	Rows, Empty string
}

func (a *listRowsStep) run(x *exec) error {
	if a.Empty == "" {
		_, err := x.waitMatch(quote(a.Rows), exists(a.Rows))
		return err
	}
	_, err := x.waitMatch(quote(a.Rows)+" or "+quote(a.Empty), func(p *rod.Page) (*rod.Element, error) {
		if el, err := p.Element(a.Rows); err == nil {
			return el, nil
		}
		return p.ElementByJS(rod.Eval(jsVisible, a.Empty))
	})
	return err
}

func (a *listRowsStep) fetch(x *exec) error {
	ok, err := x.docExists(a.Rows)
	if err != nil || ok {
		return err
	}
	if a.Empty != "" {
		if ok, err = x.docMatches(&Alternative{Selector: a.Empty}); err != nil || ok {
			return err
		}
	}
	return x.notOnFetched(quote(a.Rows))
}

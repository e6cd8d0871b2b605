package portal

import (
	"context"
	"fmt"
	"sync"

	"github.com/go-rod/rod"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/connectors"
)

// Poll observes cases in one visit. With a list it reads every page of the
// list once, matches rows to cases by payer reference, and opens the
// detail flow only for rows that changed (status wording, mapped status,
// or the updated field) or for decided cases still missing their
// determination; the others come back Unchanged. Without a list it runs
// the lookup (or detail) flow for every case. Detail pages run on up to
// limits.pages pages at once.
func (s *Session) Poll(ctx context.Context, cases []*authpilot.Case) ([]connectors.Observation, error) {
	p := s.c.opts.Poll
	if p == nil {
		return nil, &connectors.Error{Class: connectors.ErrUnsupported, Step: "poll", Msg: "no poll flow configured"}
	}
	obs := make([]connectors.Observation, len(cases))
	var rows map[string]map[string]string
	if p.List != nil {
		slot, err := s.page(ctx)
		if err != nil {
			return nil, err
		}
		err = s.withRelogin(ctx, slot, nil, func() error {
			var err error
			rows, err = s.readList(ctx, slot)
			return err
		})
		s.putPage(slot)
		if err != nil {
			return nil, err
		}
	}
	var jobs []pollJob
	listHasStatus := false
	if p.List != nil {
		_, listHasStatus = p.List.Fields[VarStatus]
	}
	for i, c := range cases {
		obs[i].CaseID = c.ID
		ref := normRef(c.PayerRef)
		if ref == "" {
			obs[i].Err = &connectors.Error{Class: connectors.ErrNotFound, Step: "poll", Msg: "the case has no payer reference"}
			continue
		}
		if p.List == nil {
			jobs = append(jobs, pollJob{i: i})
			continue
		}
		row, ok := rows[ref]
		if !ok {
			if p.Detail != nil {
				jobs = append(jobs, pollJob{i: i})
				continue
			}
			obs[i].Err = &connectors.Error{Class: connectors.ErrNotFound, Step: "poll.list", Msg: "the request is not on the list"}
			continue
		}
		var st authpilot.Status
		if listHasStatus {
			st, ok = s.c.opts.mapStatus(row[VarStatus])
			if !ok {
				obs[i].StatusText = normSpace(row[VarStatus])
				obs[i].Err = errUnmapped("poll.list.fields.status")
				continue
			}
		}
		if listHasStatus && !s.rowChanged(c, row, st) && !s.needsDetermination(c, st) {
			obs[i].Status, obs[i].StatusText, obs[i].Unchanged = st, normSpace(row[VarStatus]), true
			s.c.remember(ref, row)
			continue
		}
		jobs = append(jobs, pollJob{i: i, row: row})
	}
	s.runJobs(ctx, cases, jobs, obs)
	return obs, nil
}

type pollJob struct {
	i   int
	row map[string]string
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

// runJobs runs the detail (or lookup) flow of each job on up to
// limits.pages pages of the visit.
func (s *Session) runJobs(ctx context.Context, cases []*authpilot.Case, jobs []pollJob, obs []connectors.Observation) {
	if len(jobs) == 0 {
		return
	}
	workers := min(cap(s.c.pages), len(jobs))
	first, err := s.page(ctx)
	if err != nil {
		for _, j := range jobs {
			obs[j.i].Err = err
		}
		return
	}
	ch := make(chan pollJob)
	var wg sync.WaitGroup
	work := func(slot *pageSlot) {
		wg.Go(func() {
			defer s.putPage(slot)
			for j := range ch {
				obs[j.i] = s.pollOne(ctx, slot, cases[j.i], j.row)
			}
		})
	}
	work(first)
	// The other pages open while the first one already works (opening a
	// page costs a few hundred milliseconds); more pages only if the
	// portal's limit has room right now.
	var opening sync.WaitGroup
	for w := 1; w < workers; w++ {
		opening.Go(func() {
			slot := s.takePage()
			if slot == nil {
				slot, _ = s.acquirePage(ctx, false)
			}
			if slot != nil {
				work(slot)
			}
		})
	}
	for k, j := range jobs {
		if ctx.Err() != nil {
			for _, rest := range jobs[k:] {
				obs[rest.i].Err = &connectors.Error{Class: connectors.ErrRetryable, Step: "poll", Msg: "the poll was interrupted", Err: ctx.Err()}
			}
			break
		}
		ch <- j
	}
	close(ch)
	opening.Wait()
	wg.Wait()
}

// pollOne runs the detail or lookup flow of one case (seeded with its list
// row) and, for a newly decided case, the download flow on the same page.
func (s *Session) pollOne(ctx context.Context, slot *pageSlot, c *authpilot.Case, row map[string]string) connectors.Observation {
	p := s.c.opts.Poll
	flow, name := p.Detail, "poll.detail"
	if p.Lookup != nil {
		flow, name = p.Lookup, "poll.lookup"
	}
	ob := connectors.Observation{CaseID: c.ID}
	var r *runner
	err := s.withRelogin(ctx, slot, nil, func() error {
		vars := map[string]any{}
		for k, v := range row {
			vars[k] = v
		}
		r = s.newRunner(slot, &tmplData{Case: c, Vars: vars}, name)
		if flow == nil {
			return nil
		}
		return r.runFlow(ctx, flow.Steps)
	})
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
		ob.Err = &connectors.Error{Class: connectors.ErrPortalChanged, Step: name, Msg: "no status was read"}
		return ob
	}
	ob.Status, ob.StatusText, ob.Determination = out.status, out.statusText, out.det
	if out.payerRef != "" && normRef(out.payerRef) != normRef(c.PayerRef) {
		ob.PayerRef = out.payerRef
	}
	if s.wantsLetter(out.status) && (out.status != c.Status || c.Determination == nil || len(c.Determination.Letters) == 0) {
		err := s.withRelogin(ctx, slot, nil, func() error {
			r.out.files = nil
			return r.runFlow(ctx, s.c.opts.Download.Steps)
		})
		if err != nil {
			// The status stands; the letter is fetched on the next poll
			// (the case still has no letter).
			s.log.Warn("portal letter download failed", "case", c.ID, "err", err)
		} else {
			ob.Files = r.out.files
		}
	}
	if row != nil {
		s.c.remember(normRef(c.PayerRef), row)
	}
	return ob
}

// readList reads every page of the list into rows keyed by normalized
// payer reference.
func (s *Session) readList(ctx context.Context, slot *pageSlot) (map[string]map[string]string, error) {
	l := s.c.opts.Poll.List
	ctx, cancel := context.WithTimeout(ctx, s.c.opts.Limits.FlowTimeout)
	defer cancel()
	r := s.newRunner(slot, &tmplData{Vars: map[string]any{}}, "poll.list")
	r.flowCtx = ctx
	if l.gotoStep != nil {
		if err := r.runStep(ctx, l.gotoStep); err != nil {
			return nil, err
		}
	}
	if err := r.runSteps(ctx, l.Steps); err != nil {
		return nil, err
	}
	specs := []namedSpec{{name: VarPayerRef, spec: l.Key}}
	for _, name := range keys(l.Fields) {
		specs = append(specs, namedSpec{name: name, spec: l.Fields[name]})
	}
	rows := map[string]map[string]string{}
	for page := 1; ; page++ {
		if err := r.runStep(ctx, l.rowsStep); err != nil {
			return nil, err
		}
		start := s.c.now()
		recs, err := readRows(slot.page.Context(ctx), l.Rows, specs, false)
		if err != nil {
			e := &connectors.Error{Class: connectors.ErrPortalChanged, Step: l.Path, Msg: fmt.Sprintf("page %d", page), Err: err}
			if _, ok := err.(*fieldError); !ok {
				e.Class = connectors.ErrRetryable
			}
			r.evidence(ctx, l.rowsStep, true, e)
			s.rec.Step(fmt.Sprintf("%s read page %d", l.Path, page), start, e)
			return nil, e
		}
		for _, rec := range recs {
			if k := normRef(rec[VarPayerRef]); k != "" {
				rows[k] = rec
			}
		}
		s.rec.Step(fmt.Sprintf("%s read page %d (%d rows)", l.Path, page, len(recs)), start, nil)
		if l.nextStep == nil || page >= l.MaxPages {
			break
		}
		has, err := hasEnabled(slot.page.Context(ctx), l.Next)
		if err != nil {
			return nil, &connectors.Error{Class: connectors.ErrRetryable, Step: l.Path + ".next", Msg: "look for the next page link", Err: err}
		}
		if !has {
			break
		}
		if err := r.runStep(ctx, l.nextStep); err != nil {
			return nil, err
		}
	}
	return rows, nil
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

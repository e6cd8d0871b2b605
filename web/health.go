package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/config"
	"github.com/authpilot/authpilot/notify"
	"github.com/authpilot/authpilot/recordings"
	"github.com/authpilot/authpilot/store"
)

// Sinks reads the alert sinks' state (*store.Store).
type Sinks interface {
	DisabledSinks(ctx context.Context) (map[string]string, error)
	SinkQueues(ctx context.Context) (map[string]store.SinkQueue, error)
	EnableSink(ctx context.Context, sink string, at time.Time, resolved func(authpilot.Problem) authpilot.Alert) (bool, error)
}

// SinkHealth is one notify sink on the health page.
type SinkHealth struct {
	Name, Type string
	// Disabled is why the sink was disabled (a 410), empty if it is not.
	Disabled string
	Queue    store.SinkQueue
}

// ConnectorHealth is one connector on the health page: its login state,
// its last run (from the recordings), its failure streak and open
// problems, and its next scheduled run.
type ConnectorHealth struct {
	agent.ConnectorStatus
	// LastRun is the connector's newest recording; nil if it kept none.
	LastRun *recordings.Summary
	// Problems are the connector's open run-level alerts, oldest first.
	Problems []authpilot.Problem
	// PortalChanged is the newest open portal_changed alert; Shot says
	// whether its recording kept a screenshot to link to.
	PortalChanged *authpilot.Alert
	Shot          bool
	// Next is when its submit or poll job runs next (zero: none).
	Next time.Time
}

type healthData struct {
	Connectors []ConnectorHealth
	Sinks      []SinkHealth
	Now        time.Time
}

// healthPage shows each connector's login state and each sink's queue
// (admins): what `authpilot connector list` and `notify status` print.
func (s *Site) healthPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	d := healthData{Now: s.now()}
	var err error
	if d.Connectors, err = s.connectorHealth(ctx, d.Now); err != nil {
		s.log.Error("read connector states failed", "err", err)
		s.Fail(w, r, http.StatusInternalServerError, "Could not read the connectors' state.")
		return
	}
	disabled, err := s.sinks.DisabledSinks(ctx)
	if err == nil {
		var qs map[string]store.SinkQueue
		if qs, err = s.sinks.SinkQueues(ctx); err == nil {
			for _, sk := range s.cfg.Notify.Sinks {
				d.Sinks = append(d.Sinks, SinkHealth{Name: sk.Name, Type: sk.Type, Disabled: disabled[sk.Name], Queue: qs[sk.Name]})
			}
		}
	}
	if err != nil {
		s.log.Error("read sink state failed", "err", err)
		s.Fail(w, r, http.StatusInternalServerError, "Could not read the sinks' state.")
		return
	}
	s.Render(w, r, http.StatusOK, s.page("health"), d)
}

// connectorHealth reads each configured connector's state, last run,
// open problems and next run.
func (s *Site) connectorHealth(ctx context.Context, now time.Time) ([]ConnectorHealth, error) {
	sts, err := agent.ConnectorStatuses(ctx, s.st, agent.LimitsOf(s.cfg), now)
	if err != nil {
		return nil, err
	}
	problems, err := s.st.OpenProblems(ctx)
	if err != nil {
		return nil, fmt.Errorf("read open problems: %w", err)
	}
	ids := make([]string, len(sts))
	for i, st := range sts {
		ids[i] = st.ID
	}
	runs, err := recordings.Latest(s.recordingsDir(), ids)
	if err != nil {
		// The page still shows the rest; the last run column stays empty.
		s.log.Warn("list recordings failed", "err", err)
	}
	out := make([]ConnectorHealth, 0, len(sts))
	for _, st := range sts {
		h := ConnectorHealth{ConnectorStatus: st, Next: s.a.NextRun(st.ID)}
		if r, ok := runs[st.ID]; ok {
			h.LastRun = &r
		}
		for _, p := range problems {
			if !strings.HasPrefix(p.Key, connectorProblemPrefix(st.ID)) {
				continue
			}
			h.Problems = append(h.Problems, p)
			if p.Alert.Type == authpilot.AlertPortalChanged {
				a := p.Alert
				h.PortalChanged = &a
			}
		}
		if pc := h.PortalChanged; pc != nil && pc.Recording != "" {
			if m, err := recordings.Load(s.recordingsDir(), pc.Recording); err == nil {
				h.Shot = screenshotOf(m) != ""
			}
		}
		out = append(out, h)
	}
	return out, nil
}

// connectorProblemPrefix starts the problem keys of a connector (as
// agent/run keeps them).
func connectorProblemPrefix(id string) string { return "connector:" + id + ":" }

// connectorScreenshot serves the screenshot of a connector's recording
// (the page an open portal_changed alert names), admins only, logged in
// the access log as the case timeline's screenshots are.
func (s *Site) connectorScreenshot(w http.ResponseWriter, r *http.Request) {
	id, rec := r.PathValue("id"), r.PathValue("recording")
	m, err := recordings.Load(s.recordingsDir(), rec)
	if err != nil || m.Connector != id {
		s.Fail(w, r, http.StatusNotFound, "No such recording for this connector.")
		return
	}
	s.serveScreenshot(w, r, m, nil)
}

// resumeConnector lets a paused connector log in again at its next run
// (admins), as POST /v1/connectors/{id}/resume and `authpilot connector
// resume` do, with the signed-in admin as the actor.
func (s *Site) resumeConnector(w http.ResponseWriter, r *http.Request) {
	u, _ := UserOf(r)
	id := r.PathValue("id")
	if !slices.ContainsFunc(s.cfg.Connectors, func(c *config.Connector) bool { return c.ID == id }) {
		s.Fail(w, r, http.StatusNotFound, "No such connector.")
		return
	}
	msg := "Connector " + id + " resumed: it logs in at its next run."
	_, err := agent.ResumeConnector(r.Context(), s.st, id, Actor(u), s.now())
	switch {
	case errors.Is(err, agent.ErrNotPaused):
		msg = "Connector " + id + " was not paused."
	case err != nil:
		s.log.Error("resume connector failed", "connector", id, "err", err)
		s.Fail(w, r, http.StatusInternalServerError, "Could not resume the connector.")
		return
	default:
		s.log.Info("connector resumed", "connector", id, "by", u.Name)
	}
	http.Redirect(w, r, "/admin/health?flash="+url.QueryEscape(msg), http.StatusSeeOther)
}

// enableSink re-enables a sink disabled by a 410 (admins), as `authpilot
// notify enable` does: its queue is delivered at the dispatcher's next
// pass (within 30 seconds) and a resolved alert goes to the other sinks.
func (s *Site) enableSink(w http.ResponseWriter, r *http.Request) {
	u, _ := UserOf(r)
	name := r.PathValue("sink")
	if !slices.ContainsFunc(s.cfg.Notify.Sinks, func(sk *config.Sink) bool { return sk.Name == name }) {
		s.Fail(w, r, http.StatusNotFound, "No such sink.")
		return
	}
	now := s.now()
	was, err := s.sinks.EnableSink(r.Context(), name, now, func(p authpilot.Problem) authpilot.Alert {
		return notify.ResolvedAlert(p, "re-enabled in the workspace by "+u.Name, now)
	})
	if err != nil {
		s.log.Error("enable sink failed", "sink", name, "err", err)
		s.Fail(w, r, http.StatusInternalServerError, "Could not enable the sink.")
		return
	}
	msg := "Sink " + name + " was not disabled."
	if was {
		s.log.Info("sink re-enabled", "sink", name, "by", u.Name)
		msg = "Sink " + name + " enabled: its queued alerts go out within 30 seconds."
	}
	http.Redirect(w, r, "/admin/health?flash="+url.QueryEscape(msg), http.StatusSeeOther)
}

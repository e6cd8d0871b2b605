package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/config"
	"github.com/authpilot/authpilot/notify"
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

type healthData struct {
	Connectors []agent.ConnectorStatus
	Sinks      []SinkHealth
	Now        time.Time
}

// healthPage shows each connector's login state and each sink's queue
// (admins): what `authpilot connector list` and `notify status` print.
func (s *Site) healthPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	d := healthData{Now: s.now()}
	var err error
	if d.Connectors, err = agent.ConnectorStatuses(ctx, s.st, agent.LimitsOf(s.cfg), d.Now); err != nil {
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

package web

import (
	"context"
	"net/http"
	"time"

	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/store"
)

// Sinks reads the alert sinks' state (*store.Store).
type Sinks interface {
	DisabledSinks(ctx context.Context) (map[string]string, error)
	SinkQueues(ctx context.Context) (map[string]store.SinkQueue, error)
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
	sinks, ok := s.st.(Sinks)
	if !ok {
		s.Fail(w, r, http.StatusInternalServerError, "The store keeps no sink state.")
		return
	}
	disabled, err := sinks.DisabledSinks(ctx)
	if err == nil {
		var qs map[string]store.SinkQueue
		if qs, err = sinks.SinkQueues(ctx); err == nil {
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

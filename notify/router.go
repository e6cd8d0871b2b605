package notify

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/authpilot/authpilot"
)

// Router picks the sinks of an alert, Alertmanager style: routes are tried
// in order and the first match wins unless it says Continue. It is a pure
// value, safe for concurrent use once built.
type Router struct {
	Routes []Route
	// ExtraSinks adds sinks for every alert of a connector (keyed by
	// connector ID), e.g. the channel of the team that owns that portal.
	ExtraSinks map[string][]string
	// Sinks names every configured sink. An alert about a sink
	// (sink_disabled, sink_failing, their resolved alerts) that the routes
	// send nowhere else goes to all the others, so losing a sink is never
	// silent.
	Sinks []string
}

// Route returns the sinks for a, in route order, without duplicates and
// without the sinks in disabled (names to reasons, as in
// authpilot.Outbox.DisabledSinks; the Dispatcher passes none, so that a
// disabled sink keeps its queue). An alert about a sink (a.Sink) never
// goes to that sink.
func (r *Router) Route(a authpilot.Alert, disabled map[string]string) []string {
	var out []string
	add := func(sinks []string) {
		for _, s := range sinks {
			if _, off := disabled[s]; off || s == a.Sink || slices.Contains(out, s) {
				continue
			}
			out = append(out, s)
		}
	}
	for _, rt := range r.Routes {
		if !rt.matches(a) {
			continue
		}
		add(rt.Sinks)
		if !rt.Continue {
			break
		}
	}
	if a.ConnectorID != "" {
		add(r.ExtraSinks[a.ConnectorID])
	}
	if len(out) == 0 && a.Sink != "" {
		// About a sink and nowhere to go (no route matched, or only the
		// routes to that very sink): every other sink.
		add(r.Sinks)
	}
	return out
}

// Validate checks that every route and extra sink names a configured sink
// and that route fields hold known values.
func (r *Router) Validate() error {
	var errs []error
	for i, rt := range r.Routes {
		if len(rt.Sinks) == 0 {
			errs = append(errs, fmt.Errorf("routes[%d]: sinks: at least one sink is required", i))
		}
		for _, s := range rt.Sinks {
			if !slices.Contains(r.Sinks, s) {
				errs = append(errs, fmt.Errorf("routes[%d]: sinks: unknown sink %q", i, s))
			}
		}
		for _, t := range rt.Types {
			if !slices.Contains(authpilot.AlertTypes, t) {
				errs = append(errs, fmt.Errorf("routes[%d]: types: unknown alert type %q", i, t))
			}
		}
		for _, t := range rt.Tracks {
			if !slices.Contains(authpilot.Tracks, t) {
				errs = append(errs, fmt.Errorf("routes[%d]: tracks: unknown track %q", i, t))
			}
		}
		switch rt.MinSeverity {
		case "", authpilot.SeverityInfo, authpilot.SeverityWarning, authpilot.SeverityCritical:
		default:
			errs = append(errs, fmt.Errorf("routes[%d]: min_severity: unknown severity %q", i, rt.MinSeverity))
		}
	}
	for _, conn := range slices.Sorted(maps.Keys(r.ExtraSinks)) {
		for _, s := range r.ExtraSinks[conn] {
			if !slices.Contains(r.Sinks, s) {
				errs = append(errs, fmt.Errorf("connector %q: extra sinks: unknown sink %q", conn, s))
			}
		}
	}
	return errors.Join(errs...)
}

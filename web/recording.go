package web

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/recordings"
)

// screenshotOf is the last screenshot (.png) the recording m kept, or "".
func screenshotOf(m *recordings.Manifest) string {
	var all []string
	for _, st := range m.Steps {
		all = append(all, st.Artifacts...)
	}
	all = append(all, m.Artifacts...)
	for i := len(all) - 1; i >= 0; i-- {
		if strings.HasSuffix(all[i], ".png") {
			return all[i]
		}
	}
	return ""
}

// screenshots maps each recording the case's events name to its last
// screenshot, for the timeline; recordings without one (or pruned) are
// left out.
func (s *Site) screenshots(evs []authpilot.Event) map[string]string {
	out := map[string]string{}
	for _, e := range evs {
		if e.Recording == "" {
			continue
		}
		if _, seen := out[e.Recording]; seen {
			continue
		}
		out[e.Recording] = ""
		if m, err := recordings.Load(s.recordingsDir(), e.Recording); err == nil {
			out[e.Recording] = screenshotOf(m)
		}
	}
	return out
}

func (s *Site) recordingsDir() string { return filepath.Join(s.cfg.DataDir, "recordings") }

// recordingScreenshot serves the screenshot of a recording one of the
// case's events names (the portal page the agent saw), access-logged as a
// read of the case.
func (s *Site) recordingScreenshot(w http.ResponseWriter, r *http.Request) {
	id, rec := r.PathValue("id"), r.PathValue("recording")
	evs, err := s.st.Events(r.Context(), id)
	if err != nil && !errors.Is(err, authpilot.ErrNotFound) {
		s.log.Error("read events failed", "case", id, "err", err)
		s.Fail(w, r, http.StatusInternalServerError, "Could not read the case.")
		return
	}
	if !slices.ContainsFunc(evs, func(e authpilot.Event) bool { return e.Recording == rec }) {
		s.Fail(w, r, http.StatusNotFound, "No such recording for this case.")
		return
	}
	m, err := recordings.Load(s.recordingsDir(), rec)
	if err != nil {
		s.Fail(w, r, http.StatusNotFound, "This recording kept no screenshot (or was pruned).")
		return
	}
	s.serveScreenshot(w, r, m, []string{id})
}

// serveScreenshot answers with the last screenshot recording m kept, once
// the read is in the access log (with the cases it is about, if any).
func (s *Site) serveScreenshot(w http.ResponseWriter, r *http.Request, m *recordings.Manifest, caseIDs []string) {
	shot := screenshotOf(m)
	if shot == "" {
		s.Fail(w, r, http.StatusNotFound, "This recording kept no screenshot (or was pruned).")
		return
	}
	b, err := os.ReadFile(filepath.Join(m.Dir, filepath.Base(shot)))
	if err != nil {
		s.Fail(w, r, http.StatusNotFound, "This recording kept no screenshot (or was pruned).")
		return
	}
	if !s.LogRead(w, r, "screenshot", caseIDs) {
		return
	}
	w.Header().Set("Content-Type", "image/png")
	_, _ = w.Write(b)
}

// LogRead appends the signed-in person's read of PHI (action, about
// caseIDs if any) to the access log. When the log cannot be written it
// answers 503 and reports false: nothing is shown.
func (s *Site) LogRead(w http.ResponseWriter, r *http.Request, action string, caseIDs []string) bool {
	u, _ := UserOf(r)
	if err := s.st.LogAccess(r.Context(), authpilot.Access{Action: action, Actor: Actor(u), From: clientAddr(r), CaseIDs: caseIDs}); err != nil {
		s.log.Error("access log failed", "err", err)
		s.Fail(w, r, http.StatusServiceUnavailable, "The access log cannot be written, so no PHI is shown.")
		return false
	}
	return true
}

package web_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/recordings"
	"github.com/authpilot/authpilot/store"
)

// TestAdminPagesAndEpisode: the people and health pages and the access
// log's CSV export are an admin's only; an episode page shows its cases together
// and is itself an access-log row.
func TestAdminPagesAndEpisode(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	var ids []string
	for _, m := range []string{"SHPEPI001", "SHPEPI002"} {
		id := w.intake(t, m, "Episodic")
		if _, err := w.st.UpdateCase(ctx, id, func(c *authpilot.Case) (authpilot.Changes, error) {
			c.Episode = "ep-lumbar-7"
			return authpilot.Changes{}, nil
		}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	w.addUser(t, "pat", store.RoleAdmin)
	w.addUser(t, "vera", store.RoleViewer)
	admin, _, _ := w.httpSignIn(t, "pat", password)
	viewer, _, _ := w.httpSignIn(t, "vera", password)

	// A viewer's search for a patient's name is logged with what it
	// matched, never the text searched for.
	if code, body := w.getPage(t, viewer, "/?status=ready&q=episodic"); code != http.StatusOK || !strings.Contains(body, ids[0]) {
		t.Fatalf("search: %d", code)
	}
	log, err := w.st.AccessLog(ctx, time.Time{})
	if err != nil || len(log) != 1 || log[0].Actor != "user:vera" || log[0].Action != "search" ||
		strings.Join(log[0].Matched, ",") != authpilot.MatchPatientName || len(log[0].CaseIDs) != 2 {
		t.Fatalf("after the search, the access log holds %+v (%v)", log, err)
	}

	code, body := w.getPage(t, viewer, "/episodes/ep-lumbar-7")
	if code != http.StatusOK || !strings.Contains(body, ids[0]) || !strings.Contains(body, ids[1]) {
		t.Fatalf("episode page: %d\n%s", code, body)
	}
	if code, _ := w.getPage(t, viewer, "/episodes/ep-none"); code != http.StatusNotFound {
		t.Errorf("an unknown episode: %d", code)
	}
	for _, path := range []string{"/admin/users", "/admin/access", "/admin/access.csv", "/admin/health"} {
		if code, _ := w.getPage(t, viewer, path); code != http.StatusForbidden {
			t.Errorf("viewer %s: %d, want 403", path, code)
		}
	}
	code, body = w.getPage(t, admin, "/admin/users")
	if code != http.StatusOK || !strings.Contains(body, "vera") || !strings.Contains(body, "viewer") {
		t.Errorf("people page: %d\n%s", code, body)
	}
	code, body = w.getPage(t, admin, "/admin/health")
	if code != http.StatusOK || !strings.Contains(body, "summit-portal") || !strings.Contains(body, "ehr") || !strings.Contains(body, "delivering") {
		t.Errorf("health page: %d\n%s", code, body)
	}
	// A sink disabled by a 410 is enabled again from the health page.
	if err := w.st.DisableSink(ctx, "ehr", "410 Gone", w.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if code, body := w.getPage(t, admin, "/admin/health"); !strings.Contains(body, "disabled: 410 Gone") {
		t.Fatalf("health page after the 410: %d\n%s", code, body)
	}
	if code, _ := w.post(t, viewer, "/admin/sinks/ehr/enable", nil); code != http.StatusForbidden {
		t.Errorf("a viewer enabling a sink: %d", code)
	}
	if code, _ := w.post(t, admin, "/admin/sinks/ehr/enable", nil); code != http.StatusSeeOther {
		t.Errorf("enabling the sink: %d", code)
	}
	if d, err := w.st.DisabledSinks(ctx); err != nil || len(d) != 0 {
		t.Errorf("after enabling: disabled %v %v", d, err)
	}

	code, body = w.getPage(t, admin, "/admin/access.csv?since="+w.clock.Now().Add(-24*time.Hour).Format("2006-01-02"))
	lines := strings.Split(strings.TrimSpace(body), "\n")
	if code != http.StatusOK || len(lines) != 3 || lines[0] != "id,at,actor,action,from,matched,case_ids" ||
		!strings.Contains(lines[1], ",user:vera,search,127.0.0.1,"+authpilot.MatchPatientName+","+ids[0]+" "+ids[1]) {
		t.Errorf("access log CSV: %d\n%s", code, body)
	}
}

// TestHealthConnectors: the health page shows per connector its last run,
// its open portal_changed problem with a screenshot link that serves the
// recording's screenshot (an access-log row), and its next scheduled run;
// an admin resumes a paused connector's logins from it, a coordinator
// cannot.
func TestHealthConnectors(t *testing.T) {
	w := newWorldWith(t, worldOptions{captureAll: true, clearviewPoll: "0 14 * * *"})
	ctx := context.Background()
	w.intake(t, "SHPHLTH01", "Healthy")
	w.submitAndPoll(t)
	runs, err := recordings.List(filepath.Join(w.a.Config().DataDir, "recordings"))
	if err != nil || len(runs) == 0 {
		t.Fatalf("recordings: %v %v", runs, err)
	}
	rec := runs[0].ID // the poll's, newest first
	if _, err := w.st.RaiseProblem(ctx, "connector:summit-portal:portal_changed:portal_changed:step status no longer matches",
		authpilot.Alert{Type: authpilot.AlertPortalChanged, Severity: authpilot.SeverityCritical, ConnectorID: "summit-portal",
			Recording: rec, Title: "The payer's portal no longer matches its flow"}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.st.UpdateConnectorState(ctx, "clearview-rbm", func(s *authpilot.ConnectorState) ([]authpilot.Alert, error) {
		s.Paused, s.PauseReason, s.PausedAt = true, "the portal asked for a CAPTCHA", w.clock.Now()
		s.FailedRuns = 7 // runs in a row that failed, stored by an earlier process
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	w.addUser(t, "pat", store.RoleAdmin)
	w.addUser(t, "cora", store.RoleCoordinator)
	admin, _, _ := w.httpSignIn(t, "pat", password)
	coord, _, _ := w.httpSignIn(t, "cora", password)

	code, body := w.getPage(t, admin, "/admin/health")
	next := w.a.NextRun("clearview-rbm")
	if next.IsZero() || next.Before(w.clock.Now()) || next.After(w.clock.Now().Add(24*time.Hour)) {
		t.Fatalf("clearview-rbm's next run %v", next)
	}
	link := "/admin/connectors/summit-portal/recordings/" + rec + "/screenshot"
	for _, want := range []string{
		"poll, ", // summit-portal's last run
		"portal changed since", "The payer&#39;s portal no longer matches its flow", `href="` + link + `"`,
		next.In(w.ny).Format("2006-01-02 15:04 MST"), // clearview-rbm's next poll
		"not scheduled", // summit-portal has no schedule here
		`action="/admin/connectors/clearview-rbm/resume"`,
		"\n<td>7</td>\n", // clearview-rbm's failures in a row
	} {
		if !strings.Contains(body, want) {
			t.Errorf("health page %d lacks %q\n%s", code, want, body)
		}
	}
	if strings.Contains(body, `action="/admin/connectors/summit-portal/resume"`) {
		t.Error("an active connector offers Resume logins")
	}

	w.wantPNG(t, admin, link)
	if log, err := w.st.AccessLog(ctx, time.Time{}); err != nil || len(log) != 1 || log[0].Action != "screenshot" || log[0].Actor != "user:pat" {
		t.Errorf("access log %+v %v, want the screenshot", log, err)
	}
	if code, _ := w.getPage(t, coord, link); code != http.StatusForbidden {
		t.Errorf("a coordinator opening the screenshot: %d", code)
	}
	if code, _ := w.getPage(t, admin, "/admin/connectors/clearview-rbm/recordings/"+rec+"/screenshot"); code != http.StatusNotFound {
		t.Errorf("another connector's recording: %d", code)
	}

	if code, _ := w.post(t, coord, "/admin/connectors/clearview-rbm/resume", nil); code != http.StatusForbidden {
		t.Errorf("a coordinator resuming: %d", code)
	}
	if sts, err := agent.ConnectorStatuses(ctx, w.st, agent.LimitsOf(w.a.Config()), w.clock.Now()); err != nil || sts[1].State != "paused" {
		t.Fatalf("after the coordinator's try: %+v %v", sts, err)
	}
	if code, _ := w.post(t, admin, "/admin/connectors/clearview-rbm/resume", nil); code != http.StatusSeeOther {
		t.Errorf("an admin resuming: %d", code)
	}
	sts, err := agent.ConnectorStatuses(ctx, w.st, agent.LimitsOf(w.a.Config()), w.clock.Now())
	if err != nil || sts[1].State != "active" || sts[1].ResumedBy != "user:pat" {
		t.Errorf("after the admin's resume: %+v %v", sts, err)
	}
}

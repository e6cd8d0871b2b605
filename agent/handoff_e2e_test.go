package agent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/agent/agenttest"
	"github.com/authpilot/authpilot/agent/handoff"
	"github.com/authpilot/authpilot/config"
	"github.com/authpilot/authpilot/connectors/connectortest"
	"github.com/authpilot/authpilot/internal/testhttp"
	"github.com/authpilot/authpilot/notify/notifytest"
	"github.com/authpilot/authpilot/payersim"
)

// smsConfig writes e2eExample's config in dir for the portal's SMS-code
// login: Summit's TOTP step becomes an ask step that waits at most wait;
// recordings keep every step. It returns the loaded config.
func smsConfig(t *testing.T, dir string, sims *payersim.Set, hookURL, wait string) *config.Config {
	t.Helper()
	e := e2eExample(sims.PayerURL, sims.RBMURL, hookURL)
	e.Extra = "recordings: {capture: all}\n"
	e.Summit = func(flow string) string {
		ask := `- ask: {selector: "#mfa-code", question: "Summit texted a code to the practice's phone: type it here.", timeout: ` + wait + `}`
		out := strings.Replace(flow, `- totp: {selector: "#mfa-code", secret: totp}`, ask, 1)
		if out == flow {
			t.Fatal("the Summit example has no totp step")
		}
		return out
	}
	return agenttest.WriteExample(t, dir, e)
}

// openHandOff waits until the agent has a hand-off open and returns it as
// the API lists it.
func openHandOff(t *testing.T, a *agent.Agent, base string) handoff.View {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		ch := a.HandOffs().Changed()
		if len(a.HandOffs().List()) > 0 {
			break
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatal("no hand-off opened")
		}
	}
	var list struct{ HandOffs []handoff.View }
	code, body := apiCall(t, "GET", base+"/v1/handoffs", "")
	if code != http.StatusOK || json.Unmarshal(body, &list) != nil || len(list.HandOffs) != 1 {
		t.Fatalf("GET /v1/handoffs: %d %s", code, body)
	}
	return list.HandOffs[0]
}

func apiCall(t *testing.T, method, url, body string) (int, []byte) {
	t.Helper()
	code, b, _ := testhttp.Send(t, http.DefaultClient, testhttp.NewRequest(t, method, url, strings.NewReader(body), "Authorization", "Bearer "+e2eToken))
	return code, b
}

// TestSMSCodeHandOffThroughTheAgent is issue 12's acceptance 2 through the
// daemon: Summit texts a code at login. Nobody answering in time stops the
// poll with needs_human and pauses the connector's logins (one alert);
// after a person resumes it, the next poll asks again, the test reads the
// code the simulator texted and answers over the API, the same visit logs
// in and the poll completes (the case is approved), and a resolved alert
// follows. The code is in neither the daemon's log nor its recordings.
func TestSMSCodeHandOffThroughTheAgent(t *testing.T) {
	sims := startSims(t, payersim.SetOptions{PayerMFA: payersim.MFASMS})
	hook := alertHook(t, nil)
	dir := t.TempDir()
	log, logs := notifytest.NewLogger()
	ctx := context.Background()

	a, _, stop := serveAgent(t, smsConfig(t, dir, sims, hook.URL, "200ms"), agent.Options{Logger: log})
	c := trackRequest(t, a, sims, "SHPSMSCODE1", &payersim.Outcome{Fate: payersim.FateApprove, AfterChecks: 0})
	res := a.PollNow(ctx, nil, "summit-portal")[0]
	if !errors.Is(res.Err, authpilot.ErrNeedsHuman) || !strings.Contains(res.Err.Error(), "nobody answered the hand-off (code) within 200ms") {
		t.Fatalf("poll nobody answered: %v", res.Err)
	}
	must(t, a.FlushAlerts(ctx, 10*time.Second))
	if n := countTitled(hook, authpilot.AlertNeedsHuman, "paused"); n != 1 {
		t.Fatalf("%d pause alerts, want 1", n)
	}
	stop()

	// A person is at hand now: the login waits for them a minute.
	a, base, stop := serveAgent(t, smsConfig(t, dir, sims, hook.URL, "1m"), agent.Options{Logger: log})
	defer stop()
	if _, err := a.ResumeConnector(ctx, "summit-portal", "cli:test"); err != nil {
		t.Fatal(err)
	}
	done := make(chan agent.RunResult, 1)
	go func() { done <- a.PollNow(ctx, nil, "summit-portal")[0] }()
	ho := openHandOff(t, a, base)
	if ho.Kind != "code" || ho.Connector != "summit-portal" || !strings.Contains(ho.Question, "texted a code") {
		t.Errorf("hand-off %+v", ho)
	}
	texts := sims.Payer.Texts()
	code := texts[len(texts)-1].Code
	answer, _ := json.Marshal(map[string]string{"value": code})
	if status, b := apiCall(t, "POST", base+"/v1/handoffs/"+ho.ID+"/answer", string(answer)); status != http.StatusNoContent {
		t.Fatalf("answer: %d %s", status, b)
	}
	if res := <-done; res.Err != nil || res.Held != nil {
		t.Fatalf("poll with the answer: held %+v, err %v", res.Held, res.Err)
	}
	got, err := a.Store().GetCase(ctx, c.ID)
	must(t, err)
	if got.Status != authpilot.StatusApproved {
		t.Errorf("case %s after the poll, want approved", got.Status)
	}
	if st := sims.Payer.Stats(); st.Logins != 1 {
		t.Errorf("%d logins, want 1", st.Logins)
	}
	must(t, a.FlushAlerts(ctx, 10*time.Second))
	if n := countTitled(hook, authpilot.AlertResolved, "Resolved: Connector summit-portal paused"); n != 1 {
		t.Errorf("%d resolved alerts, want 1", n)
	}
	if strings.Contains(logs.String(), code) {
		t.Errorf("the code is in the daemon's log")
	}
	if !bytes.Contains([]byte(logs.String()), []byte("hand-off answered")) {
		t.Errorf("the log does not say the hand-off was answered")
	}
	connectortest.GrepRecordings(t, filepath.Join(dir, "data", "recordings"), 5, map[string]string{"the texted code": code})
}

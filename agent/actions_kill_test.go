package agent_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
)

// TestActionSurvivesKill9: a decision recorded by hand with a large letter
// is sent to a daemon that is SIGKILLed before the client reads the answer
// (right after sending, or once the answer started). After a restart the
// action is either fully there (approved, one determination_recorded event,
// the letter named and served) or absent (still submitted, no event, no
// letter); the client's retry with the same Idempotency-Key then leaves
// exactly one recorded decision.
func TestActionSurvivesKill9(t *testing.T) {
	k := newKillDaemon(t, "Action kill test", "TestActionKillChild", "AUTHPILOT_ACTION_CHILD")
	letter := bytes.Repeat([]byte("%PDF-1.4 approval letter page\n"), 8<<20/30)
	seen := map[string]int{}

	for round, when := range []string{"after sending", "after the answer started", "after sending", "after sending", "after the answer started"} {
		member := fmt.Sprintf("SHPAKILL%02d", round)
		var id string
		send := func(child *actionWorld) (string, string, []byte) {
			// A tracked case (submitted elsewhere) the payer decided by phone.
			tracked := strings.Replace(caseJSON(member, "summit-ma", "imaging", []string{"72148"}, "M48.062", "1245319599"),
				`"payer": `, `"tracked": true, "payer_ref": "SHP-T-`+member+`", "payer": `, 1)
			created := child.call(t, "POST", "/v1/cases", "application/json", strings.NewReader(tracked))
			if created.status != http.StatusCreated {
				t.Fatalf("round %d: create: %d %s", round, created.status, created.raw)
			}
			id = created.body["id"].(string)
			js := fmt.Sprintf(`{"source": "fax", "notice_date": %q, "status": "approved", "auth_number": "RAD-%d"}`, time.Now().Format(time.DateOnly), round)
			ct, body := multipartBody(t, js, map[string][]byte{"approval.pdf": letter})
			return "/v1/cases/" + id + "/actions/decide", ct, body.Bytes()
		}
		restarted := func(w *actionWorld) {
			c := w.get(t, id)
			recorded := len(eventsOf(t, w.a, id, authpilot.EventDeterminationRecorded))
			switch {
			case c.Status == authpilot.StatusApproved && recorded == 1 && c.Determination != nil && len(c.Determination.Letters) == 1:
				seen["there"]++
				doc := w.call(t, "GET", "/v1/cases/"+id+"/documents/"+c.Determination.Letters[0], "", nil)
				if doc.status != 200 || !bytes.Equal(doc.raw, letter) {
					t.Errorf("round %d: the recorded letter is not served whole: %d, %d bytes", round, doc.status, len(doc.raw))
				}
			case c.Status == authpilot.StatusSubmitted && recorded == 0 && c.Determination == nil:
				seen["absent"]++
			default:
				t.Fatalf("round %d (killed %s): half an action: status %s, %d determination_recorded events, determination %+v",
					round, when, c.Status, recorded, c.Determination)
			}
		}
		// The client retries with the same key.
		w, a2, stop := k.round(t, when, fmt.Sprintf("decide-kill-%d", round), send, restarted)
		c := w.get(t, id)
		n := len(eventsOf(t, w.a, id, authpilot.EventDeterminationRecorded))
		t.Logf("round %d, killed %s: retry %d, replayed %q", round, when, a2.status, a2.header.Get("Idempotent-Replayed"))
		stop()
		if a2.status != 200 || n != 1 || c.Status != authpilot.StatusApproved || len(c.Determination.Letters) != 1 {
			t.Fatalf("round %d: retry %d %s; %d determination_recorded events, status %s", round, a2.status, a2.raw, n, c.Status)
		}
	}
	t.Logf("after the kill: action there %d times, absent %d times", seen["there"], seen["absent"])
}

// TestActionKillChild is the daemon of TestActionSurvivesKill9.
func TestActionKillChild(t *testing.T) {
	runDaemonChild(t, "AUTHPILOT_ACTION_CHILD", "TestActionSurvivesKill9")
}

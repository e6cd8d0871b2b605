package payersim_test

import (
	"fmt"
	"net/url"
	"sync"
	"testing"

	"github.com/authpilot/authpilot/payersim"
)

// A poll cycle as the agent runs it: one login, the list, the details of the
// changed rows, their letters.
func TestStatsOnePollCycle(t *testing.T) {
	e := newPayerEnv(t, payersim.PayerOptions{})
	refs, err := payersim.Seed(e.portal, payersim.SampleSubmissions(3, &payersim.Outcome{Fate: payersim.FateApprove})...)
	if err != nil {
		t.Fatal(err)
	}
	e.loginPayer()
	e.get("/auth/list")
	for _, ref := range refs {
		e.get("/auth/" + ref)
		e.get("/auth/" + ref + "/letter.pdf")
	}
	st := e.portal.Stats()
	want := payersim.Stats{
		Logins: 1, LoginAttempts: 1, MFAAttempts: 1,
		// GET /login, POST /login, GET /mfa, POST /mfa, GET /dashboard, list, 3 details
		PageLoads:   9,
		ListViews:   1,
		DetailViews: 3, Checks: 6, LettersDownloaded: 3,
	}
	st.PageLoadsByRoute = nil
	if fmt.Sprintf("%+v", st) != fmt.Sprintf("%+v", want) {
		t.Errorf("stats\n got %+v\nwant %+v", st, want)
	}
	byRoute := e.portal.Stats().PageLoadsByRoute
	for route, n := range map[string]int{"GET /login": 1, "POST /login": 1, "POST /mfa": 1, "GET /auth/list": 1, "GET /auth/{ref}": 3} {
		if byRoute[route] != n {
			t.Errorf("page loads of %q = %d, want %d (all: %v)", route, byRoute[route], n, byRoute)
		}
	}
	e.portal.ResetStats()
	if st := e.portal.Stats(); st.PageLoads != 0 || st.Logins != 0 || len(st.PageLoadsByRoute) != 0 {
		t.Errorf("after reset: %+v", st)
	}
	if n := len(e.portal.Requests()); n != 3 {
		t.Errorf("reset dropped requests: %d left", n)
	}
}

// Many clients at once, while the admin changes scenario and faults: run
// with -race.
func TestConcurrentClients(t *testing.T) {
	e := newPayerEnv(t, payersim.PayerOptions{PageSize: 5})
	refs, err := payersim.Seed(e.portal, payersim.SampleSubmissions(20, nil)...)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &simEnv{t: t, portal: e.portal, srv: e.srv, clock: e.clock}
			c.client = c.newClient()
			lp := c.get("/login")
			mfa := c.post("/login", url.Values{
				"csrf_token": {hidden(t, lp.body, "csrf_token")},
				"username":   {payersim.DefaultPayerUsername}, "password": {payersim.DefaultPayerPassword},
			})
			c.post("/mfa", url.Values{
				"csrf_token": {hidden(t, mfa.body, "csrf_token")},
				"code":       {totpAt(t, payersim.DefaultTOTPSecret, c.clock.Now())},
			})
			for j := range 5 {
				if pg := c.get(fmt.Sprintf("/auth/list?page=%d", j%4+1)); pg.status != 200 {
					errs <- fmt.Errorf("client %d list: %d", i, pg.status)
				}
				c.get("/auth/" + refs[(i+j)%len(refs)])
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for j := range 20 {
			_ = e.portal.SetScenario(payersim.Scenario{Default: &payersim.Outcome{Fate: payersim.FateDeny, AfterChecks: j % 3}})
			_ = e.portal.SetFaults(payersim.Faults{LayoutVariant: j%2 == 0})
			_ = e.portal.Requests()
			_ = e.portal.Stats()
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := e.portal.Stats(); st.Logins != 6 || st.DetailViews != 30 || st.ListViews != 30 {
		t.Errorf("logins %d detail views %d list views %d, want 6, 30, 30", st.Logins, st.DetailViews, st.ListViews)
	}
}

package web_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/store"
)

// BenchmarkPages measures the worklist (a page of 50 of 5,000 open
// cases, sorted by their next deadline) and a case page, through a
// signed-in client on loopback (issue 12, acceptance 4):
//
//	go test ./web -run '^$' -bench Pages -benchtime 200x
func BenchmarkPages(b *testing.B) {
	w := newWorld(b)
	ctx := context.Background()
	var last string
	for i := range 5000 {
		c, err := w.a.Intake().Create(ctx, &agent.NewCase{Case: authpilot.Case{
			ExternalRef: fmt.Sprintf("ORD-%05d", i), Payer: "summit-ma", Track: authpilot.TrackImaging,
			Patient:          authpilot.Patient{FirstName: "Ada", LastName: fmt.Sprintf("Patient%05d", i), DOB: authpilot.NewDate(1960, 5, 5), MemberID: fmt.Sprintf("SHP%06d", i)},
			OrderingProvider: authpilot.Provider{NPI: "1245319599", Name: "Lakeside Spine"},
			ServiceLines:     []authpilot.ServiceLine{{Code: "72148", Units: 1}}, Diagnoses: []string{"M54.16"},
			ServiceDate: authpilot.NewDate(2027, 1, 1+i%28),
		}}, "bench")
		if err != nil {
			b.Fatal(err)
		}
		last = c.ID
	}
	if _, err := w.a.CheckDeadlines(ctx); err != nil {
		b.Fatal(err)
	}
	w.addUser(b, "casey", store.RoleCoordinator)
	c, code, _ := w.httpSignIn(b, "casey", password)
	if code != http.StatusSeeOther {
		b.Fatalf("sign-in: %d", code)
	}
	for _, page := range []struct{ name, path string }{
		{"worklist", "/?status=ready"},
		{"case", "/cases/" + last},
	} {
		b.Run(page.name, func(b *testing.B) {
			for b.Loop() {
				if code, _ := w.getPage(b, c, page.path); code != http.StatusOK {
					b.Fatalf("%s: %d", page.path, code)
				}
			}
		})
	}
}

package agent

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/store"
)

func newTestIntake(t *testing.T) *Intake {
	t.Helper()
	cfg := testConfig(t, t.TempDir())
	st, err := store.Open(context.Background(), cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := func() time.Time { return time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC) }
	return NewIntake(cfg, st, discardLogger(), now)
}

func TestImportCSV(t *testing.T) {
	in := newTestIntake(t)
	csv := strings.Join([]string{
		"external_ref,patient_first_name,patient_last_name,patient_dob,member_id,payer,track,ordering_npi,service_date,procedures,diagnoses,tracked,payer_ref",
		"ORD-1,Ana,Ruiz,1960-01-02,SHP100001,summit-ma,surgery,1245319599,2026-12-20,22612@L4-L5;22614x1@L5-S1,M48.062;M43.16,,",
		"ORD-2,Bo,Chen,1970-03-04,SHP100002,summit-ma,injection,1234567890,2026-12-20,64483,M54.17,,",
		"ORD-3,Cy,Diaz,1980-05-06,SHP100003,summit-ma,imaging,1245319599,12/20/2026,72148,M54.16,,",
		`ORD-4,"Dee, Jr",Evans,1955-07-08,SHP100004,summit-ma,surgery,1245319599,2026-10-01,63047,M48.062,true,SHP-2026-000777`,
		"ORD-5,Eli,Fox,1966-09-10,SHP100005,unknown-payer,surgery,1245319599,2026-12-20,63047,M48.062,,",
	}, "\n")
	var progress []int
	res, err := in.ImportCSV(context.Background(), strings.NewReader(csv), "import", func(n int) { progress = append(progress, n) })
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Created) != 2 {
		t.Fatalf("created %d cases, want 2 (rows 2 and 5): %v", len(res.Created), res.Errors)
	}
	wantLines := map[int]string{3: "ordering_provider.npi", 4: "service_date", 6: "payer"}
	if len(res.Errors) != len(wantLines) {
		t.Fatalf("row errors: %v", res.Errors)
	}
	for _, re := range res.Errors {
		field, ok := wantLines[re.Line]
		if !ok || !strings.Contains(re.Err.Error(), field) {
			t.Errorf("line %d: %v, want an error naming %q", re.Line, re.Err, wantLines[re.Line])
		}
		if strings.Contains(re.Error(), "Chen") || strings.Contains(re.Error(), "SHP100002") {
			t.Errorf("row error carries PHI: %v", re)
		}
	}
	if len(progress) != 5 || progress[4] != 5 {
		t.Errorf("progress calls %v", progress)
	}
	c, err := in.Store.GetCase(context.Background(), res.Created[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(c.ServiceLines) != 2 || c.ServiceLines[0].Level != "L4-L5" || c.ServiceLines[1].Units != 1 || c.Status != authpilot.StatusReady {
		t.Fatalf("imported case: %+v", c)
	}
	tracked, _ := in.Store.GetCase(context.Background(), res.Created[1])
	if !tracked.Tracked || tracked.Status != authpilot.StatusSubmitted || tracked.PayerRef != "SHP-2026-000777" || tracked.SubmittedAt == nil {
		t.Fatalf("tracked case: status %s ref %q tracked %v", tracked.Status, tracked.PayerRef, tracked.Tracked)
	}
}

func TestImportCSVBadHeaderImportsNothing(t *testing.T) {
	for name, header := range map[string]string{
		"unknown column": "external_ref,colour,patient_first_name",
		"missing column": "external_ref,patient_first_name",
		"duplicate":      "payer,payer",
		"empty file":     "",
	} {
		t.Run(name, func(t *testing.T) {
			in := newTestIntake(t)
			_, err := in.ImportCSV(context.Background(), strings.NewReader(header+"\nx,y,z\n"), "import", nil)
			if err == nil || !strings.Contains(err.Error(), "line 1") {
				t.Fatalf("err = %v, want a line-1 error", err)
			}
			cases, _ := in.Store.ListCases(context.Background(), authpilot.CaseFilter{})
			if len(cases) != 0 {
				t.Fatalf("%d cases imported from a bad file", len(cases))
			}
		})
	}
}

func TestCreateRejectsWithoutWriting(t *testing.T) {
	in := newTestIntake(t)
	nc := &NewCase{Case: authpilot.Case{Payer: "summit-ma", Track: authpilot.TrackSurgery}}
	_, err := in.Create(context.Background(), nc, "api")
	var ve authpilot.ValidationError
	if !errors.As(err, &ve) || len(ve) < 5 {
		t.Fatalf("err = %v, want a ValidationError naming every missing field", err)
	}
	cases, _ := in.Store.ListCases(context.Background(), authpilot.CaseFilter{})
	if len(cases) != 0 {
		t.Fatal("an invalid case was stored")
	}
}

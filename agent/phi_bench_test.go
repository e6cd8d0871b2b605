package agent

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/store"
)

// seedCases writes n cases with distinct patients into a new store.
func seedCases(tb testing.TB, n int) (*store.Store, func() time.Time) {
	tb.Helper()
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { now = now.Add(time.Second); return now } // one write a second
	st, err := store.Open(context.Background(), tb.TempDir(), store.WithClock(clock), store.WithLogger(discardLogger()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	// Names as varied as a practice's: common first names (short ones
	// too), last names of two or three syllables; member IDs of a few
	// payers' formats; DOBs over 70 years.
	first := []string{"Eve", "Ann", "Dan", "Ray", "Lee", "Janet", "Ola", "Tomas", "Maria", "Kim", "James", "Linda",
		"Robert", "Patricia", "Michael", "Jennifer", "David", "Susan", "Jose", "Nguyen", "Fatima", "Wei", "Amy", "Joe"}
	syll := []string{"har", "ri", "son", "mar", "tin", "gar", "cia", "wil", "li", "ams", "ber", "g", "ko", "wal",
		"ski", "nel", "o", "bren", "nan", "quar", "ter", "maine", "ste", "vens", "ro", "dri", "guez", "pa", "tel"}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		last := syll[rng.IntN(len(syll))] + syll[rng.IntN(len(syll))]
		if rng.IntN(2) == 0 {
			last += syll[rng.IntN(len(syll))]
		}
		last = strings.ToUpper(last[:1]) + last[1:]
		member := fmt.Sprintf("%s%09d", []string{"XYZ", "W", "KPP", "1EG4"}[i%4], rng.IntN(1e9))
		c := &authpilot.Case{ID: fmt.Sprintf("01JBENCH%018d", i), Status: authpilot.StatusReady, Payer: "summit-ma",
			ExternalRef: fmt.Sprintf("MRN-%07d", i), Track: authpilot.TrackSurgery,
			Patient: authpilot.Patient{FirstName: first[rng.IntN(len(first))], LastName: last,
				DOB: authpilot.NewDate(1930+rng.IntN(70), time.Month(1+rng.IntN(12)), 1+rng.IntN(28)), MemberID: member}}
		if i < 3 { // fixed values for TestPHIIndexFollowsTheStore
			c.Patient = authpilot.Patient{FirstName: "Eve", LastName: fmt.Sprintf("Fixedname%c", 'a'+i),
				DOB: authpilot.NewDate(1930, 1, 1+i), MemberID: fmt.Sprintf("MBR%09d", i)}
			c.ExternalRef = fmt.Sprintf("MRN-%07d", i)
		}
		if err := st.CreateCase(context.Background(), c, authpilot.Changes{}); err != nil {
			tb.Fatal(err)
		}
	}
	return st, clock
}

const benchCases = 5000

var benchReason = "Denied: conservative care under the plan's guidance for every level was not documented; " +
	"see the payer's letter of 11/02/2026 for MBR000007919 and Lastnamebа. " + strings.Repeat("Additional clinical review notes. ", 10)

// BenchmarkPHIIndex is the cost of keeping the store-wide PHI index over
// 5,000 cases current, and of redacting an alert's reason with it:
//
//	go test ./agent/ -run '^$' -bench BenchmarkPHIIndex -benchtime 20x
func BenchmarkPHIIndex(b *testing.B) {
	st, _ := seedCases(b, benchCases)
	ctx := context.Background()
	b.Run("first-load", func(b *testing.B) {
		var before, after runtime.MemStats
		for b.Loop() {
			runtime.GC()
			runtime.ReadMemStats(&before)
			p := newPHIIndex(st)
			if err := p.Refresh(ctx); err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(p.idx.Len()), "spellings")
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MiB-heap")
			runtime.KeepAlive(p)
		}
	})
	p := newPHIIndex(st)
	if err := p.Refresh(ctx); err != nil {
		b.Fatal(err)
	}
	b.Run("refresh-unchanged", func(b *testing.B) {
		for b.Loop() {
			if err := p.Refresh(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("redact-reason", func(b *testing.B) {
		for b.Loop() {
			p.Redact(benchReason)
		}
	})
}

// TestPHIIndexFollowsTheStore: cases created or corrected after the first
// refresh (by this process or the CLI beside it, through the same
// database) are redacted after the next refresh.
func TestPHIIndexFollowsTheStore(t *testing.T) {
	st, _ := seedCases(t, 3)
	ctx := context.Background()
	p := newPHIIndex(st)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(p.Refresh(ctx))
	if got := p.Redact("Eve Fixednameb, MRN-0000001, 01/02/1930, MBR000000002"); got != "[REDACTED], [REDACTED], [REDACTED], [REDACTED]" {
		t.Fatalf("seeded values: %q", got)
	}
	must(st.CreateCase(ctx, &authpilot.Case{ID: "01JNEWCASE0000000000000000", Status: authpilot.StatusDraft, ExternalRef: "ORD-991",
		Patient: authpilot.Patient{FirstName: "Wilhelmina", LastName: "Zed", MemberID: "NEW77331", DOB: authpilot.NewDate(1977, 3, 9)}}, authpilot.Changes{}))
	_, err := st.UpdateCase(ctx, "01JBENCH000000000000000002", func(c *authpilot.Case) (authpilot.Changes, error) {
		c.Patient.LastName = "Corrected"
		return authpilot.Changes{}, nil
	})
	must(err)
	must(p.Refresh(ctx))
	in := "Wilhelmina Zed (NEW77331, ORD-991, born March 9, 1977); Dan Corrected"
	if got := p.Redact(in); strings.Contains(got, "Wilhelmina") || strings.Contains(got, "NEW77331") ||
		strings.Contains(got, "ORD-991") || strings.Contains(got, "March 9, 1977") || strings.Contains(got, "Corrected") {
		t.Errorf("after refresh: %q", got)
	}
}

package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/authpilot/authpilot"
)

// SearchCases lists the cases f selects. A search (f.Query) can match PHI
// (a patient's name, a member ID, an order reference), so it is written
// to the access log first — who (actor), what kind of field matched, the
// case IDs returned, never the query — and no case is returned when the
// log cannot be written.
func SearchCases(ctx context.Context, st authpilot.Store, f authpilot.CaseFilter, actor string) ([]*authpilot.Case, error) {
	return SearchCasesFrom(ctx, st, f, actor, "")
}

// SearchCasesFrom is SearchCases by a person at address from (recorded
// in the access log).
func SearchCasesFrom(ctx context.Context, st authpilot.Store, f authpilot.CaseFilter, actor, from string) ([]*authpilot.Case, error) {
	cases, err := st.ListCases(ctx, f)
	if err != nil || f.Query == "" {
		return cases, err
	}
	if err := LogAccess(ctx, st, authpilot.Access{Action: "search", Actor: actor, From: from, Matched: matchedFields(f.Query, cases)}, cases); err != nil {
		return nil, err
	}
	return cases, nil
}

// matchedFields are the fields q matches in cases, sorted.
func matchedFields(q string, cases []*authpilot.Case) []string {
	var out []string
	for _, c := range cases {
		for _, m := range c.SearchMatch(q) {
			if !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
	}
	slices.Sort(out)
	return out
}

// LogAccess writes one access-log entry a for cases (appended to
// a.CaseIDs) shown to a.Actor.
func LogAccess(ctx context.Context, st authpilot.Store, a authpilot.Access, cases []*authpilot.Case) error {
	if a.CaseIDs == nil {
		a.CaseIDs = []string{}
	}
	for _, c := range cases {
		a.CaseIDs = append(a.CaseIDs, c.ID)
	}
	if err := st.LogAccess(ctx, a); err != nil {
		return fmt.Errorf("%s refused: the access log cannot be written: %w", a.Action, err)
	}
	return nil
}

// AmbiguousError is a reference that names more than one case.
type AmbiguousError struct {
	// Candidates are the matching case IDs, oldest first, each with how it
	// matched ("01J... (external ref)").
	Candidates []string
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("%d cases match: %s; give the whole case ID", len(e.Candidates), strings.Join(e.Candidates, ", "))
}

// maxCandidates bounds the cases an ambiguous reference lists.
const maxCandidates = 20

// ResolveCase finds the one case ref names: its ID, a unique prefix of
// its ID, its external ref or its payer ref (case-insensitive). A ref
// that is not a whole ID is a lookup that can match PHI: it is written to
// the access log (see SearchCases). No match is an error wrapping
// authpilot.ErrNotFound; several are an *AmbiguousError listing them.
// Errors never repeat ref (it may be an order reference).
func ResolveCase(ctx context.Context, st authpilot.Store, ref, actor string) (*authpilot.Case, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, fmt.Errorf("no case matches: a case is named by its ID, an ID prefix, its external ref or its payer ref: %w", authpilot.ErrNotFound)
	}
	c, err := st.GetCase(ctx, ref)
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, authpilot.ErrNotFound) {
		return nil, err
	}
	all, err := st.ListCases(ctx, authpilot.CaseFilter{})
	if err != nil {
		return nil, err
	}
	var found []*authpilot.Case
	var how, matched []string
	for _, c := range all {
		var by []string
		if len(ref) <= len(c.ID) && strings.EqualFold(c.ID[:len(ref)], ref) {
			by = append(by, "ID prefix")
		}
		if c.ExternalRef != "" && strings.EqualFold(c.ExternalRef, ref) {
			by = append(by, "external ref")
		}
		if c.PayerRef != "" && strings.EqualFold(c.PayerRef, ref) {
			by = append(by, "payer ref")
		}
		for _, b := range by {
			if f := strings.ReplaceAll(strings.TrimSuffix(b, " prefix"), " ", "_"); !slices.Contains(matched, f) {
				matched = append(matched, f)
			}
		}
		if len(by) > 0 {
			found = append(found, c)
			how = append(how, c.ID+" ("+strings.Join(by, ", ")+")")
		}
	}
	slices.Sort(matched)
	if err := LogAccess(ctx, st, authpilot.Access{Action: "lookup", Actor: actor, Matched: matched}, found); err != nil {
		return nil, err
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) == 0:
		return nil, fmt.Errorf("no case has this ID, ID prefix, external ref or payer ref: %w", authpilot.ErrNotFound)
	}
	if len(how) > maxCandidates {
		how = append(how[:maxCandidates], fmt.Sprintf("and %d more", len(how)-maxCandidates))
	}
	return nil, &AmbiguousError{Candidates: how}
}

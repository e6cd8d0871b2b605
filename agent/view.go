package agent

import (
	"context"

	"github.com/authpilot/authpilot"
)

// LoadCaseView reads a case with its events, deadlines and documents.
func LoadCaseView(ctx context.Context, st authpilot.Store, id string) (*CaseView, error) {
	c, err := st.GetCase(ctx, id)
	if err != nil {
		return nil, err
	}
	v := &CaseView{Case: c, Events: []authpilot.Event{}, Deadlines: []authpilot.Deadline{}, Documents: []authpilot.Document{}}
	if ev, err := st.Events(ctx, id); err != nil {
		return nil, err
	} else if ev != nil {
		v.Events = ev
	}
	if ds, err := st.Deadlines(ctx, id); err != nil {
		return nil, err
	} else if ds != nil {
		v.Deadlines = ds
	}
	if docs, err := st.Documents(ctx, id); err != nil {
		return nil, err
	} else if docs != nil {
		v.Documents = docs
	}
	return v, nil
}

package authpilot

import (
	"fmt"
	"time"
)

// Watched reports whether a case in s is still watched after its
// decision: approved, partially approved, modified and denied cases are
// polled at a lower cadence, so an overturn, a rescission or a
// modification is seen.
func (s Status) Watched() bool {
	return s == StatusApproved || s == StatusPartiallyApproved || s == StatusModified || s == StatusDenied
}

// WatchStatuses are the statuses of Status.Watched.
var WatchStatuses = []Status{StatusApproved, StatusPartiallyApproved, StatusModified, StatusDenied}

// EscalationWatch is the watch cadence of a decided case while a
// peer-to-peer or an appeal is open (Case.EscalationOpen).
const EscalationWatch = 24 * time.Hour

// WatchEvery is the watch cadence of the case given the connector's
// (every): at most daily (EscalationWatch) while a peer-to-peer or an
// appeal is open, or an overturn waits for the payer to show it.
func (c *Case) WatchEvery(every time.Duration) time.Duration {
	if every > EscalationWatch && c.EscalationOpen() {
		return EscalationWatch
	}
	return every
}

// WatchDue reports whether a decided case is due for its watch at now (in
// the practice's zone): every (the connector's cadence, 0 for none; whole
// days count the practice's calendar days) has passed since it was last
// watched, or since its decision if it never was,
// and its service date plus tail has not passed. A case without a service
// date is watched without end.
func (c *Case) WatchDue(now time.Time, every, tail time.Duration) bool {
	if !c.Status.Watched() || every <= 0 {
		return false
	}
	if !c.ServiceDate.IsZero() && DateOf(now).After(c.ServiceDate.AddDays(int(tail/(24*time.Hour)))) {
		return false
	}
	last := c.UpdatedAt
	if d := c.Determination; d != nil && d.DecidedAt != nil {
		last = *d.DecidedAt
	}
	if c.WatchedAt != nil {
		last = *c.WatchedAt
	}
	every = c.WatchEvery(every)
	if every%(24*time.Hour) == 0 {
		// Whole days are counted in the practice's days: a daily watch is
		// due at the next day's poll, a weekly one a week later, whatever
		// the time of day (a poll at 09:00 sees a case decided at 09:01).
		return !DateOf(now).Before(DateOf(last.In(now.Location())).AddDays(int(every / (24 * time.Hour))))
	}
	return !now.Before(last.Add(every))
}

// Lapse turns an approval whose validity ended unused into expired: the
// case is authorized, its validity's last day is before today (now, in the
// practice's zone) and its service date is not inside the validity (no
// service is recorded on a case; a service date within the validity counts
// as the approval used). It returns the status_changed event and a warning
// alert, or false when the approval has not lapsed.
func (c *Case) Lapse(now time.Time) (Changes, bool) {
	d := c.Determination
	if !c.Status.Authorized() || d == nil || d.ValidTo.IsZero() {
		return Changes{}, false
	}
	today := DateOf(now)
	if !today.After(d.ValidTo) {
		return Changes{}, false
	}
	if !c.ServiceDate.IsZero() && !c.ServiceDate.After(d.ValidTo) &&
		(d.ValidFrom.IsZero() || !c.ServiceDate.Before(d.ValidFrom)) {
		return Changes{}, false
	}
	old := c.Status
	utc := now.UTC()
	c.Status = StatusExpired
	c.StatusText = fmt.Sprintf("Authorization expired unused on %s", d.ValidTo)
	ch := Changes{Events: []Event{{CaseID: c.ID, At: utc, Type: EventStatusChanged, Actor: "agent",
		From: old, To: StatusExpired, RawText: c.StatusText}}}
	a := c.NewAlert(AlertStatusChanged, SeverityWarning, "Authorization expired unused",
		fmt.Sprintf("The approval was valid through %s and no service was done under it; request a new authorization before scheduling", d.ValidTo),
		utc, "", "expired:"+c.ID)
	a.PrevStatus = old
	a.AuthNumber = d.AuthNumber
	ch.Alerts = append(ch.Alerts, a)
	return ch, true
}

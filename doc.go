// Package authpilot holds the domain of a prior-authorization coordinator:
// cases, their normalized statuses and allowed transitions, events,
// determinations, documents, deadlines and alerts; what a connector reports
// of a case (Observation, Submission) and its error classes (Error,
// ErrAuth, …, ErrorClass); the rule that folds an observation into a case
// (Case.Apply); and the small interfaces (store, secrets) that the rest of
// the program implements.
package authpilot

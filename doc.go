// Package authpilot holds the domain of a prior-authorization coordinator:
// cases, their normalized statuses and allowed transitions, events,
// determinations, documents, deadlines and alerts, and the small interfaces
// (store, secrets) that the rest of the program implements.
package authpilot

// Package schedules is the time logic of authpilot: an injectable clock,
// the practice's business-day calendar (US federal holidays plus its own
// closed days), the deadline rules that turn a case into dated deadlines
// and alerts, and the cron scheduler that runs the agent's jobs. It holds no
// I/O of its own beyond the run log it is given.
package schedules

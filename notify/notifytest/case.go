package notifytest

import (
	"time"

	"github.com/authpilot/authpilot"
)

// Case returns the case a sink kind's tests alert about: a patient, a
// service line and a diagnosis, each PHI listed in CasePHI.
func Case() *authpilot.Case {
	return &authpilot.Case{
		ID: "01JCASE0000000000000000001", ExternalRef: "ORD-4411", Payer: "acme-health",
		Patient: authpilot.Patient{FirstName: "Marguerite", LastName: "Quillfeather",
			DOB: authpilot.Date{Year: 1961, Month: time.July, Day: 14}, MemberID: "ZQX998877"},
		ServiceLines: []authpilot.ServiceLine{{Code: "22630", Units: 1}},
		Diagnoses:    []string{"M51.16"},
	}
}

// Alert returns the alert about Case a sink kind's tests send: a denial
// raised at at with severity sev, its peer-to-peer window closing 26 hours
// later.
func Alert(sev authpilot.Severity, at time.Time) authpilot.Alert {
	return authpilot.Alert{
		ID: "01JALERT000000000000000001", Type: authpilot.AlertDeterminationReceived, Severity: sev, At: at,
		CaseID: Case().ID, Payer: "acme-health", Track: authpilot.TrackSurgery,
		Status: authpilot.StatusDenied, PrevStatus: authpilot.StatusPended,
		Title: "Request denied", Action: "Schedule the peer-to-peer",
		Deadline: &authpilot.Deadline{Kind: authpilot.DeadlinePeerToPeer, Due: at.Add(26 * time.Hour)},
	}
}

// CasePHI is every PHI value of Case as a message would spell it.
func CasePHI() []string {
	return []string{"Marguerite", "Quillfeather", "1961-07-14", "ZQX998877", "22630", "M51.16", "ORD-4411"}
}

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

// PayerTextWithPHI is a payer's denial reason naming Case's patient, her
// DOB, member ID and order: what a redactor must catch in an alert's text.
const PayerTextWithPHI = "Denied for Marguerite Quillfeather (DOB 1961-07-14), member ZQX998877, order ORD-4411: not medically necessary."

// Denial is Alert for Case's order with PayerTextWithPHI as its reason.
func Denial(sev authpilot.Severity, at time.Time) authpilot.Alert {
	a := Alert(sev, at)
	a.ExternalRef, a.Reason = Case().ExternalRef, PayerTextWithPHI
	return a
}

// CasePHI is every PHI value of Case as a message would spell it.
func CasePHI() []string {
	return []string{"Marguerite", "Quillfeather", "1961-07-14", "ZQX998877", "22630", "M51.16", "ORD-4411"}
}

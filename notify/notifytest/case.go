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

// CasePHI is every PHI value of Case as a message would spell it.
func CasePHI() []string {
	return []string{"Marguerite", "Quillfeather", "1961-07-14", "ZQX998877", "22630", "M51.16", "ORD-4411"}
}

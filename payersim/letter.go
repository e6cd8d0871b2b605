package payersim

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"
)

func letterFilename(r Request) string {
	if r.Portal == kindRBM.String() {
		return r.Reference + "-determination-letter.pdf"
	}
	return "Determination_" + r.Reference + ".pdf"
}

// letterPDF renders the determination letter of a decided request.
func (p *Portal) letterPDF(r Request) ([]byte, error) {
	org, addr, phone := "Summit Health Plan", "Utilization Management, PO Box 4400, Harrisburg, PA 17111", "1-800-555-0142"
	refLabel := "Reference number"
	if p.kind == kindRBM {
		org, addr, phone = "ClearView Imaging Benefits", "Clinical Review Department, 200 Lakeview Drive, Columbus, OH 43215", "1-866-555-0199"
		refLabel = "Tracking number"
	}
	decided := r.DecidedAt
	if decided.IsZero() {
		decided = r.UpdatedAt
	}
	date := func(t time.Time) string { return t.Format("January 2, 2006") }

	pdf := fpdf.New("P", "mm", "Letter", "")
	pdf.SetCreationDate(decided)
	pdf.SetModificationDate(decided)
	pdf.SetTitle(org+" determination "+r.Reference, false)
	pdf.SetAuthor(org, false)
	pdf.SetCompression(false) // keep the text searchable: letters are small
	tr := pdf.UnicodeTranslatorFromDescriptor("")
	pdf.SetMargins(20, 18, 20)
	pdf.AddPage()

	pdf.SetFont("Helvetica", "B", 16)
	pdf.CellFormat(0, 8, tr(org), "", 1, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 9)
	pdf.CellFormat(0, 5, tr(addr), "", 1, "L", false, 0, "")
	pdf.CellFormat(0, 5, "Provider services: "+phone, "", 1, "L", false, 0, "")
	pdf.Ln(6)
	pdf.SetFont("Helvetica", "B", 13)
	pdf.CellFormat(0, 7, "Notice of Prior Authorization Determination", "", 1, "L", false, 0, "")
	pdf.Ln(2)

	pdf.SetFont("Helvetica", "", 10)
	field := func(label, value string) {
		if value == "" {
			return
		}
		pdf.SetFont("Helvetica", "B", 10)
		pdf.CellFormat(55, 6, tr(label+":"), "", 0, "L", false, 0, "")
		pdf.SetFont("Helvetica", "", 10)
		pdf.CellFormat(0, 6, tr(value), "", 1, "L", false, 0, "")
	}
	field("Date of notice", date(decided))
	field("Member", r.MemberName)
	field("Member ID", r.MemberID)
	field(refLabel, r.Reference)
	field("Decision", r.StatusText)
	field("Authorization number", r.AuthNumber)
	if !r.ValidFrom.IsZero() {
		field("Valid from", date(r.ValidFrom))
		field("Valid through", date(r.ValidTo))
	}
	field("Ordering provider NPI", r.OrderingNPI)
	field("Diagnoses", strings.Join(r.Diagnoses, ", "))
	if r.ServiceDate != "" {
		field("Planned service date", r.ServiceDate)
	}
	pdf.Ln(4)

	pdf.SetFont("Helvetica", "B", 10)
	for _, h := range []struct {
		w float64
		s string
	}{{30, "Requested code"}, {30, "Requested units"}, {30, "Approved code"}, {30, "Approved units"}, {0, "Detail"}} {
		pdf.CellFormat(h.w, 7, h.s, "1", 0, "L", false, 0, "")
	}
	pdf.Ln(-1)
	pdf.SetFont("Helvetica", "", 10)
	decisions := r.Decisions
	if len(decisions) == 0 { // not required: nothing was reviewed
		decisions = lineDecisions(r.Lines, nil, nil, false)
	}
	for i, d := range decisions {
		detail := ""
		if i < len(r.Lines) {
			detail = r.Lines[i].Detail
		}
		approvedCode, approvedUnits := d.ApprovedCode, fmt.Sprint(d.ApprovedUnits)
		if r.Status == StatusNotRequired {
			approvedCode, approvedUnits = "n/a", "n/a"
		}
		pdf.CellFormat(30, 7, d.Code, "1", 0, "L", false, 0, "")
		pdf.CellFormat(30, 7, fmt.Sprint(d.RequestedUnits), "1", 0, "L", false, 0, "")
		pdf.CellFormat(30, 7, approvedCode, "1", 0, "L", false, 0, "")
		pdf.CellFormat(30, 7, approvedUnits, "1", 0, "L", false, 0, "")
		pdf.CellFormat(0, 7, tr(detail), "1", 1, "L", false, 0, "")
	}
	pdf.Ln(5)

	if r.Reason != "" {
		label := "Reason"
		if r.Status == StatusDenied {
			label = "Reason for denial"
		}
		pdf.SetFont("Helvetica", "B", 10)
		pdf.CellFormat(0, 6, label, "", 1, "L", false, 0, "")
		pdf.SetFont("Helvetica", "", 10)
		pdf.MultiCell(0, 5, tr(r.Reason), "", "L", false)
		pdf.Ln(3)
	}
	pdf.SetFont("Helvetica", "", 9)
	var closing string
	switch r.Status {
	case StatusDenied:
		closing = "You or the member may request a peer-to-peer discussion with the reviewing physician, or file an appeal (reconciliation) within 65 days of the date of this notice. Call provider services at " + phone + "."
	case StatusNotRequired:
		closing = "No authorization number is issued. Eligibility and benefits are confirmed at the time of service."
	default:
		closing = "This authorization is not a guarantee of payment. Payment is subject to the member's eligibility and benefits on the date of service. Services must be rendered within the validity period above."
	}
	pdf.MultiCell(0, 4.5, tr(closing), "", "L", false)

	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("letter pdf: %w", err)
	}
	return buf.Bytes(), nil
}

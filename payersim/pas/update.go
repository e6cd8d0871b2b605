package pas

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"
)

// Attachment is one document an update carried, kept by name (the
// attachment's title), media type, size and sha256.
type Attachment struct {
	Title       string `json:"title"`
	ContentType string `json:"content_type,omitempty"`
	Size        int    `json:"size"`
	SHA256      string `json:"sha256"`
}

func newAttachment(a jAttachment) Attachment {
	sum := sha256.Sum256(a.Data)
	return Attachment{Title: a.Title, ContentType: a.ContentType, Size: len(a.Data), SHA256: hex.EncodeToString(sum[:])}
}

// Update is one Claim Update accepted for a request: the additional
// information the provider sent.
type Update struct {
	At          time.Time    `json:"at"`
	BundleID    string       `json:"bundle_id"`
	Trace       string       `json:"trace"`
	Note        string       `json:"note,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`
}

// updateLocked accepts a Claim Update (Claim.related to a prior request)
// under the Bundle identifier key: the prior request must be known and be
// the same member's. The request goes back in review (A4 without an
// information request) and its pend's Then decides it after the rule's
// AfterInquiries, counted from the update. s.mu must be held.
func (s *Server) updateLocked(key string, req *parsedRequest) (int, any) {
	sub := s.byTrace[req.prior]
	if sub == nil {
		return http.StatusBadRequest, outcomeResource("invalid", "Claim.related: the prior request is not known to this payer")
	}
	if req.memberID != sub.req.memberID {
		return http.StatusBadRequest, outcomeResource("invalid", "Claim.related: the update's subscriber differs from the prior request's")
	}
	sub.updates = append(sub.updates, Update{At: s.opts.Now(), BundleID: req.bundleID.Value, Trace: req.trace.Value,
		Note: req.note, Attachments: req.attachments})
	sub.inqAtUpdate = sub.inquiries
	s.updates[key] = sub
	s.stats.Updates++
	return http.StatusOK, s.renderLocked(sub, false, req.bundleID)
}

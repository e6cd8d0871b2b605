package authpilot

// Submission is what the payer answered to a submit or a find.
type Submission struct {
	// PayerRef is the payer's reference or tracking number.
	PayerRef   string
	Status     Status // submitted, or a decision given at once
	StatusText string
	// Determination is set when the payer decided at once.
	Determination *Determination
	Files         []File
	// Shown is what the payer showed of the request that identifies it
	// (member ID, DOB, codes, service date); nil when the connector read
	// nothing of the kind. The agent checks it against the case before it
	// links the request to the case.
	Shown *Identity
}

// Observation is what a poll saw of one case.
type Observation struct {
	CaseID string
	// Status is the normalized status; empty when the connector could not
	// tell (then Err says why).
	Status     Status
	StatusText string
	// PayerRef is set when the payer shows a new or different reference.
	PayerRef      string
	Determination *Determination
	// Files are downloaded documents (determination letters).
	Files []File
	// Unchanged is true when the connector saw that nothing changed since
	// the last poll (e.g. the list row's "last updated" did not move) and
	// did not open the detail page.
	Unchanged bool
	// Shown is what the payer showed of the request on the page read (nil:
	// nothing identifying was read). The agent applies nothing of an
	// observation whose Shown differs from the case.
	Shown *Identity
	Err   error
}

// File is a document a connector downloaded.
type File struct {
	Name        string
	ContentType string
	Kind        string // DocLetter, ...
	Data        []byte
}

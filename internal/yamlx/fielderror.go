package yamlx

import "fmt"

// FieldError is a problem at a line of a plug-in's options (a connector
// kind's, a sink kind's): the config loader adds the file and the path of
// the options to Path.
type FieldError struct {
	Line int
	// Path is the field path within the options, e.g. "poll.steps[3].kind".
	Path string
	Msg  string
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// FieldErrors is a list of option errors.
type FieldErrors []*FieldError

func (es FieldErrors) Error() string {
	if len(es) == 0 {
		return "no errors"
	}
	s := es[0].Error()
	if len(es) > 1 {
		s += fmt.Sprintf(" (and %d more)", len(es)-1)
	}
	return s
}

// Package fhirjson reads FHIR JSON resources without knowing their shape:
// what the PAS connector and the PAS simulator both need before they
// decode a resource into their own types.
package fhirjson

import (
	"bytes"
	"encoding/json"
)

// ResourceType reads a resource's resourceType without decoding the rest
// (FHIR JSON puts it first; elsewhere it costs a scan of what precedes it).
// It returns "" for what is not a JSON object with one.
func ResourceType(raw []byte) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return ""
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		if key, _ := tok.(string); key == "resourceType" {
			var rt string
			if dec.Decode(&rt) != nil {
				return ""
			}
			return rt
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return ""
		}
	}
	return ""
}

package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/authpilot/authpilot"
)

// PHIRedactor removes the PHI the store knows from the text of alerts bound
// for sinks that did not opt in to PHI (Options.PHI). The agent's
// implementation holds every case's patient names, dates of birth (in the
// spellings payers print), member IDs and order references.
type PHIRedactor interface {
	// Refresh brings the redactor up to date with the cases written since
	// its last refresh. The Dispatcher calls it once per delivery pass,
	// after reading the pass's pending deliveries (so every case their
	// alerts name is committed), so it must be cheap when little changed.
	Refresh(ctx context.Context) error
	// Redact returns s with every known PHI value replaced.
	Redact(s string) string
}

// OrderRefRecipient is implemented by notifiers whose sink may show the
// practice's order reference (Alert.ExternalRef, often an MRN) without
// opting in to the rest of the PHI (Sink.IncludeOrderRef).
type OrderRefRecipient interface {
	IncludeOrderRef() bool
}

// alertForSink returns the alert as a sink may receive it. A sink that
// opted in to PHI gets it whole. Any other sink gets it without the order
// reference (unless it allows that alone) and with every PHI value the
// redactor knows replaced in every text field, present and future: payer
// free text (denial reasons, information requests, notes, refusal text,
// unmapped status words) reaches alerts in many fields, so fields are
// redacted unless they are listed as identifiers in alertIdentifiers.
// With no redactor (tests, tools) only the order reference is dropped.
// DeliverOnce refreshes the redactor once per pass (phiErr).
func (d *Dispatcher) alertForSink(n Notifier, a authpilot.Alert) (authpilot.Alert, error) {
	if p, ok := n.(PHIRecipient); ok && p.IncludePHI() {
		return a, nil
	}
	if o, ok := n.(OrderRefRecipient); !ok || !o.IncludeOrderRef() {
		a.ExternalRef = ""
	}
	if d.opts.PHI == nil {
		return a, nil
	}
	if d.phiErr != nil {
		// Never send text that could not be checked: retry later.
		return a, fmt.Errorf("refresh the phi index: %w", d.phiErr)
	}
	return RedactAlert(a, d.opts.PHI.Redact), nil
}

// alertIdentifiers are the alert's fields (at any depth) that hold IDs,
// enums and the payer's authorization number rather than text; they are
// not redacted. Every other string field is.
var alertIdentifiers = map[string]bool{
	"ID": true, "Type": true, "Severity": true, "DedupKey": true, "CaseID": true, "ExternalRef": true,
	"Payer": true, "ConnectorID": true, "Track": true, "Status": true, "PrevStatus": true,
	"Kind": true, "AuthNumber": true, "Recording": true, "Screenshot": true,
}

// RedactAlert returns a copy of a with redact applied to every string (and
// []byte) field, at any depth, except the identifiers in alertIdentifiers.
// a itself, including what its pointers and slices point to, is unchanged.
func RedactAlert(a authpilot.Alert, redact func(string) string) authpilot.Alert {
	v := redactValue(reflect.ValueOf(a), redact)
	return v.Interface().(authpilot.Alert)
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

func redactValue(v reflect.Value, redact func(string) string) reflect.Value {
	switch v.Kind() {
	case reflect.String:
		out := reflect.New(v.Type()).Elem()
		out.SetString(redact(v.String()))
		return out
	case reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		out.Set(v)
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if !f.IsExported() || alertIdentifiers[f.Name] {
				continue
			}
			out.Field(i).Set(redactValue(v.Field(i), redact))
		}
		return out
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type().Elem())
		out.Elem().Set(redactValue(v.Elem(), redact))
		return out
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			b := []byte(redact(string(v.Bytes())))
			if v.Type() == rawMessageType && json.Valid(v.Bytes()) && !json.Valid(b) {
				b = []byte(`"[REDACTED]"`)
			}
			return reflect.ValueOf(b).Convert(v.Type())
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			out.Index(i).Set(redactValue(v.Index(i), redact))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			out.SetMapIndex(it.Key(), redactValue(it.Value(), redact))
		}
		return out
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type()).Elem()
		out.Set(redactValue(v.Elem(), redact))
		return out
	default:
		return v
	}
}

package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/notify"
	"github.com/authpilot/authpilot/notify/notifytest"
	"github.com/authpilot/authpilot/notify/webhook"
	"github.com/authpilot/authpilot/schedules/clocktest"
)

// fakePHI redacts a fixed list of values; Refresh fails while failing is set.
type fakePHI struct {
	values    []string
	refreshes atomic.Int32
	failing   atomic.Bool
}

func (f *fakePHI) Refresh(context.Context) error {
	f.refreshes.Add(1)
	if f.failing.Load() {
		return errors.New("database is locked")
	}
	return nil
}

func (f *fakePHI) Redact(s string) string {
	for _, v := range f.values {
		s = strings.ReplaceAll(s, v, "[REDACTED]")
	}
	return s
}

// TestRedactAlertCoversEveryTextField sets every string field of an alert,
// at any depth, to payer text naming the patient: every field but the
// identifiers comes back redacted — so a field added to Alert later is
// redacted unless someone declares it an identifier — and the original,
// with what its pointers and slices point to, is unchanged.
func TestRedactAlertCoversEveryTextField(t *testing.T) {
	const text = "payer says Quillfeather ZQX998877"
	identifiers := map[string]bool{"ID": true, "Type": true, "Severity": true, "DedupKey": true, "CaseID": true,
		"ExternalRef": true, "Payer": true, "ConnectorID": true, "Track": true, "Status": true, "PrevStatus": true,
		"Kind": true, "AuthNumber": true, "Recording": true, "Screenshot": true}
	var a authpilot.Alert
	a.Deadline = &authpilot.Deadline{}
	a.Items = []authpilot.DigestItem{{Deadline: &authpilot.Deadline{}}}
	var fields []string
	eachString(reflect.ValueOf(&a).Elem(), "Alert", func(v reflect.Value, path string) {
		v.SetString(text)
		fields = append(fields, path)
	})
	orig, _ := json.Marshal(a)

	got := notify.RedactAlert(a, (&fakePHI{values: []string{"Quillfeather", "ZQX998877"}}).Redact)

	eachString(reflect.ValueOf(got), "Alert", func(v reflect.Value, path string) {
		name := path[strings.LastIndex(path, ".")+1:]
		want := "payer says [REDACTED] [REDACTED]"
		if identifiers[name] {
			want = text
		}
		if v.String() != want {
			t.Errorf("%s = %q, want %q", path, v.String(), want)
		}
	})
	if after, _ := json.Marshal(a); string(after) != string(orig) {
		t.Errorf("RedactAlert changed its argument:\n%s\n%s", orig, after)
	}
	if len(fields) < 20 {
		t.Errorf("only %d string fields filled: %v", len(fields), fields)
	}
}

// eachString calls f with every string v holds, through pointers, slices
// and exported struct fields, and its path (Alert.Items[].Title).
func eachString(v reflect.Value, path string, f func(v reflect.Value, path string)) {
	switch v.Kind() {
	case reflect.String:
		f(v, path)
	case reflect.Pointer:
		if !v.IsNil() {
			eachString(v.Elem(), path, f)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			eachString(v.Index(i), path+"[]", f)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if fl := v.Type().Field(i); fl.IsExported() {
				eachString(v.Field(i), path+"."+fl.Name, f)
			}
		}
	}
}

// TestDispatcherRedactsPayerTextForSinksWithoutPHI: a payer's denial
// reason naming the patient reaches three real webhook receivers. The one
// without include_phi gets it redacted and no order reference; the one
// with include_order_ref alone gets the order reference but the reason
// redacted; the include_phi one gets it all. While the PHI index cannot
// be refreshed, nothing is sent to the sinks without PHI: the delivery
// waits for a retry.
func TestDispatcherRedactsPayerTextForSinksWithoutPHI(t *testing.T) {
	clock := clocktest.New(start)
	plain, refOnly, full := newEndpoint(t, clock, nil), newEndpoint(t, clock, nil), newEndpoint(t, clock, nil)
	refSink, phiSink := hookSink("ref", "ref-url"), hookSink("ehr", "ehr-url")
	refSink.IncludeOrderRef = true
	phiSink.IncludePHI = true
	cfgs := []notify.Sink{hookSink("plain", "plain-url"), refSink, phiSink}
	ns, err := notify.Build(cfgs, notify.Env{Secrets: notifytest.Secrets{"plain-url": plain.URL, "ref-url": refOnly.URL,
		"ehr-url": full.URL, "hook-key": hookSecret}, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	outbox := &notifytest.Outbox{Now: clock.Now}
	red := &fakePHI{values: []string{"Marguerite", "Quillfeather", "QUILLFEATHER", "07/14/1961", "ZQX998877", "ORD-4411"}}
	red.failing.Store(true)
	logger, logs := notifytest.NewLogger()
	d := notify.NewDispatcher(outbox, notifytest.Cases{seeded.ID: seeded}, &notify.Router{Sinks: notify.Names(cfgs),
		Routes: []notify.Route{{Sinks: notify.Names(cfgs)}}}, ns, clock, logger,
		notify.Options{Rand: func() float64 { return 0.5 }, PHI: red})
	a := alertN(0, authpilot.AlertDeterminationReceived)
	a.Reason = "Denied for QUILLFEATHER, Marguerite (DOB 07/14/1961), member ZQX998877, order ORD-4411: not medically necessary."
	if _, err := outbox.Enqueue(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	if _, err := d.DeliverOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(plain.Requests()) + len(refOnly.Requests()); n != 0 {
		t.Fatalf("%d requests to sinks without PHI while the index could not be refreshed", n)
	}
	if len(full.Requests()) != 1 {
		t.Fatalf("the include_phi sink got %d requests, want 1 (it needs no redaction)", len(full.Requests()))
	}
	red.failing.Store(false)
	clock.Advance(time.Minute)
	if _, err := d.DeliverOnce(t.Context()); err != nil {
		t.Fatal(err)
	}

	body := func(e *notifytest.Endpoint) webhook.Payload {
		t.Helper()
		reqs := e.Requests()
		if len(reqs) != 1 {
			t.Fatalf("%d requests, want 1", len(reqs))
		}
		return reqs[0].Payload()
	}
	const redacted = "Denied for [REDACTED], [REDACTED] (DOB [REDACTED]), member [REDACTED], order [REDACTED]: not medically necessary."
	if p := body(plain); p.Data.Reason != redacted || p.Data.ExternalRef != "" || p.Data.Patient != nil {
		t.Errorf("plain sink: reason %q, external_ref %q, patient %v", p.Data.Reason, p.Data.ExternalRef, p.Data.Patient)
	}
	if p := body(refOnly); p.Data.Reason != redacted || p.Data.ExternalRef != "ORD-4411" || p.Data.Patient != nil {
		t.Errorf("order-ref sink: reason %q, external_ref %q, patient %v", p.Data.Reason, p.Data.ExternalRef, p.Data.Patient)
	}
	if p := body(full); p.Data.Reason != a.Reason || p.Data.ExternalRef != "ORD-4411" || p.Data.Patient == nil {
		t.Errorf("include_phi sink: reason %q, external_ref %q, patient %v", p.Data.Reason, p.Data.ExternalRef, p.Data.Patient)
	}
	for _, v := range red.values {
		if strings.Contains(logs.String(), v) {
			t.Errorf("PHI %q in the logs", v)
		}
		for _, del := range outbox.All() {
			if strings.Contains(del.LastError, v) {
				t.Errorf("PHI %q in a delivery's last error", v)
			}
		}
	}
}

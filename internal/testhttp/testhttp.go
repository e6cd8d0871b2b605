// Package testhttp sends a test's requests to the servers it starts on
// loopback and reads the whole answer.
package testhttp

import (
	"io"
	"net/http"
	"testing"
)

// Do sends method url with body (nil for none) through
// http.DefaultClient and returns the answer's status, body and header.
// It stops the test when the request cannot be made, sent or read.
func Do(t testing.TB, method, url string, body io.Reader) (int, []byte, http.Header) {
	t.Helper()
	return Send(t, http.DefaultClient, NewRequest(t, method, url, body))
}

// NewRequest makes a request: method url with body (nil for none) and
// header, name and value pairs set in order (a pair whose value is ""
// removes that header). It stops the test when the request cannot be made.
func NewRequest(t testing.TB, method, url string, body io.Reader, header ...string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	return req
}

// Send sends req through c and returns the answer's status, body and
// header. It stops the test when the request cannot be sent or read.
func Send(t testing.TB, c *http.Client, req *http.Request) (int, []byte, http.Header) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read the answer: %v", req.Method, req.URL, err)
	}
	return resp.StatusCode, b, resp.Header
}

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
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return Send(t, http.DefaultClient, req)
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

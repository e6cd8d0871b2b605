package loopback

import (
	"io"
	"net/http"
	"testing"
	"time"
)

func TestServe(t *testing.T) {
	url, stop, err := Serve(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ok" {
		t.Fatalf("got %q, want ok", b)
	}
	stop()
	if _, err := http.Get(url + "/"); err == nil {
		t.Fatal("server still answers after stop")
	}
}

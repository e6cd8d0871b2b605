// Package loopback serves HTTP handlers on a free 127.0.0.1 port, for the
// simulators and receivers the demo, bench and chaos runs start in-process.
package loopback

import (
	"net"
	"net/http"
	"time"
)

// Serve serves h on a free loopback port, with readHeaderTimeout as the
// server's ReadHeaderTimeout; it returns the base URL and a stop function
// that closes the server.
func Serve(h http.Handler, readHeaderTimeout time.Duration) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: readHeaderTimeout}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

package agent_test

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authpilot/authpilot/agent"
)

// TestLargeBodiesPeakMemory measures the daemon's peak memory (VmHWM)
// while eight clients post large case bodies at once (the report: eight
// concurrent 63 MB bodies took 987 MiB). It is a measurement, run by hand:
//
//	AUTHPILOT_MEMTEST=63 go test -count=1 -run TestLargeBodiesPeakMemory -v ./agent/
//
// where the number is each body's size in MB.
func TestLargeBodiesPeakMemory(t *testing.T) {
	mb, _ := strconv.Atoi(os.Getenv("AUTHPILOT_MEMTEST"))
	if mb == 0 {
		t.Skip("a measurement: set AUTHPILOT_MEMTEST=<MB per body>")
	}
	cfg := writeE2EConfig(t, t.TempDir(), "http://127.0.0.1:1", "http://127.0.0.1:1", "http://127.0.0.1:1")
	_, base, stop := serveAgent(t, cfg, agent.Options{})
	defer stop()

	// Bodies are streamed, so the client side holds next to nothing.
	fileBytes := int64(mb<<20*3/4 - 4096)
	before := peakRSS(t)
	var wg sync.WaitGroup
	codes := make([]int, 8)
	start := time.Now()
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			head, tail, _ := strings.Cut(caseJSON(fmt.Sprintf("SHPMEM%05d", i), "summit-ma", "surgery", []string{"22612"}, "M48.062", "1245319599"),
				`JVBERi0xLjQKJSBQVCBub3Rlcwo=`)
			pr, pw := io.Pipe()
			go func() {
				enc := base64.NewEncoder(base64.StdEncoding, pw)
				_, err := io.CopyN(enc, zeroReader{}, fileBytes)
				if err == nil {
					err = enc.Close()
				}
				pw.CloseWithError(err)
			}()
			size := int64(len(head)+len(tail)) + int64(base64.StdEncoding.EncodedLen(int(fileBytes)))
			req, _ := http.NewRequest("POST", base+"/v1/cases", io.MultiReader(strings.NewReader(head), pr, strings.NewReader(tail)))
			req.ContentLength = size
			req.Header.Set("Authorization", "Bearer "+e2eToken)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	after := peakRSS(t)
	t.Logf("8 concurrent %d MB bodies: answers %v in %v; peak RSS %d MiB before, %d MiB after (+%d MiB)",
		mb, codes, time.Since(start).Round(time.Millisecond), before>>10, after>>10, (after-before)>>10)
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// peakRSS is the process's peak resident set (VmHWM) in KiB.
func peakRSS(t *testing.T) int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

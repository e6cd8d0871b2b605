package bench

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// procStatusMB returns a /proc status field (VmRSS, VmHWM) of pid in MiB.
func procStatusMB(pid int, field string) float64 { return procFieldMB(pid, "status", field) }

// pssMB is pid's proportional set size in MiB: shared pages are divided
// among the processes sharing them, so Chromium's processes can be summed.
func pssMB(pid int) float64 { return procFieldMB(pid, "smaps_rollup", "Pss") }

func procFieldMB(pid int, file, field string) float64 {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), file))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field+":") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return kb / 1024
			}
		}
	}
	return 0
}

// descendants returns the PIDs whose ancestry reaches root.
func descendants(root int) []int {
	entries, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces: cut after ')'.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		parent[pid] = ppid
	}
	var out []int
	for pid := range parent {
		for p := parent[pid]; p > 1; p = parent[p] {
			if p == root {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}

// cpuSeconds is the user+system CPU time of pid.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ is 100 on Linux
}

// childrenRSS samples the summed PSS of this process's descendants
// (Chromium and its helpers) and keeps the peak.
type childrenRSS struct {
	mu   sync.Mutex
	peak float64
	stop chan struct{}
	done chan struct{}
}

func sampleChildren(every time.Duration) *childrenRSS {
	c := &childrenRSS{stop: make(chan struct{}), done: make(chan struct{})}
	self := os.Getpid()
	go func() {
		defer close(c.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			sum := 0.0
			for _, pid := range descendants(self) {
				sum += pssMB(pid)
			}
			c.mu.Lock()
			if sum > c.peak {
				c.peak = sum
			}
			c.mu.Unlock()
			select {
			case <-c.stop:
				return
			case <-t.C:
			}
		}
	}()
	return c
}

func (c *childrenRSS) Stop() float64 {
	close(c.stop)
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peak
}

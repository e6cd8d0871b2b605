package main

import (
	"fmt"
	"io"
	"os"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress shows a bar on a terminal and plain lines otherwise (logs, CI,
// pipes), so long work — a poll sweep, an import — shows where it is.
type progress struct {
	w     io.Writer
	bar   *progressbar.ProgressBar
	total int
	done  int
	label string
}

func newProgress(w io.Writer, total int, label string) *progress {
	p := &progress{w: w, total: total, label: label}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) && total > 0 {
		p.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(label),
			progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish())
	}
	return p
}

// Step advances by one and says what finished.
func (p *progress) Step(msg string) {
	p.done++
	if p.bar != nil {
		_ = p.bar.Add(1)
		p.bar.Describe(p.label + ": " + msg)
		return
	}
	fmt.Fprintf(p.w, "[%d/%d] %s\n", p.done, p.total, msg)
}

// Set moves to n done; without a terminal it prints every 10 %.
func (p *progress) Set(n int) {
	if p.bar != nil {
		_ = p.bar.Set(n)
		return
	}
	step := p.total / 10
	if step < 1 {
		step = 1
	}
	if n%step == 0 || n == p.total {
		fmt.Fprintf(p.w, "%s: %d/%d rows\n", p.label, n, p.total)
	}
	p.done = n
}

// Done finishes the bar.
func (p *progress) Done() {
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.w)
	}
}

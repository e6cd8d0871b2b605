package payersim

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"
)

//go:embed templates
var templatesFS embed.FS

// payerPages and rbmPages are parsed once from the embedded templates; they
// are never modified after.
var (
	payerPages = parsePages("templates/payer")
	rbmPages   = parsePages("templates/rbm")
)

var templateFuncs = template.FuncMap{
	"usdate": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Format("01/02/2006")
	},
	"usdatetime": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Format("01/02/2006 03:04 PM")
	},
	"isodate": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Format(time.DateOnly)
	},
	"isodatetime": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Format("2006-01-02 15:04")
	},
	"usday":       usDay,
	"mask":        maskID,
	"codes":       lineCodes,
	"join":        strings.Join,
	"statusClass": statusClass,
	"hasLetter":   func(s Status) bool { return s.hasLetter() },
	"canWithdraw": func(s Status) bool { return slices.Contains(withdrawable, s) },
	"size":        humanSize,
	"seq": func(n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = i + 1
		}
		return out
	},
	"list":  func(s ...string) []string { return s },
	"field": func(prefix string, i int) string { return fmt.Sprintf("%s_%d", prefix, i) },
	"fid":   func(prefix string, i int) string { return fmt.Sprintf("%s-%d", prefix, i) },
}

func parsePages(dir string) map[string]*template.Template {
	names, err := fs.Glob(templatesFS, dir+"/*.html")
	if err != nil {
		panic(err) // only a malformed pattern fails
	}
	pages := make(map[string]*template.Template)
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" {
			continue
		}
		pages[base] = template.Must(template.New(base).Funcs(templateFuncs).
			ParseFS(templatesFS, dir+"/layout.html", n))
	}
	return pages
}

// maskID shows only the last four characters of a member ID.
func maskID(id string) string {
	if len(id) <= 4 {
		return id
	}
	return strings.Repeat("*", len(id)-4) + id[len(id)-4:]
}

func lineCodes(lines []ServiceLine) string {
	codes := make([]string, len(lines))
	for i, l := range lines {
		codes[i] = l.Code
	}
	return strings.Join(codes, ", ")
}

func statusClass(s Status) string {
	return strings.ReplaceAll(string(s), "_", "-")
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// parseDate reads MM/DD/YYYY (or M/D/YYYY) and YYYY-MM-DD and returns
// YYYY-MM-DD.
func parseDate(s string) (string, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"01/02/2006", "1/2/2006", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Format(time.DateOnly), true
		}
	}
	return "", false
}

// usDay turns YYYY-MM-DD into MM/DD/YYYY.
func usDay(iso string) string {
	t, err := time.Parse(time.DateOnly, iso)
	if err != nil {
		return iso
	}
	return t.Format("01/02/2006")
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent"
)

func caseSetup(ctx context.Context, path string, stderr io.Writer) (*agent.Intake, func(), error) {
	cfg, err := loadConfig(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	in := agent.NewIntake(cfg, st, newLogger(cfg, stderr), time.Now)
	return in, func() { st.Close() }, nil
}

func cmdCaseAdd(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("case add", "case add [--config FILE] CASE.json|CASE.yaml\n\nValidates and stores one case. Attachments may be given as files:\n[{name, path}] (read relative to the case file) or inline content_base64.", stderr)
	path := configFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return &exitError{2, ""}
	}
	nc, err := readCaseFile(fs.Arg(0))
	if err != nil {
		return &exitError{1, err.Error()}
	}
	in, done, err := caseSetup(ctx, *path, stderr)
	if err != nil {
		return err
	}
	defer done()
	c, err := in.Create(ctx, nc, "cli")
	var ve authpilot.ValidationError
	if errors.As(err, &ve) {
		return &exitError{1, fmt.Sprintf("%s: %s", fs.Arg(0), ve.Error())}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "case %s created (%s)\n", c.ID, c.Status)
	return nil
}

// readCaseFile decodes a case strictly from JSON or YAML; attachments given
// by path are read relative to the file.
func readCaseFile(name string) (*agent.NewCase, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read case: %w", err)
	}
	var nc agent.NewCase
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml":
		dec := yaml.NewDecoder(strings.NewReader(string(data)))
		dec.KnownFields(true)
		if err := dec.Decode(&nc); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	default:
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&nc); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	for i, a := range nc.Attachments {
		if a.Path == "" {
			return nil, fmt.Errorf("%s: attachments[%d]: path is required (or give files: with content)", name, i)
		}
		p := a.Path
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(name), p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("%s: attachments[%d]: %w", name, i, err)
		}
		nm := a.Name
		if nm == "" {
			nm = filepath.Base(p)
		}
		nc.Files = append(nc.Files, agent.NewFile{Name: nm, Kind: a.Kind, ContentType: a.ContentType, Content: b})
	}
	nc.Attachments = nil
	return &nc, nil
}

func cmdCaseList(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("case list", "case list [--config FILE] [--status S[,S]] [--payer ID] [--due-before 48h|DATE] [--json]", stderr)
	path := configFlag(fs)
	status := fs.String("status", "", "only these statuses, comma-separated (e.g. rejected,pended)")
	payer := fs.String("payer", "", "only this payer")
	due := fs.String("due-before", "", "only cases with a deadline before this (RFC 3339, YYYY-MM-DD, or a duration such as 48h or 7d)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	in, done, err := caseSetup(ctx, *path, stderr)
	if err != nil {
		return err
	}
	defer done()
	f := authpilot.CaseFilter{Payer: *payer}
	if *status != "" {
		for _, s := range strings.Split(*status, ",") {
			st, err := authpilot.ParseStatus(s)
			if err != nil {
				return &exitError{2, "--status: " + err.Error()}
			}
			f.Statuses = append(f.Statuses, st)
		}
	}
	if *due != "" {
		t, err := agent.ParseDueBefore(*due, time.Now())
		if err != nil {
			return &exitError{2, "--due-before: " + err.Error()}
		}
		f.DueBefore = t
	}
	cases, err := in.Store.ListCases(ctx, f)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"cases": cases})
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEXTERNAL REF\tPAYER\tTRACK\tSTATUS\tPAYER REF\tAUTH #\tSERVICE DATE")
	for _, c := range cases {
		auth := ""
		if c.Determination != nil {
			auth = c.Determination.AuthNumber
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.ExternalRef, c.Payer, c.Track, c.Status, c.PayerRef, auth, c.ServiceDate)
	}
	return tw.Flush()
}

func cmdCaseShow(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("case show", "case show [--config FILE] [--json] ID", stderr)
	path := configFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return &exitError{2, ""}
	}
	in, done, err := caseSetup(ctx, *path, stderr)
	if err != nil {
		return err
	}
	defer done()
	v, err := agent.LoadCaseView(ctx, in.Store, fs.Arg(0))
	if errors.Is(err, authpilot.ErrNotFound) {
		return &exitError{1, fmt.Sprintf("no case %s", fs.Arg(0))}
	}
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	printCase(stdout, v, in.Dir.Location())
	return nil
}

func printCase(w io.Writer, v *agent.CaseView, loc *time.Location) {
	c := v.Case
	fmt.Fprintf(w, "Case %s  [%s]\n", c.ID, c.Status)
	if c.StatusText != "" {
		fmt.Fprintf(w, "  payer says:   %s\n", c.StatusText)
	}
	fmt.Fprintf(w, "  external ref: %s   episode: %s\n", c.ExternalRef, c.Episode)
	fmt.Fprintf(w, "  payer:        %s (%s) via %s   track: %s   urgency: %s\n", c.Payer, c.PlanType, c.ConnectorID, c.Track, c.Urgency)
	fmt.Fprintf(w, "  patient:      %s %s  DOB %s  member %s\n", c.Patient.FirstName, c.Patient.LastName, c.Patient.DOB, c.Patient.MemberID)
	var lines []string
	for _, l := range c.ServiceLines {
		s := fmt.Sprintf("%s x%d", l.Code, l.Units)
		if l.Level != "" {
			s += " " + l.Level
		}
		lines = append(lines, s)
	}
	fmt.Fprintf(w, "  services:     %s   dx: %s   date: %s\n", strings.Join(lines, ", "), strings.Join(c.Diagnoses, ", "), c.ServiceDate)
	if c.PayerRef != "" {
		fmt.Fprintf(w, "  payer ref:    %s\n", c.PayerRef)
	}
	if d := c.Determination; d != nil {
		fmt.Fprintf(w, "  determination: %s  auth #%s  valid %s..%s\n", d.Status, d.AuthNumber, d.ValidFrom, d.ValidTo)
		if d.DenialReason != "" {
			fmt.Fprintf(w, "  reason:       %s\n", d.DenialReason)
		}
		if d.InfoRequested != "" {
			fmt.Fprintf(w, "  info requested: %s\n", d.InfoRequested)
		}
	}
	if c.LastError != "" {
		fmt.Fprintf(w, "  last error:   %s\n", c.LastError)
	}
	if len(v.Deadlines) > 0 {
		fmt.Fprintln(w, "Deadlines:")
		for _, d := range v.Deadlines {
			fmt.Fprintf(w, "  %-22s %s  (%s)\n", d.Kind, d.Due.In(loc).Format("Mon Jan 2 2006 15:04 MST"), d.Rule)
		}
	}
	if len(v.Documents) > 0 {
		fmt.Fprintln(w, "Documents:")
		for _, d := range v.Documents {
			fmt.Fprintf(w, "  %-10s %s  %d bytes  sha256 %s\n", d.Kind, d.Name, d.Size, d.SHA256)
		}
	}
	fmt.Fprintln(w, "Events:")
	for _, e := range v.Events {
		change := ""
		if e.From != "" || e.To != "" {
			change = fmt.Sprintf(" %s → %s", e.From, e.To)
		}
		line := fmt.Sprintf("  %s  %-22s%s  by %s", e.At.In(loc).Format("2006-01-02 15:04"), e.Type, change, e.Actor)
		if e.RawText != "" {
			line += fmt.Sprintf("  %q", e.RawText)
		}
		if e.Recording != "" {
			line += "  [" + e.Recording + "]"
		}
		fmt.Fprintln(w, line)
	}
}

func cmdCaseImport(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("case import", "case import [--config FILE] FILE.csv\n\nColumns (header row): "+strings.Join(agent.CSVColumns(), ", ")+
		"\nprocedures: CODE[xUNITS][@LEVEL] separated by ';'; diagnoses separated by ';'.\nA bad row is reported with its line and not imported; good rows are.", stderr)
	path := configFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return &exitError{2, ""}
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	total, _ := countLines(fs.Arg(0))
	in, done, err := caseSetup(ctx, *path, stderr)
	if err != nil {
		return err
	}
	defer done()
	bar := newProgress(stdout, total, "importing")
	res, err := in.ImportCSV(ctx, f, "import", func(n int) { bar.Set(n) })
	bar.Done()
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	for _, re := range res.Errors {
		fmt.Fprintf(stderr, "%s:%d: %v\n", fs.Arg(0), re.Line, re.Err)
	}
	fmt.Fprintf(stdout, "%d cases imported, %d rows rejected\n", len(res.Created), len(res.Errors))
	if len(res.Errors) > 0 {
		return &exitError{1, ""}
	}
	return nil
}

// countLines counts data rows (lines after the header) for the progress bar.
func countLines(name string) (int, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return 0, err
	}
	n := strings.Count(strings.TrimRight(string(b), "\n"), "\n")
	return n, nil
}

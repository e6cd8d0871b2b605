package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/config"
)

func caseSetup(ctx context.Context, path string, stderr io.Writer) (*agent.Intake, func(), error) {
	cfg, st, err := openConfigStore(ctx, path)
	if err != nil {
		return nil, nil, err
	}
	in := agent.NewIntake(cfg, st, newLogger(cfg, stderr), time.Now)
	return in, func() { st.Close() }, nil
}

func cmdCaseAdd(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("case add", "case add [--config FILE] [--attachments-root DIR] CASE.json|CASE.yaml\n\n"+
		"Validates and stores one case. Attachments may be given as files: [{name, path}]\n"+
		"(read relative to the case file, and only from inside its folder or\n"+
		"--attachments-root; never the data or keyring directory) or inline\n"+
		"content_base64. A case that an open case already stands for (the same\n"+
		"external_ref at the payer, or without one the same member, codes and\n"+
		"service date) is reported as present and not created again.", stderr)
	path := configFlag(fs)
	root := fs.String("attachments-root", "", "read attachment paths only from inside this `dir` (default: the case file's folder)")
	cfg, err := parseConfig(fs, path, args, 1)
	if err != nil {
		return err
	}
	nc, err := readCaseFile(fs.Arg(0), *root, forbiddenDirs(cfg))
	if err != nil {
		return &exitError{1, err.Error()}
	}
	in, done, err := caseSetup(ctx, *path, stderr)
	if err != nil {
		return err
	}
	defer done()
	c, present, err := in.CreateOnce(ctx, nc, "cli")
	var ve authpilot.ValidationError
	if errors.As(err, &ve) {
		return &exitError{1, fmt.Sprintf("%s: %s", fs.Arg(0), ve.Error())}
	}
	if err != nil {
		return err
	}
	if present != nil {
		fmt.Fprintf(stdout, "case %s already present (same %s); nothing created\n", present.CaseID, presentBy(present.By))
		return nil
	}
	fmt.Fprintf(stdout, "case %s created (%s)\n", c.ID, c.Status)
	return nil
}

func presentBy(by string) string {
	if by == "request" {
		return "member, codes and service date at the payer"
	}
	return "external_ref at the payer"
}

// forbiddenDirs are directories no attachment is read from, wherever the
// attachments root is: the data directory (the store, documents,
// recordings) and the keyring.
func forbiddenDirs(cfg *config.Config) []string {
	dirs := []string{cfg.DataDir, cfg.Keyring.FileDir}
	if cfg.Keyring.PassphraseFile != "" {
		dirs = append(dirs, cfg.Keyring.PassphraseFile)
	}
	return dirs
}

// readCaseFile decodes a case strictly from JSON or YAML. Attachments given
// by path are read relative to the file, and only from inside root (the
// case file's folder when root is empty) once symbolic links are resolved,
// and never from inside one of the forbidden paths.
func readCaseFile(name, root string, forbidden []string) (*agent.NewCase, error) {
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
	if len(nc.Attachments) == 0 {
		return &nc, nil
	}
	base := filepath.Dir(name)
	if root == "" {
		root = base
	}
	realRoot, err := realPath(root)
	if err != nil {
		return nil, fmt.Errorf("%s: attachments root %s: %w", name, root, err)
	}
	realForbidden := realPaths(forbidden)
	for i, a := range nc.Attachments {
		field := fmt.Sprintf("%s: attachments[%d].path", name, i)
		if a.Path == "" {
			return nil, fmt.Errorf("%s: attachments[%d]: path is required (or give files: with content)", name, i)
		}
		p := a.Path
		if !filepath.IsAbs(p) {
			p = filepath.Join(base, p)
		}
		rp, err := realPath(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %q: no such file", field, a.Path)
		}
		if !within(realRoot, rp) {
			return nil, fmt.Errorf("%s: %q is outside %s (attachments are read only from inside the case file's folder or --attachments-root, links resolved)", field, a.Path, realRoot)
		}
		b, err := readConfined(fmt.Sprintf("%s: %q", field, a.Path), rp, realForbidden)
		if err != nil {
			return nil, err
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

// realPath is p made absolute with every symbolic link resolved.
func realPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

// realPaths are paths as realPath makes them, leaving out the empty ones
// and those that do not exist.
func realPaths(paths []string) []string {
	var out []string
	for _, p := range paths {
		if p == "" {
			continue
		}
		if rp, err := realPath(p); err == nil {
			out = append(out, rp)
		}
	}
	return out
}

// readConfined reads the file at rp (a real path) given to a case or an
// action: a regular file of at most 20 MiB, never from inside one of the
// forbidden real paths. Errors name the file as name.
func readConfined(name, rp string, forbidden []string) ([]byte, error) {
	for _, f := range forbidden {
		if within(f, rp) {
			return nil, fmt.Errorf("%s is inside authpilot's data or keyring directory; files are never read from there", name)
		}
	}
	fi, err := os.Stat(rp)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s: %w", name, err)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("%s is not a regular file", name)
	case fi.Size() > 20<<20:
		return nil, fmt.Errorf("%s is larger than 20 MiB", name)
	}
	b, err := os.ReadFile(rp)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return b, nil
}

// within reports whether p is dir or inside it (both real paths).
func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

func cmdCaseList(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("case list", "case list [--config FILE] [--status S[,S]] [--payer ID] [--connector ID] [--track T] [--episode E]\n"+
		"                 [--due-before 48h|DATE] [-q TEXT] [--json]\n\n"+
		"Lists cases in the order they were stored. -q searches (case-insensitive): every word\n"+
		"must match the start of the case ID, of the external or payer ref, the whole member\n"+
		"ID, or the start of the patient's first or last name. A search is written to the\n"+
		"access log (who, when, what kind of field matched, the cases listed; never the text).", stderr)
	path := configFlag(fs)
	status := fs.String("status", "", "only these statuses, comma-separated (e.g. rejected,pended)")
	payer := fs.String("payer", "", "only this payer")
	connector := fs.String("connector", "", "only this connector")
	track := fs.String("track", "", "only this track (surgery, imaging, injection, ...)")
	episode := fs.String("episode", "", "only this episode of care")
	due := fs.String("due-before", "", "only cases with a deadline before this (RFC 3339, YYYY-MM-DD, or a duration such as 48h or 7d)")
	query := fs.String("q", "", "search `text`: a case ID prefix, an external or payer ref, a member ID or a patient's name")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	in, done, err := caseSetup(ctx, *path, stderr)
	if err != nil {
		return err
	}
	defer done()
	f := authpilot.CaseFilter{Payer: *payer, ConnectorID: *connector, Track: authpilot.Track(*track), Episode: *episode}
	if *track != "" && !slices.Contains(authpilot.Tracks, f.Track) {
		return &exitError{2, fmt.Sprintf("--track: must be one of %v", authpilot.Tracks)}
	}
	if _, set := flagSet(fs)["q"]; set {
		if rule := agent.SearchRule(*query); rule != "" {
			return &exitError{2, "-q: " + rule}
		}
		f.Query = *query
	}
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
	cases, err := agent.SearchCases(ctx, in.Store, f, cliActor())
	if err != nil {
		return err
	}
	return writeList(stdout, *asJSON, "cases", cases, "ID\tEXTERNAL REF\tPAYER\tTRACK\tSTATUS\tPAYER REF\tAUTH #\tSERVICE DATE", func(c *authpilot.Case) string {
		auth := ""
		if c.Determination != nil {
			auth = c.Determination.AuthNumber
		}
		p := authpilot.Printable
		return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s", p(c.ID), p(c.ExternalRef), p(c.Payer), p(string(c.Track)), p(string(c.Status)), p(c.PayerRef), p(auth), c.ServiceDate)
	})
}

func cmdCaseShow(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("case show", "case show [--config FILE] [--json] CASE\n\n"+
		"CASE is a case ID, a unique prefix of one, an external ref or a payer ref\n"+
		"(case-insensitive). A name that fits several cases lists them. A lookup by\n"+
		"anything but a whole ID is written to the access log.", stderr)
	path := configFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseArgs(fs, args, 1); err != nil {
		return err
	}
	in, done, err := caseSetup(ctx, *path, stderr)
	if err != nil {
		return err
	}
	defer done()
	c, err := resolveCase(ctx, in.Store, fs.Arg(0))
	if err != nil {
		return err
	}
	v, err := agent.LoadCaseView(ctx, in.Store, c.ID)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, v)
	}
	printCase(stdout, v, in.Dir.Location())
	return nil
}

// lineRows compares what was ordered with what the payer authorized, one
// row per code: "22612 x1 → x1 approved", "22614 x2 → x1 approved",
// "22840 x1 → not approved", and a code the payer authorized instead of
// one ordered (a modification) as "63035 (not ordered) → x1 approved". It
// is empty while the payer has decided nothing; a decision that lists no
// lines says so in one row.
func lineRows(c *authpilot.Case) []string {
	d := c.Determination
	if d == nil || !d.Status.Decided() || d.Status == authpilot.StatusNotRequired {
		return nil
	}
	if len(d.ApprovedLines) == 0 && d.Status != authpilot.StatusDenied {
		return []string{"the payer listed no approved lines"}
	}
	approved := map[string]int{}
	var order []string
	for _, l := range d.ApprovedLines {
		code := strings.ToUpper(strings.TrimSpace(l.Code))
		if _, ok := approved[code]; !ok {
			order = append(order, code)
		}
		approved[code] += l.Units
	}
	ordered := map[string]bool{}
	var rows []string
	for _, l := range c.ServiceLines {
		code := strings.ToUpper(strings.TrimSpace(l.Code))
		row := fmt.Sprintf("%s x%d → ", code, l.Units)
		if n, ok := approved[code]; ok && !ordered[code] {
			row += fmt.Sprintf("x%d approved", n)
		} else {
			row += "not approved"
		}
		ordered[code] = true
		rows = append(rows, row)
	}
	for _, code := range order {
		if !ordered[code] {
			rows = append(rows, fmt.Sprintf("%s (not ordered) → x%d approved", code, approved[code]))
		}
	}
	return rows
}

// printCase prints a case for a person. Every value passes through
// authpilot.Printable: stored text (a name, a payer's words) never reaches
// the terminal with raw control characters.
func printCase(w io.Writer, v *agent.CaseView, loc *time.Location) {
	c := v.Case
	p := authpilot.Printable
	fmt.Fprintf(w, "Case %s  [%s]\n", p(c.ID), p(string(c.Status)))
	if c.StatusText != "" {
		fmt.Fprintf(w, "  payer says:   %s\n", p(c.StatusText))
	}
	fmt.Fprintf(w, "  external ref: %s   episode: %s\n", p(c.ExternalRef), p(c.Episode))
	fmt.Fprintf(w, "  payer:        %s (%s) via %s   track: %s   urgency: %s\n", p(c.Payer), p(string(c.PlanType)), p(c.ConnectorID), p(string(c.Track)), p(string(c.Urgency)))
	fmt.Fprintf(w, "  patient:      %s %s  DOB %s  member %s\n", p(c.Patient.FirstName), p(c.Patient.LastName), c.Patient.DOB, p(c.Patient.MemberID))
	var lines []string
	for _, l := range c.ServiceLines {
		s := fmt.Sprintf("%s x%d", l.Code, l.Units)
		if l.Level != "" {
			s += " " + l.Level
		}
		lines = append(lines, s)
	}
	fmt.Fprintf(w, "  services:     %s   dx: %s   date: %s\n", p(strings.Join(lines, ", ")), p(strings.Join(c.Diagnoses, ", ")), c.ServiceDate)
	if c.PayerRef != "" {
		fmt.Fprintf(w, "  payer ref:    %s\n", p(c.PayerRef))
	}
	if d := c.Determination; d != nil {
		fmt.Fprintf(w, "  determination: %s  auth #%s  valid %s..%s\n", p(string(d.Status)), p(d.AuthNumber), d.ValidFrom, d.ValidTo)
		if d.DenialReason != "" {
			fmt.Fprintf(w, "  reason:       %s\n", p(d.DenialReason))
		}
		if d.InfoRequested != "" {
			fmt.Fprintf(w, "  info requested: %s\n", p(d.InfoRequested))
		}
		if rows := lineRows(c); len(rows) > 0 {
			fmt.Fprintln(w, "Lines (ordered → approved):")
			for _, r := range rows {
				fmt.Fprintf(w, "  %s\n", p(r))
			}
		}
	}
	if c.LastError != "" {
		fmt.Fprintf(w, "  last error:   %s\n", p(c.LastError))
	}
	if len(v.Deadlines) > 0 {
		fmt.Fprintln(w, "Deadlines:")
		for _, d := range v.Deadlines {
			fmt.Fprintf(w, "  %-22s %s  (%s)\n", p(string(d.Kind)), d.Due.In(loc).Format("Mon Jan 2 2006 15:04 MST"), p(d.Rule))
		}
	}
	if len(v.Documents) > 0 {
		fmt.Fprintln(w, "Documents:")
		for _, d := range v.Documents {
			fmt.Fprintf(w, "  %-10s %s  %s  %d bytes  sha256 %s\n", p(d.Kind), p(d.Name), p(d.ContentType), d.Size, p(d.SHA256))
		}
	}
	fmt.Fprintln(w, "Events:")
	for _, e := range v.Events {
		change := ""
		if e.From != "" || e.To != "" {
			change = fmt.Sprintf(" %s → %s", p(string(e.From)), p(string(e.To)))
		}
		line := fmt.Sprintf("  %s  %-22s%s  by %s", e.At.In(loc).Format("2006-01-02 15:04"), p(string(e.Type)), change, p(e.Actor))
		if e.RawText != "" {
			line += fmt.Sprintf("  %q", e.RawText)
		}
		if e.Recording != "" {
			line += "  [" + p(e.Recording) + "]"
		}
		fmt.Fprintln(w, line)
	}
}

func cmdCaseImport(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("case import", "case import [--config FILE] FILE.csv\n\nColumns (header row): "+strings.Join(agent.CSVColumns(), ", ")+
		"\nprocedures: CODE[xUNITS][@LEVEL] separated by ';'; diagnoses separated by ';'.\nA bad row is reported with its line and not imported; good rows are. A row\nthat an open case already stands for (the same external_ref at the payer, or\nwithout one the same member, codes and service date) is reported as already\npresent and skipped, so importing a file again creates nothing new.", stderr)
	path := configFlag(fs)
	if err := parseArgs(fs, args, 1); err != nil {
		return err
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
	for _, p := range res.Present {
		fmt.Fprintf(stdout, "%s:%d: already present as case %s (same %s); skipped\n", fs.Arg(0), p.Line, p.CaseID, presentBy(p.By))
	}
	fmt.Fprintf(stdout, "%d cases imported, %d already present (skipped), %d rows rejected\n", len(res.Created), len(res.Present), len(res.Errors))
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

// resolveCase finds the case a command names (see agent.ResolveCase) and
// turns "none" and "several" into messages for a person.
func resolveCase(ctx context.Context, st authpilot.Store, ref string) (*authpilot.Case, error) {
	c, err := agent.ResolveCase(ctx, st, ref, cliActor())
	var amb *agent.AmbiguousError
	switch {
	case errors.As(err, &amb):
		return nil, &exitError{1, "the case is ambiguous: " + amb.Error()}
	case errors.Is(err, authpilot.ErrNotFound):
		return nil, &exitError{1, "no case has this ID, ID prefix, external ref or payer ref"}
	}
	return c, err
}

// cmdAccessLog prints the access log: the searches and lookups that could
// match PHI, who made them and which cases they returned.
func cmdAccessLog(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("access-log", "access-log [--config FILE] [--since 7d|DATE|TIME] [--json]\n\n"+
		"Lists the searches (case list -q, GET /v1/cases?q=) and lookups (case show and the\n"+
		"action verbs naming a case by a prefix or a ref): when, who, what kind of field\n"+
		"matched and the case IDs returned. The text searched for is never stored.", stderr)
	path := configFlag(fs)
	since := fs.String("since", "7d", "only entries since this: a duration back from now (24h, 7d), a YYYY-MM-DD date or an RFC 3339 time")
	asJSON := fs.Bool("json", false, "print JSON")
	cfg, err := parseConfig(fs, path, args, 0)
	if err != nil {
		return err
	}
	from, err := agent.ParseSince(*since, time.Now())
	if err != nil {
		return &exitError{2, "--since: " + err.Error()}
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	entries, err := st.AccessLog(ctx, from)
	if err != nil {
		return err
	}
	if entries == nil {
		entries = []authpilot.Access{}
	}
	p := authpilot.Printable
	return writeList(stdout, *asJSON, "entries", entries, "AT\tWHO\tACTION\tMATCHED\tCASES", func(e authpilot.Access) string {
		return fmt.Sprintf("%s\t%s\t%s\t%s\t%s", e.At.In(cfg.Location()).Format("2006-01-02 15:04:05"), p(e.Actor), p(e.Action),
			p(strings.Join(e.Matched, ",")), p(strings.Join(e.CaseIDs, " ")))
	})
}

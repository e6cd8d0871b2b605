package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent"
)

// actionFlag is one flag of an action verb: the input field (a dotted
// path into the action's JSON input) it sets.
type actionFlag struct {
	name, field, usage string
	kind               flagKind
}

type flagKind int

const (
	textFlag  flagKind = iota
	boolFlag           // true when given
	listFlag           // repeatable: a JSON array of strings
	linesFlag          // repeatable CODE[xUNITS]: approved lines
)

// actionVerb is `authpilot case <name>`: the CLI face of one of
// agent.Actions' actions.
type actionVerb struct {
	name, args, help string
	// files: the arguments after the case are files to upload; text: they
	// are the note's text.
	files, text bool
	flags       []actionFlag
}

var (
	viaUsage   = "how: portal or api (through the connector, sent now), or fax, phone or mail (already done; recorded)"
	dateUsage  = "`YYYY-MM-DD`"
	validFrom  = actionFlag{"valid-from", "valid_from", "the approval is valid from " + dateUsage, textFlag}
	validTo    = actionFlag{"valid-to", "valid_to", "the approval is valid to " + dateUsage, textFlag}
	authNumber = actionFlag{"auth-number", "auth_number", "the payer's authorization `number`", textFlag}
	noteFlag   = actionFlag{"note", "note", "a note for the case's history", textFlag}
)

// actionVerbs are the case action verbs, in agent.ActionNames order.
var actionVerbs = []actionVerb{
	{name: "note", args: "TEXT...", text: true,
		help: "Adds a note to the case's history (a call with the payer, what a person checked)."},
	{name: "attach", args: "FILE...", files: true,
		help:  "Attaches documents (PT notes, imaging reports) to the case, kept with their file names.",
		flags: []actionFlag{{"kind", "kind", "the documents' `kind` (e.g. pt_notes, imaging_report)", textFlag}}},
	{name: "respond", args: "[FILE...]", files: true,
		help: "Answers the payer's request for information on a pended case: files, the case's own\n" +
			"documents (--document) and a note, sent through the connector (--via portal or api;\n" +
			"this command sends it and waits) or recorded as sent by fax, phone or mail (--sent-at).",
		flags: []actionFlag{
			{"via", "via", viaUsage, textFlag},
			{"sent-at", "sent_at", "when it was sent by fax, phone or mail (RFC 3339 or YYYY-MM-DD)", textFlag},
			{"document", "documents", "the `sha256` of one of the case's attachments to send too (repeatable)", listFlag},
			noteFlag,
		}},
	{name: "decide", args: "[LETTER...]", files: true,
		help: "Records a determination received outside the portal (a call, a fax, a letter) with its\n" +
			"letter: status, auth number, validity, approved lines, reason.",
		flags: []actionFlag{
			{"source", "source", "how it came: phone, fax, mail, portal or api", textFlag},
			{"notice-date", "notice_date", "the notice's date " + dateUsage + " (appeal windows run from it)", textFlag},
			{"status", "status", "approved, partially_approved, modified, denied, not_required, ...", textFlag},
			authNumber, validFrom, validTo,
			{"line", "approved_lines", "an approved line `CODE[xUNITS]` (repeatable), e.g. 22612x1", linesFlag},
			{"reason", "reason", "the payer's reason (a denial's, a modification's)", textFlag},
		}},
	{name: "update", help: "Moves the service date or changes the facility or servicing provider; deadlines are\n" +
		"recomputed, and an approval whose validity no longer covers the date alerts at once.",
		flags: []actionFlag{
			{"service-date", "service_date", "the new service date " + dateUsage, textFlag},
			{"facility-name", "facility.name", "the facility's `name`", textFlag},
			{"facility-npi", "facility.npi", "the facility's `NPI`", textFlag},
			{"servicing-npi", "servicing_provider.npi", "the servicing provider's `NPI`", textFlag},
			{"servicing-name", "servicing_provider.name", "the servicing provider's `name`", textFlag},
		}},
	{name: "withdraw", help: "Withdraws the request: through the connector (--via portal or api; sent now), recorded as\n" +
		"done by fax, phone or mail, or with no --via for a case the payer never received.",
		flags: []actionFlag{{"reason", "reason", "why (the practice's words)", textFlag}, {"via", "via", viaUsage, textFlag}}},
	{name: "requeue", help: "Re-queues a rejected case after a fix, or settles one stuck in submitting: --not-received\n" +
		"(the portal shows no such request; it is submitted again) or --payer-ref (found by hand;\n" +
		"it becomes submitted).",
		flags: []actionFlag{
			{"not-received", "not_received", "the payer did NOT receive the submission (checked on its portal)", boolFlag},
			{"payer-ref", "payer_ref", "the payer's `reference` of the submission found by hand", textFlag},
			{"submitted-at", "submitted_at", "when that submission reached the payer (default now)", textFlag},
			noteFlag,
		}},
	{name: "p2p", help: "Schedules a peer-to-peer review (--op schedule) or records its outcome (--op outcome):\n" +
		"overturned, upheld, modified or not_held.",
		flags: []actionFlag{
			{"op", "op", "schedule or outcome", textFlag},
			{"scheduled-at", "scheduled_at", "when (RFC 3339)", textFlag},
			{"with", "with_whom", "the payer's reviewer", textFlag},
			{"phone", "phone", "the number to call", textFlag},
			{"outcome", "outcome", "overturned, upheld, modified or not_held", textFlag},
			authNumber, validFrom, validTo, noteFlag,
		}},
	{name: "appeal", help: "Files an appeal (--op file: level, filed at, method) or records its decision (--op decide).",
		flags: []actionFlag{
			{"op", "op", "file or decide", textFlag},
			{"level", "level", "reconsideration, internal_appeal or external_review", textFlag},
			{"filed-at", "filed_at", "when it was filed (RFC 3339 or YYYY-MM-DD)", textFlag},
			{"method", "method", "how it was filed: portal, api, fax, phone or mail", textFlag},
			{"expedited", "expedited", "an expedited appeal", boolFlag},
			{"decision-due", "decision_due", "the payer's own decision date, instead of the rule's", textFlag},
			{"outcome", "outcome", "overturned, upheld or modified", textFlag},
			authNumber, validFrom, validTo, noteFlag,
		}},
	{name: "extension", help: "Records the payer's extension of its decision time (a new decision due date).",
		flags: []actionFlag{
			{"decision-due", "decision_due", "the new decision due (RFC 3339 or YYYY-MM-DD)", textFlag},
			{"reason", "reason", "the payer's reason", textFlag},
		}},
	{name: "deadline", help: "Acknowledges a deadline (its alerts stop) or snoozes it until a time.",
		flags: []actionFlag{
			{"op", "op", "acknowledge or snooze", textFlag},
			{"kind", "kind", "the deadline's `kind` (decision_due, peer_to_peer, appeal_filing, ...)", textFlag},
			{"due", "due", "which one, when the case has several of the kind (RFC 3339)", textFlag},
			{"until", "until", "end of a snooze: RFC 3339 or a duration (24h, 3d)", textFlag},
		}},
}

// caseCommands are the `case` subcommands: add, list, show, import and
// the action verbs.
func caseCommands() map[string]command {
	out := map[string]command{"add": cmdCaseAdd, "list": cmdCaseList, "show": cmdCaseShow, "import": cmdCaseImport}
	for _, v := range actionVerbs {
		out[v.name] = func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
			return cmdCaseAction(ctx, v, args, stdin, stdout, stderr)
		}
	}
	return out
}

func cmdCaseAction(ctx context.Context, v actionVerb, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	synopsis := fmt.Sprintf("case %s [--config FILE] [--json FILE|-] [--if-match VERSION] [flags] CASE %s\n\n%s\n\n"+
		"CASE is a case ID, a unique ID prefix, an external ref or a payer ref. --json gives the\n"+
		"whole input as JSON (as POST /v1/cases/{id}/actions/%s takes it); flags set fields over it.\n"+
		"An error names each field and rule; nothing is changed then.", v.name, v.args, v.help, v.name)
	fs := newFlags("case "+v.name, strings.TrimRight(synopsis, " "), stderr)
	path := configFlag(fs)
	jsonIn := fs.String("json", "", "read the action's input from this JSON `file` (- for stdin)")
	ifMatch := fs.Int("if-match", 0, "refuse if the case is no longer at this `version` (as last shown)")
	text := map[string]*string{}
	bools := map[string]*bool{}
	lists := map[string]*multiFlag{}
	for _, f := range v.flags {
		switch f.kind {
		case boolFlag:
			bools[f.name] = fs.Bool(f.name, false, f.usage)
		case listFlag, linesFlag:
			lists[f.name] = &multiFlag{}
			fs.Var(lists[f.name], f.name, f.usage)
		default:
			text[f.name] = fs.String(f.name, "", f.usage)
		}
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 1 || (!v.files && !v.text && fs.NArg() > 1) {
		fs.Usage()
		return &exitError{2, ""}
	}
	input := map[string]any{}
	if *jsonIn != "" {
		b, err := readInput(*jsonIn, stdin)
		if err != nil {
			return &exitError{1, "--json: " + err.Error()}
		}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.UseNumber()
		if err := dec.Decode(&input); err != nil {
			return &exitError{1, "--json: the input must be one JSON object: " + err.Error()}
		}
	}
	given := flagSet(fs)
	for _, f := range v.flags {
		if !given[f.name] {
			continue
		}
		var val any
		switch f.kind {
		case boolFlag:
			val = *bools[f.name]
		case listFlag:
			val = []string(*lists[f.name])
		case linesFlag:
			lines, err := parseLines(*lists[f.name])
			if err != nil {
				return &exitError{2, "--" + f.name + ": " + err.Error()}
			}
			val = lines
		default:
			val = *text[f.name]
		}
		setPath(input, f.field, val)
	}
	if v.text && fs.NArg() > 1 {
		input["text"] = strings.Join(fs.Args()[1:], " ")
	}

	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	var files []authpilot.File
	if v.files {
		if files, err = readActionFiles(fs.Args()[1:], forbiddenDirs(cfg)); err != nil {
			return &exitError{1, err.Error()}
		}
	}
	raw, err := json.Marshal(input)
	if err != nil {
		return err
	}
	// An action that goes through the connector (a response or a
	// withdrawal via portal or api) runs the agent's connectors here and
	// waits for the send; the others need only the store.
	var acts *agent.Actions
	var wait func()
	via, _ := input["via"].(string)
	if (v.name == "respond" || v.name == "withdraw") && authpilot.Via(via).Connector() {
		a, err := agent.New(cfg, agent.Options{Logger: newLogger(cfg, stderr), NoAPI: true})
		if err != nil {
			return err
		}
		defer a.Close()
		acts, wait = a.Actions(), a.WaitSends
	} else {
		st, err := openStore(ctx, cfg)
		if err != nil {
			return err
		}
		defer st.Close()
		acts, wait = agent.NewActions(cfg, st, newLogger(cfg, stderr), time.Now), func() {}
	}
	c, err := resolveCase(ctx, acts.Store, fs.Arg(0))
	if err != nil {
		return err
	}
	c, err = acts.Do(ctx, agent.ActionRequest{CaseID: c.ID, Name: v.name, Input: raw, Files: files, IfMatch: *ifMatch, Actor: cliActor()})
	var ve authpilot.ValidationError
	var stale *agent.StaleError
	switch {
	case errors.As(err, &ve):
		return &exitError{1, fmt.Sprintf("case %s: nothing changed: %s", v.name, ve.Error())}
	case errors.As(err, &stale):
		return &exitError{1, fmt.Sprintf("case %s: nothing changed: %s", v.name, stale.Error())}
	case err != nil:
		return fmt.Errorf("case %s: %w", v.name, err)
	}
	wait()
	if after, err := acts.Store.GetCase(ctx, c.ID); err == nil {
		c = after
	}
	fmt.Fprintf(stdout, "case %s: %s done; now %s (version %d)\n", c.ID, v.name, c.Status, c.Version)
	if state, why := sendState(c, v.name); state == authpilot.SendFailed {
		return &exitError{1, fmt.Sprintf("case %s: the connector could not send it (%s); it is recorded as failed with an alert", v.name, why)}
	}
	return nil
}

// sendState is where the response or withdrawal an action queued for the
// connector stands, and why it failed.
func sendState(c *authpilot.Case, action string) (authpilot.SendState, string) {
	switch {
	case action == "respond" && len(c.InfoRequests) > 0 && c.InfoRequests[len(c.InfoRequests)-1].Response != nil:
		r := c.InfoRequests[len(c.InfoRequests)-1].Response
		return r.State, r.Error
	case action == "withdraw" && c.Withdrawal != nil:
		return c.Withdrawal.State, c.Withdrawal.Error
	}
	return "", ""
}

// readInput reads a file, or stdin for "-".
func readInput(name string, stdin io.Reader) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(io.LimitReader(stdin, 64<<20))
	}
	return os.ReadFile(name)
}

// setPath sets a dotted path ("facility.npi") in a JSON object.
func setPath(m map[string]any, path string, v any) {
	head, rest, nested := strings.Cut(path, ".")
	if !nested {
		m[head] = v
		return
	}
	sub, ok := m[head].(map[string]any)
	if !ok {
		sub = map[string]any{}
		m[head] = sub
	}
	setPath(sub, rest, v)
}

// parseLines reads approved lines CODE[xUNITS].
func parseLines(in []string) ([]authpilot.ApprovedLine, error) {
	var out []authpilot.ApprovedLine
	for _, s := range in {
		code, units, hasUnits := strings.Cut(strings.ToUpper(strings.TrimSpace(s)), "X")
		n := 1
		if hasUnits {
			var err error
			if n, err = strconv.Atoi(units); err != nil || n < 1 {
				return nil, fmt.Errorf("%q: must be CODE or CODExUNITS (e.g. 22612x1)", s)
			}
		}
		out = append(out, authpilot.ApprovedLine{Code: code, Units: n})
	}
	return out, nil
}

// readActionFiles reads the files named on the command line, never from
// inside the data or keyring directory (links resolved).
func readActionFiles(names []string, forbidden []string) ([]authpilot.File, error) {
	realForbidden := realPaths(forbidden)
	var out []authpilot.File
	for _, n := range names {
		rp, err := realPath(n)
		if err != nil {
			return nil, fmt.Errorf("%s: no such file", n)
		}
		b, err := readConfined(n, rp, realForbidden)
		if err != nil {
			return nil, err
		}
		out = append(out, authpilot.File{Name: filepath.Base(n), Data: b})
	}
	return out, nil
}

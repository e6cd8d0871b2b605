package web

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/agent"
	"github.com/authpilot/authpilot/store"
)

// pageSize is the worklist's rows per page.
const pageSize = 50

// needsPerson are the statuses in which a case waits for a person: to
// finish it, fix it, answer the payer, or act on a decision (peer-to-peer,
// appeal, a partial approval).
var needsPerson = []authpilot.Status{authpilot.StatusDraft, authpilot.StatusRejected, authpilot.StatusPended,
	authpilot.StatusContactPayer, authpilot.StatusDenied, authpilot.StatusPartiallyApproved, authpilot.StatusModified}

// Row is one worklist line.
type Row struct {
	Case *authpilot.Case
	Next *authpilot.Deadline
	// Overdue: Next is past.
	Overdue bool
	Todo    string
	Age     string
	// Assignee is who took the case ("" for no one).
	Assignee string
}

type worklistData struct {
	Rows               []Row
	Filter             url.Values
	Payers             []string
	Tracks             []authpilot.Track
	Statuses           []authpilot.Status
	Page, Pages, Total int
	PrevURL, NextURL   string
	Cards              []template.HTML
	// CanAssign: the person may take cases; Self is this page's URL, to
	// come back to.
	CanAssign bool
	Self      string
}

func (s *Site) worklist(w http.ResponseWriter, r *http.Request) {
	u, _ := UserOf(r)
	q := r.URL.Query()
	f := authpilot.CaseFilter{Statuses: needsPerson, Payer: q.Get("payer"), Track: authpilot.Track(q.Get("track")),
		Episode: q.Get("episode"), Query: strings.TrimSpace(q.Get("q")), Assignee: q.Get("assignee")}
	if f.Assignee == "me" {
		f.Assignee = u.Name
	}
	if st := authpilot.Status(q.Get("status")); st != "" {
		if !st.Valid() {
			s.Fail(w, r, http.StatusBadRequest, "Unknown status.")
			return
		}
		f.Statuses = []authpilot.Status{st}
	}
	ctx := r.Context()
	d := worklistData{Filter: q, Statuses: needsPerson, Tracks: authpilot.Tracks,
		CanAssign: u.Role.AtLeast(store.RoleCoordinator), Self: r.URL.RequestURI()}
	for _, p := range s.cfg.Payers {
		d.Payers = append(d.Payers, p.ID)
	}
	d.Page, _ = strconv.Atoi(q.Get("page"))
	d.Page = max(d.Page, 1)
	rows, total, err := s.worklistRows(ctx, f, u, clientAddr(r), d.Page)
	if err != nil {
		s.log.Error("read the worklist failed", "err", err)
		s.Fail(w, r, http.StatusInternalServerError, "Could not read the worklist.")
		return
	}
	d.Rows, d.Total = rows, total
	d.Pages = max(1, (total+pageSize-1)/pageSize)
	if d.Page > d.Pages {
		d.Page = d.Pages
		if d.Rows, _, err = s.worklistRows(ctx, f, u, clientAddr(r), d.Page); err != nil {
			s.log.Error("read the worklist failed", "err", err)
			s.Fail(w, r, http.StatusInternalServerError, "Could not read the worklist.")
			return
		}
	}
	pageURL := func(n int) string {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Set("page", strconv.Itoa(n))
		return "/?" + v.Encode()
	}
	if d.Page > 1 {
		d.PrevURL = pageURL(d.Page - 1)
	}
	if d.Page < d.Pages {
		d.NextURL = pageURL(d.Page + 1)
	}
	// The page shows these cases' patients: one access-log row (a search
	// has written its own, naming every case it found).
	if len(d.Rows) > 0 && f.Query == "" && !s.LogRead(w, r, "worklist", rowIDs(d.Rows)) {
		return
	}
	for _, e := range s.exts {
		if e.Worklist == nil {
			continue
		}
		card, err := e.Worklist(s, r)
		if err != nil {
			s.log.Warn("worklist extension failed", "extension", e.Name, "err", err)
			continue
		}
		if card != "" {
			d.Cards = append(d.Cards, card)
		}
	}
	s.Render(w, r, http.StatusOK, s.page("worklist"), d)
}

// worklistRows returns page (from 1) of the rows f selects, ordered by
// the next deadline, and how many there are in all. A search (f.Query) is
// matched in Go and written to the access log as a search first.
func (s *Site) worklistRows(ctx context.Context, f authpilot.CaseFilter, u store.User, from string, page int) ([]Row, int, error) {
	now := s.now()
	row := func(c *authpilot.Case) (Row, error) {
		ds, err := s.st.Deadlines(ctx, c.ID)
		if err != nil {
			return Row{}, err
		}
		r := Row{Case: c, Age: age(now.Sub(c.CreatedAt))}
		if r.Assignee, err = s.pages.Assignee(ctx, c.ID); err != nil {
			return Row{}, err
		}
		if len(ds) > 0 {
			r.Next = &ds[0]
			r.Overdue = ds[0].Due.Before(now)
		}
		r.Todo = todo(c, r.Next)
		return r, nil
	}
	var cases []*authpilot.Case
	total := 0
	if f.Query == "" {
		var err error
		if cases, total, err = s.pages.WorklistPage(ctx, f, (page-1)*pageSize, pageSize); err != nil {
			return nil, 0, err
		}
	} else {
		var err error
		if cases, err = agent.SearchCasesFrom(ctx, s.st, f, Actor(u), from); err != nil {
			return nil, 0, err
		}
		total = len(cases)
	}
	rows := make([]Row, 0, len(cases))
	for _, c := range cases {
		r, err := row(c)
		if err != nil {
			return nil, 0, err
		}
		rows = append(rows, r)
	}
	if f.Query != "" {
		// The next deadline first; cases without one after, in the
		// order stored (as WorklistPage orders them).
		slices.SortStableFunc(rows, func(a, b Row) int {
			switch {
			case a.Next != nil && b.Next != nil:
				return a.Next.Due.Compare(b.Next.Due)
			case a.Next != nil:
				return -1
			case b.Next != nil:
				return 1
			}
			return 0
		})
		lo := min((page-1)*pageSize, len(rows))
		rows = rows[lo:min(lo+pageSize, len(rows))]
	}
	return rows, total, nil
}

// rowIDs are the IDs of the cases of worklist rows, for the access log.
func rowIDs(rows []Row) []string {
	ids := make([]string, len(rows))
	for i, row := range rows {
		ids[i] = row.Case.ID
	}
	return ids
}

// todo is the worklist's "what to do" line for c.
func todo(c *authpilot.Case, next *authpilot.Deadline) string {
	if next != nil {
		switch next.Kind {
		case authpilot.DeadlinePeerToPeer:
			return "Request a peer-to-peer review before it closes"
		case authpilot.DeadlineAppeal:
			return "File an appeal before the window closes"
		case authpilot.DeadlineInfoResponse:
			return "Send the payer the information it asked for"
		case authpilot.DeadlinePeerToPeerCall:
			return "Prepare the ordering provider for the peer-to-peer call"
		case authpilot.DeadlineServiceAtRisk:
			return "Service date at risk: call the payer or move the date"
		case authpilot.DeadlineAuthExpiry:
			return "Authorization expiring: schedule the service or ask for an extension"
		}
	}
	switch c.Status {
	case authpilot.StatusDraft:
		return "Complete the request"
	case authpilot.StatusRejected:
		return "Fix what the payer rejected and re-queue"
	case authpilot.StatusPended:
		return "Send the payer the information it asked for"
	case authpilot.StatusContactPayer:
		return "Call the payer"
	case authpilot.StatusDenied:
		return "Decide: peer-to-peer, appeal or withdraw"
	case authpilot.StatusPartiallyApproved, authpilot.StatusModified:
		return "Review what was approved against what was ordered"
	}
	if c.LastError != "" {
		return "Check the connector error"
	}
	return "Follow up"
}

func age(d time.Duration) string {
	switch {
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// Line is a service line as ordered beside what was approved of it.
type Line struct {
	Code             string
	Ordered          int
	Approved         int
	Decided, Partial bool
}

type caseData struct {
	*agent.CaseView
	Assignee string
	// Shots are the recordings' screenshots by recording ID.
	Shots   map[string]string
	Lines   []Line
	CanAct  bool
	Actions []string
	Now     time.Time
}

func (s *Site) casePage(w http.ResponseWriter, r *http.Request) {
	u, _ := UserOf(r)
	ctx := r.Context()
	v, err := agent.LoadCaseView(ctx, s.st, r.PathValue("id"))
	if s.failCase(w, r, err, "No such case.", "read case failed", "Could not read the case.") {
		return
	}
	if !s.LogRead(w, r, "case", []string{v.ID}) {
		return
	}
	d := caseData{CaseView: v, CanAct: u.Role.AtLeast(store.RoleCoordinator), Now: s.now(), Shots: s.screenshots(v.Events)}
	if d.Assignee, err = s.pages.Assignee(ctx, v.ID); err != nil {
		s.log.Error("read assignee failed", "case", v.ID, "err", err)
		s.Fail(w, r, http.StatusInternalServerError, "Could not read the case.")
		return
	}
	for _, l := range v.ServiceLines {
		ln := Line{Code: l.Code, Ordered: l.Units}
		if det := v.Determination; det != nil && v.Status.Decided() {
			ln.Decided = true
			for _, a := range det.ApprovedLines {
				if a.Code == l.Code {
					ln.Approved += a.Units
				}
			}
			if len(det.ApprovedLines) == 0 && v.Status == authpilot.StatusApproved {
				ln.Approved = l.Units
			}
			ln.Partial = ln.Approved < ln.Ordered
		}
		d.Lines = append(d.Lines, ln)
	}
	s.Render(w, r, http.StatusOK, s.page("case"), d)
}

// inlineTypes are shown in the browser; anything else is downloaded.
var inlineTypes = []string{"application/pdf", "image/png", "image/jpeg", "text/plain"}

func (s *Site) document(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	rc, doc, err := agent.OpenCaseDocument(r.Context(), s.st, id, r.PathValue("sha256"))
	if s.failCase(w, r, err, "No such document for this case.", "open document failed", "Could not read the document.") {
		return
	}
	defer rc.Close()
	if !s.LogRead(w, r, "document", []string{id}) {
		return
	}
	disp := "attachment"
	if r.URL.Query().Get("inline") != "" && slices.Contains(inlineTypes, doc.ContentType) {
		disp = "inline"
	}
	w.Header().Set("Content-Type", doc.ContentType)
	w.Header().Set("Content-Disposition", fmt.Sprintf("%s; filename=%q", disp, doc.Name))
	// A document is shown inside the workspace's own frame only.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; object-src 'self'; plugin-types application/pdf; frame-ancestors 'self'")
	_, _ = io.Copy(w, rc)
}

// maxUpload bounds an action's form with its files.
const maxUpload = 32 << 20

// boolFields are the actions' yes/no inputs (checkboxes).
var boolFields = []string{"not_received", "expedited"}

// listFields are the actions' inputs that take several values.
var listFields = []string{"documents"}

// localTime is the layout of a datetime-local field: a wall time in the
// practice's zone.
const localTime = "2006-01-02T15:04"

// formInput turns an action's form into its JSON input: each field a
// string, except boolFields (a checkbox: true when sent) and listFields;
// a datetime-local value becomes RFC 3339 in loc.
func formInput(form url.Values, loc *time.Location) (json.RawMessage, error) {
	in := map[string]any{}
	for k, vs := range form {
		if k == "version" || len(vs) == 0 {
			continue
		}
		switch {
		case slices.Contains(boolFields, k):
			in[k] = true
		case slices.Contains(listFields, k):
			in[k] = vs
		case k == "approved_lines":
			lines, err := parseLines(vs[0])
			if err != nil {
				return nil, err
			}
			if lines != nil {
				in[k] = lines
			}
		case strings.TrimSpace(vs[0]) != "":
			v := strings.TrimSpace(vs[0])
			if t, err := time.ParseInLocation(localTime, v, loc); err == nil {
				v = t.Format(time.RFC3339)
			}
			in[k] = v
		}
	}
	return json.Marshal(in)
}

// parseLines reads "CODE:UNITS, CODE:UNITS".
func parseLines(s string) ([]authpilot.ApprovedLine, error) {
	var out []authpilot.ApprovedLine
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' }) {
		code, units, ok := strings.Cut(strings.TrimSpace(part), ":")
		n, err := strconv.Atoi(strings.TrimSpace(units))
		if !ok || err != nil || n < 1 {
			return nil, authpilot.ValidationError{{Field: "approved_lines", Rule: "must be CODE:UNITS, separated by commas"}}
		}
		out = append(out, authpilot.ApprovedLine{Code: strings.TrimSpace(code), Units: n})
	}
	return out, nil
}

type actionResult struct {
	CaseID string
	Errors authpilot.ValidationError
	Msg    string
}

func (s *Site) caseAction(w http.ResponseWriter, r *http.Request) {
	u, _ := UserOf(r)
	id, name := r.PathValue("id"), r.PathValue("name")
	r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
	if err := r.ParseMultipartForm(1 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		s.Fail(w, r, http.StatusBadRequest, "The form could not be read (too large?).")
		return
	}
	if r.MultipartForm != nil {
		defer r.MultipartForm.RemoveAll()
	}
	version, err := strconv.Atoi(r.PostFormValue("version"))
	if err != nil || version < 1 {
		s.Fail(w, r, http.StatusBadRequest, "The form is missing the case's version; reload the case.")
		return
	}
	req := agent.ActionRequest{CaseID: id, Name: name, Actor: Actor(u), IfMatch: version}
	if req.Input, err = formInput(r.PostForm, s.cfg.Location()); err == nil && r.MultipartForm != nil {
		req.Files, err = uploads(r)
	}
	if err == nil {
		_, err = s.actions.Do(r.Context(), req)
	}
	var ve authpilot.ValidationError
	var stale *agent.StaleError
	switch {
	case err == nil:
		http.Redirect(w, r, "/cases/"+url.PathEscape(id)+"?flash="+url.QueryEscape("Done: "+strings.ReplaceAll(name, "_", " ")+"."), http.StatusSeeOther)
	case errors.As(err, &ve):
		s.Render(w, r, http.StatusUnprocessableEntity, s.page("action"), actionResult{CaseID: id, Errors: ve, Msg: "The action was refused; nothing changed."})
	case errors.As(err, &stale):
		s.Render(w, r, http.StatusConflict, s.page("action"), actionResult{CaseID: id, Msg: "The case changed since you opened it; nothing was done. Open it again and check."})
	case errors.Is(err, agent.ErrUnknownAction), errors.Is(err, authpilot.ErrNotFound):
		s.Fail(w, r, http.StatusNotFound, "No such case or action.")
	default:
		s.log.Error("case action failed", "case", id, "action", name, "err", err)
		s.Fail(w, r, http.StatusInternalServerError, "Could not carry out the action.")
	}
}

// assign takes a case for the signed-in person (to=me) or gives it back
// (to empty), then returns to where the form was (the worklist or the
// case).
func (s *Site) assign(w http.ResponseWriter, r *http.Request) {
	u, _ := UserOf(r)
	id := r.PathValue("id")
	who := ""
	if r.PostFormValue("to") == "me" {
		who = u.Name
	}
	err := s.pages.Assign(r.Context(), id, who, u.Name)
	if s.failCase(w, r, err, "No such case.", "assign failed", "Could not assign the case.") {
		return
	}
	s.log.Info("case assigned", "case", id, "to", who, "by", u.Name)
	back := localPath(r.PostFormValue("back"))
	if back == "/" && r.PostFormValue("back") == "" {
		back = "/cases/" + url.PathEscape(id)
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// maxFile bounds one uploaded file.
const maxFile = 20 << 20

func uploads(r *http.Request) ([]authpilot.File, error) {
	var out []authpilot.File
	for _, fh := range r.MultipartForm.File["files"] {
		if fh.Size == 0 {
			continue
		}
		f, err := fh.Open()
		if err != nil {
			return nil, fmt.Errorf("read upload: %w", err)
		}
		data, err := io.ReadAll(io.LimitReader(f, maxFile+1))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read upload: %w", err)
		}
		out = append(out, authpilot.File{Name: fh.Filename, ContentType: fh.Header.Get("Content-Type"), Data: data})
	}
	return out, nil
}

type accessData struct {
	Entries []authpilot.Access
	Since   time.Time
}

// accessEntries reads the access log since the "since" date of r (default
// a week ago); ok false when it answered an error.
func (s *Site) accessEntries(w http.ResponseWriter, r *http.Request) (es []authpilot.Access, since time.Time, ok bool) {
	since = s.now().AddDate(0, 0, -7)
	if v := r.URL.Query().Get("since"); v != "" {
		t, err := time.ParseInLocation("2006-01-02", v, s.cfg.Location())
		if err != nil {
			s.Fail(w, r, http.StatusBadRequest, "since: must be a date YYYY-MM-DD.")
			return nil, since, false
		}
		since = t
	}
	es, err := s.st.AccessLog(r.Context(), since)
	if err != nil {
		s.log.Error("read access log failed", "err", err)
		s.Fail(w, r, http.StatusInternalServerError, "Could not read the access log.")
		return nil, since, false
	}
	return es, since, true
}

func (s *Site) accessLog(w http.ResponseWriter, r *http.Request) {
	es, since, ok := s.accessEntries(w, r)
	if !ok {
		return
	}
	slices.Reverse(es)
	s.Render(w, r, http.StatusOK, s.page("access"), accessData{Entries: es, Since: since})
}

// accessLogCSV exports the access log since a date, oldest first (HIPAA
// audit controls, 45 CFR 164.312(b)).
func (s *Site) accessLogCSV(w http.ResponseWriter, r *http.Request) {
	es, since, ok := s.accessEntries(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", "access-log-since-"+since.Format("2006-01-02")+".csv"))
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"id", "at", "actor", "action", "from", "matched", "case_ids"})
	for _, e := range es {
		_ = cw.Write([]string{strconv.FormatInt(e.ID, 10), e.At.UTC().Format(time.RFC3339), e.Actor, e.Action, e.From,
			strings.Join(e.Matched, " "), strings.Join(e.CaseIDs, " ")})
	}
	cw.Flush()
}

func (s *Site) usersPage(w http.ResponseWriter, r *http.Request) {
	us, err := s.people.Users(r.Context())
	if err != nil {
		s.log.Error("list users failed", "err", err)
		s.Fail(w, r, http.StatusInternalServerError, "Could not list the people.")
		return
	}
	s.Render(w, r, http.StatusOK, s.page("users"), usersData{Users: us, Now: s.now()})
}

type usersData struct {
	Users []store.User
	Now   time.Time
}

type episodeData struct {
	Episode string
	Rows    []Row
}

// episodePage shows every case of an episode (surgery, imaging, implant
// tracks together), open or closed, by next deadline.
func (s *Site) episodePage(w http.ResponseWriter, r *http.Request) {
	u, _ := UserOf(r)
	ep := r.PathValue("episode")
	rows, _, err := s.worklistRows(r.Context(), authpilot.CaseFilter{Episode: ep}, u, clientAddr(r), 1)
	if err != nil {
		s.log.Error("read episode failed", "err", err)
		s.Fail(w, r, http.StatusInternalServerError, "Could not read the episode.")
		return
	}
	if len(rows) == 0 {
		s.Fail(w, r, http.StatusNotFound, "No such episode.")
		return
	}
	if !s.LogRead(w, r, "episode", rowIDs(rows)) {
		return
	}
	s.Render(w, r, http.StatusOK, s.page("episode"), episodeData{Episode: ep, Rows: rows})
}

package recordings

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io/fs"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authpilot/authpilot"
)

// The PHI and secrets of one run, and where they may show up.
const (
	password  = "Hunter2-Pass!"
	totpSeed  = "JBSWY3DPEHPK3PXP"
	memberID  = "XYZ123456789"
	firstName = "Janet"
	lastName  = "Quartermaine"
	// Values never registered, redacted by field or header name alone.
	csrfValue   = "csrf-7f3a9e1b2c"
	cookieValue = "sess-4b1d2e9c8a"
	bearerValue = "eyJhbGciOiJIUzI1NiJ9.payload.sig"
	accessToken = "at-91c2d3e4f5a6"
	otpCode     = "493817"
)

func TestNothingRegisteredReachesDisk(t *testing.T) {
	s, clk := openStore(t, Options{})
	rec := s.Start("carelon", "submit")
	rec.Redact(password, totpSeed)
	rec.Redact(PatientValues(authpilot.Patient{
		FirstName: firstName, LastName: lastName, MemberID: memberID,
		DOB: authpilot.Date{Year: 1961, Month: 7, Day: 4},
	})...)
	rec.Redact("ab", "") // too short: ignored, must not redact every "ab"

	// A DOM snapshot with the DOB in several spellings, the name escaped
	// and upper-cased, and a password field.
	dom := DOMSnapshot("http://portal.test/members/"+memberID+"?token=tok-1a2b3c",
		[]byte(`<html><body><h1>QUARTERMAINE, JANET</h1>
<p>DOB: 07/04/1961 (7/4/1961, Jul 4, 1961, 1961-07-04)</p>
<p>Member&nbsp;<b>`+memberID+`</b> — Janet&nbsp;Quartermaine</p>
<input type="password" name="pw" value="`+password+`">
<input type="hidden" name="csrf_token" value="`+csrfValue+`">
<meta name="csrf-token" content="`+csrfValue+`">
<p>about the lab</p></body></html>`))
	rec.Attach("dom", "member "+memberID, "text/html", dom)

	form := "username=office&password=" + strings.ReplaceAll(password, "!", "%21") +
		"&csrf_token=" + csrfValue + "&otp=" + otpCode + "&member=" + memberID + "&name=Janet+Quartermaine"
	login := Exchange{
		Method: "POST", URL: "http://portal.test/login?next=/members/" + memberID + "&access_token=" + accessToken,
		Status: 302,
		RequestHeaders: http.Header{
			"Content-Type":  {"application/x-www-form-urlencoded"},
			"Cookie":        {"sid=" + cookieValue + "; theme=dark"},
			"Authorization": {"Bearer " + bearerValue},
			"X-Csrf-Token":  {csrfValue},
		},
		RequestBody: form,
		ResponseHeaders: http.Header{
			"Set-Cookie": {"sid=" + cookieValue + "; Path=/; HttpOnly"},
			"Location":   {"http://portal.test/home?code=1&session_id=" + cookieValue},
		},
		Started: t0,
	}
	rec.Attach("network", "login", "application/json", mustJSON(t, login))

	jsonBody := `{"patient":{"name":"Janet Quartermaine","birthDate":"1961-07-04"},"auth":{"access_token":"` + accessToken + `","refresh_token":{"v":"` + accessToken + `"}},"note":"<ok>"}`
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write([]byte(jsonBody)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	api := Exchange{
		Method: "GET", URL: "https://api.portal.test/members?name=Janet%20Quartermaine&dob=07%2F04%2F1961",
		Status: 200,
		ResponseHeaders: http.Header{
			"Content-Type":     {"application/json"},
			"Content-Encoding": {"gzip"},
		},
		Body: gz.Bytes(),
	}
	rec.Attach("network", "member search", "application/json", mustJSON(t, api))

	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	_ = mw.WriteField("member_id", memberID)
	_ = mw.WriteField("client_secret", "cs-"+accessToken)
	fw, _ := mw.CreateFormFile("attachment", "Quartermaine_MRI.pdf")
	_, _ = fw.Write([]byte("%PDF-1.7 Patient: Janet Quartermaine"))
	_ = mw.Close()
	upload := Exchange{
		Method: "POST", URL: "http://portal.test/upload", Status: 200,
		RequestHeaders: http.Header{"Content-Type": {mw.FormDataContentType()}},
		RequestBody:    mp.String(),
	}
	rec.Attach("network", "upload", "application/json", mustJSON(t, upload))
	rec.Attach("log", "console", "text/plain", []byte("member "+memberID+" loaded"))
	// An API connector's own JSON shape: kept, redacted as JSON.
	rec.Attach("network", "pas submit", "application/json", []byte(`{"op":"submit","url":"https://pas.test/Claim/$submit?totp=`+otpCode+`",
		"request":{"headers":{"Authorization":"Bearer `+bearerValue+`"},
		"body":{"patient":{"name":[{"family":"Quartermaine","given":["Janet"]}],"birthDate":"1961-07-04","identifier":"`+memberID+`"}}}}`))

	rec.Step("fill member "+memberID, clk.Now(), fmt.Errorf("no row for %s born 1961-07-04", lastName))
	if err := rec.Finish(errors.New("submit for " + firstName + " " + lastName + " failed")); err != nil {
		t.Fatal(err)
	}

	needles := []string{
		password, strings.ReplaceAll(password, "!", "%21"), totpSeed, memberID,
		firstName, lastName, "1961-07-04", "07/04/1961", "7/4/1961", "Jul 4, 1961", "07%2F04%2F1961",
		csrfValue, cookieValue, bearerValue, accessToken, otpCode,
	}
	redactedSeen := 0
	err := filepath.WalkDir(s.Dir(), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := strings.ToLower(d.Name())
		for _, n := range needles {
			if strings.Contains(name, strings.ToLower(n)) {
				t.Errorf("file name %s contains %q", path, n)
			}
		}
		if d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		contents := [][]byte{data}
		if ex, err := ParseExchange(data); err == nil {
			contents = append(contents, ex.Body) // base64 in the file: grep it decoded
		}
		for _, c := range contents {
			lower := strings.ToLower(string(c))
			for _, n := range needles {
				if strings.Contains(lower, strings.ToLower(n)) {
					t.Errorf("%s contains %q", d.Name(), n)
				}
			}
			redactedSeen += strings.Count(string(c), Redacted)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if redactedSeen < 20 {
		t.Errorf("only %d redactions on disk; the test data should produce many more", redactedSeen)
	}

	// What must survive redaction: evidence that is not secret.
	m, err := s.Load(rec.ID())
	if err != nil {
		t.Fatal(err)
	}
	read := func(kind string) string {
		t.Helper()
		for _, f := range m.Files() {
			if strings.Contains(f, "-"+kind+"-") {
				b, err := os.ReadFile(filepath.Join(m.Dir, f))
				if err != nil {
					t.Fatal(err)
				}
				return string(b)
			}
		}
		t.Fatalf("no %s artifact", kind)
		return ""
	}
	kept := []struct {
		name, kind, want string
	}{
		{"short value not redacted", "dom", "about the lab"},
		{"cookie names kept", "network", "sid=[REDACTED]; theme=[REDACTED]"},
		{"auth scheme kept", "network", "Bearer [REDACTED]"},
		{"set-cookie attributes kept", "network", "sid=[REDACTED]; Path=/; HttpOnly"},
		{"other form fields kept", "network", "username=office"},
		{"location params", "network", "code=1&session_id=[REDACTED]"},
		{"dom url", "dom", "members/[REDACTED]?token=[REDACTED]"},
		{"password input", "dom", `name="pw" value="[REDACTED]"`},
		{"console log", "log", "member [REDACTED] loaded"},
	}
	for _, k := range kept {
		t.Run(k.name, func(t *testing.T) {
			if got := read(k.kind); !strings.Contains(got, k.want) {
				t.Errorf("%s artifact lacks %q:\n%s", k.kind, k.want, got)
			}
		})
	}
	t.Run("gzip body decoded and redacted", func(t *testing.T) {
		var b []byte
		for _, f := range m.Files() {
			if strings.Contains(f, "member_search") {
				b, err = os.ReadFile(filepath.Join(m.Dir, f))
				if err != nil {
					t.Fatal(err)
				}
			}
		}
		ex, err := ParseExchange(b)
		if err != nil {
			t.Fatal(err)
		}
		want := `{"auth":{"access_token":"[REDACTED]","refresh_token":"[REDACTED]"},"note":"<ok>","patient":{"birthDate":"[REDACTED]","name":"[REDACTED]"}}`
		if string(ex.Body) != want || ex.ResponseHeaders.Get("Content-Encoding") != "" {
			t.Errorf("body = %s (encoding %q), want %s", ex.Body, ex.ResponseHeaders.Get("Content-Encoding"), want)
		}
	})
	t.Run("uploaded file hashed", func(t *testing.T) {
		for _, f := range m.Files() {
			if strings.Contains(f, "upload") {
				b, _ := os.ReadFile(filepath.Join(m.Dir, f))
				if !strings.Contains(string(b), "[file content omitted: 36 bytes, sha256 ") {
					t.Errorf("upload artifact does not hash the file: %s", b)
				}
				return
			}
		}
		t.Error("no upload artifact")
	})
	t.Run("manifest", func(t *testing.T) {
		if m.Error.Message != "submit for [REDACTED] failed" {
			t.Errorf("error message = %q", m.Error.Message)
		}
		if m.Steps[0].Name != "fill member [REDACTED]" || m.Steps[0].Error != "no row for [REDACTED] born [REDACTED]" {
			t.Errorf("step = %+v", m.Steps[0])
		}
	})
}

func TestRedactorValues(t *testing.T) {
	checkRedacts(t, []redactCase{
		{"case-insensitive", []string{"Janet"}, "JANET janet Janet", "[REDACTED] [REDACTED] [REDACTED]"},
		{"overlapping values merge", []string{"Janet", "Janet Quartermaine", "Quartermaine"}, "Janet Quartermaine!", "[REDACTED]!"},
		{"adjacent values", []string{"abc", "def"}, "abcdef", "[REDACTED][REDACTED]"},
		{"short values ignored", []string{"ab", " x "}, "ab x", "ab x"},
		{"trimmed", []string{"  Janet  "}, "Janet", "[REDACTED]"},
		{"html escaped", []string{"O'Brien & Co"}, "O&#39;Brien &amp; Co", "[REDACTED]"},
		{"query escaped", []string{"Jane Doe"}, "q=Jane+Doe&r=Jane%20Doe", "q=[REDACTED]&r=[REDACTED]"},
		{"nbsp", []string{"Jane Doe"}, "Jane&nbsp;Doe", "[REDACTED]"},
		{"json escaped", []string{`a"b<c`}, `{"v":"a\"b\u003cc"}`, `{"v":"[REDACTED]"}`},
		{"non-ascii upper", []string{"José"}, "JOSÉ josé", "[REDACTED] [REDACTED]"},
		{"iso date in us forms", []string{"1961-07-04"}, "07/04/1961 7/4/1961 07-04-1961 19610704 7/4/61", "[REDACTED] [REDACTED] [REDACTED] [REDACTED] [REDACTED]"},
		{"us date in long forms", []string{"07/04/1961"}, "Jul 4, 1961; July 4, 1961; 04 Jul 1961; 1961-07-04", "[REDACTED]; [REDACTED]; [REDACTED]; [REDACTED]"},
		{"unpadded us date", []string{"7/4/1961"}, "1961/07/04", "[REDACTED]"},
		{"abbreviated month with a period", []string{"1961-07-04"}, "JUL. 4, 1961 or 4-Jul-1961", "[REDACTED] or [REDACTED]"},
		{"other dates kept", []string{"1961-07-04"}, "1961-07-05", "1961-07-05"},
	}, func(values []string, in string) string {
		var r redactor
		r.add(values...)
		return r.string(in)
	})
}

func TestRedactHeaderValue(t *testing.T) {
	tests := []struct {
		name, header, in, want string
	}{
		{"bearer", "Authorization", "Bearer abc.def", "Bearer [REDACTED]"},
		{"basic lower-case name", "authorization", "Basic dXNlcjpwYXNz", "Basic [REDACTED]"},
		{"bare token", "Authorization", "abc123", "[REDACTED]"},
		{"proxy", "Proxy-Authorization", "Basic x", "Basic [REDACTED]"},
		{"cookie", "Cookie", "a=1; b=2", "a=[REDACTED]; b=[REDACTED]"},
		{"set-cookie", "Set-Cookie", "sid=abc; Path=/; Secure", "sid=[REDACTED]; Path=/; Secure"},
		{"csrf header", "X-XSRF-TOKEN", "abc", "[REDACTED]"},
		{"api key header", "X-Api-Key", "abc", "[REDACTED]"},
		{"location token", "Location", "/cb?state=1&access_token=abc#frag", "/cb?state=1&access_token=[REDACTED]#frag"},
		{"location user info", "Location", "https://user:pw@h/x", "https://user:[REDACTED]@h/x"},
		{"ordinary header", "Content-Type", "text/html", "text/html"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := redactHeaderValue(tt.header, tt.in); got != tt.want {
				t.Errorf("redactHeaderValue(%q, %q) = %q, want %q", tt.header, tt.in, got, tt.want)
			}
		})
	}
}

func TestRedactBody(t *testing.T) {
	tests := []struct {
		name, contentType, in, want string
	}{
		{"form", "application/x-www-form-urlencoded", "user=a&Password=x&totp_code=1&csrfmiddlewaretoken=q&keep=1",
			"user=a&Password=[REDACTED]&totp_code=[REDACTED]&csrfmiddlewaretoken=[REDACTED]&keep=1"},
		{"form escaped name", "application/x-www-form-urlencoded", "user%5Bpassword%5D=x", "user%5Bpassword%5D=[REDACTED]"},
		{"json nested", "application/fhir+json", `{"a":[{"client_secret":"s"}],"b":1.50}`, `{"a":[{"client_secret":"[REDACTED]"}],"b":1.50}`},
		{"json untouched keeps bytes", "application/json", `{ "b": 1, "a": "<x>" }`, `{ "b": 1, "a": "<x>" }`},
		{"json null secret", "application/json", `{"token":null}`, `{"token":null}`},
		{"oauth token answer", "application/json", `{"access_token":"abc123","token_type":"Bearer","expires_in":3600}`, `{"access_token":"[REDACTED]","expires_in":3600,"token_type":"Bearer"}`},
		{"broken json", "application/json", `{"password": "x", "id_token":"y"`, `{"password": "[REDACTED]", "id_token":"[REDACTED]"`},
		{"sniffed json", "", `{"otp":"123456"}`, `{"otp":"[REDACTED]"}`},
		{"html input single quotes", "text/html", `<INPUT name='otp' value='123'>`, `<INPUT name='otp' value="[REDACTED]">`},
		{"html input untouched", "text/html", `<input name="member" value="1">`, `<input name="member" value="1">`},
		{"multipart no boundary", "multipart/form-data", "x", "[REDACTED] (multipart body without boundary)"},
		{"multipart garbage", "multipart/form-data; boundary=zz", "--zz\r\nbroken", "[REDACTED] (unparseable multipart body)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r redactor
			if got := string(r.body(tt.contentType, []byte(tt.in))); got != tt.want {
				t.Errorf("body = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestUndecodableBodyDropped(t *testing.T) {
	var r redactor
	ex := &Exchange{
		Method: "GET", URL: "http://h/", Status: 200,
		ResponseHeaders: http.Header{"Content-Encoding": {"br"}, "Content-Type": {"text/html"}},
		Body:            []byte{0x8b, 0xff, 0x00, 0x12},
	}
	out := r.exchange(ex)
	if len(out.Body) != 0 || out.ResponseHeaders.Get("Content-Encoding") != "" ||
		!strings.Contains(out.ResponseHeaders.Get("X-Authpilot-Recording"), "body omitted") {
		t.Errorf("exchange = %+v, want the body omitted", out)
	}
	ex.Body = []byte("<p>already decoded</p>")
	if out := r.exchange(ex); string(out.Body) != "<p>already decoded</p>" {
		t.Errorf("decoded body with a br header not kept: %q", out.Body)
	}
}

func TestPatientValues(t *testing.T) {
	got := PatientValues(authpilot.Patient{FirstName: "Jo", LastName: "Smith", MemberID: "M1234", DOB: authpilot.Date{Year: 1990, Month: 1, Day: 2}})
	want := []string{"Jo", "Smith", "M1234", "Jo Smith", "Smith, Jo", "Smith,Jo", "Smith Jo", "1990-01-02"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("PatientValues = %q, want %q", got, want)
	}
}

// BenchmarkRedactPage redacts a 1 MB page for a patient (about 100
// patterns): the cost of one DOM snapshot.
func BenchmarkRedactPage(b *testing.B) {
	var r redactor
	r.add(password, totpSeed)
	r.add(PatientValues(authpilot.Patient{FirstName: firstName, LastName: lastName, MemberID: memberID,
		DOB: authpilot.Date{Year: 1961, Month: 7, Day: 4}})...)
	page := []byte(strings.Repeat("<tr><td>Some other patient, 01/02/1970</td><td>Quartermaine</td></tr>\n", 1<<20/70))
	b.SetBytes(int64(len(page)))
	for b.Loop() {
		r.body("text/html", page)
	}
}

// Thousands of values (a visit registers every polled case's) are all
// replaced, overlapping ones as one span, case aside.
func TestRedactorManyValues(t *testing.T) {
	var r redactor
	var values []string
	for i := range 300 {
		values = append(values, fmt.Sprintf("MBR%06d", i*7919))
	}
	r.add(values...)
	r.add("MBR000000-X", "000079")
	text := "rows: " + strings.Join(values, ", ") + "; mbr000000-x1 and Mbr%006d and mbr"
	got := r.string(text)
	want := "rows: " + strings.Repeat(Redacted+", ", len(values)-1) + Redacted + "; " + Redacted + "1 and Mbr%006d and mbr"
	if got != want {
		t.Fatalf("got  %.200q…\nwant %.200q…", got, want)
	}
	if r.string("nothing here") != "nothing here" || r.string("mb") != "mb" {
		t.Fatal("text without values changed")
	}
}

// The store-wide index holds thousands of names: a name matches only as a
// whole word, so short names do not eat into ordinary words, while member
// IDs, dates and order references match anywhere.
func TestIndexMatchesNamesAsWords(t *testing.T) {
	checkRedacts(t, []redactCase{
		{"name as a word", []string{"Eve"}, "Eve, EVE and eve.", "[REDACTED], [REDACTED] and [REDACTED]."},
		{"name inside a word kept", []string{"Eve", "Dan", "Ray"}, "every level guidance array", "every level guidance array"},
		{"name next to a digit kept", []string{"Eve"}, "eve2 2eve", "eve2 2eve"},
		{"name at punctuation", []string{"Quartermaine"}, "Quartermaine_MRI.pdf (quartermaine)", "[REDACTED]_MRI.pdf ([REDACTED])"},
		{"full name", []string{"Janet Quartermaine"}, "JANET QUARTERMAINE, Janet&nbsp;Quartermaine", "[REDACTED], [REDACTED]"},
		{"member ID inside a longer token", []string{"XYZ123456789"}, "XYZ12345678901 idXYZ123456789", "[REDACTED]01 id[REDACTED]"},
		{"date anywhere", []string{"1961-07-04"}, "dob:07/04/1961;x7/4/61", "dob:[REDACTED];x[REDACTED]"},
	}, func(values []string, in string) string {
		x := NewIndex()
		x.Add(values...)
		return x.Redact(in)
	})
}

// A recording of a store with an index redacts the index's values besides
// its own, in what it writes and in RedactText; its own values still match
// inside words.
func TestRecordingRedactsStoreIndex(t *testing.T) {
	x := NewIndex()
	s, clk := openStore(t, Options{Index: x})
	x.Add(PatientValues(authpilot.Patient{FirstName: "Ola", LastName: "Berg", MemberID: "ZZQ774411903"})...)
	rec := s.Start("summit", "poll")
	rec.Redact("Hunter2")
	page := "<tr><td>Berg, Ola</td><td>ZZQ774411903</td></tr><p>Iceberg xHunter2x</p>"
	if got, want := rec.RedactText(page), "<tr><td>[REDACTED]</td><td>[REDACTED]</td></tr><p>Iceberg x[REDACTED]x</p>"; got != want {
		t.Errorf("RedactText = %q, want %q", got, want)
	}
	rec.Attach("dom", "list", "text/html", DOMSnapshot("http://portal.test/list", []byte(page)))
	rec.Step("list", clk.Now(), nil)
	if err := rec.Finish(nil); err != nil {
		t.Fatal(err)
	}
	assertNotInDir(t, rec.Dir(), "ZZQ774411903", "Berg, Ola", "Hunter2")
}

func assertNotInDir(t *testing.T, dir string, needles ...string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, n := range needles {
			if bytes.Contains(bytes.ToLower(b), bytes.ToLower([]byte(n))) {
				t.Errorf("%s holds %q", filepath.Base(p), n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

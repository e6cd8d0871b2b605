// Package recordings keeps the evidence of every connector run — a step log
// with timings, screenshots, DOM snapshots and network exchanges, redacted
// before anything touches disk — and replays recorded portal pages and API
// calls over HTTP so a browser flow or an API connector can be tested
// offline.
//
// # Layout
//
// A Store owns a directory. Store.Start begins a recording; its directory is
// created on the first write:
//
//	<dir>/<YYYYMMDD>/<id>/         day of the start, UTC; id is "rec_" + ULID
//	    steps.jsonl                one JSON line per event, appended as it happens
//	    001-network-login.json     artifacts, "NNN-<kind>-<name>", NNN in attach order
//	    002-screenshot-login.png
//	    003-dom-login.html
//	    manifest.json              written last, by Finish
//
// Directories are 0700 and files 0600. Every file is written to a temporary
// name and renamed, and manifest.json is written last, so a process killed
// mid-run leaves a readable partial recording: Load rebuilds it from
// steps.jsonl and reports Outcome "incomplete".
//
// The first line of steps.jsonl is {"event":"start","id":…,"connector":…,
// "job":…,"started":…}; each later line is {"event":"step", …} with the
// fields of a manifest step. The manifest is:
//
//	{"id":"rec_01J…","connector":"carelon","job":"poll",
//	 "started":"…","finished":"…","outcome":"ok"|"error",
//	 "error":{"class":"portal_changed","message":"…"},
//	 "steps":[{"n":1,"name":"login","start":"…","duration_ms":812,
//	           "error":"…","class":"…","artifacts":["001-network-login.json"]}],
//	 "artifacts":["009-screenshot-failure.png"]}
//
// # Steps and artifacts
//
// A step is logged when it ends (Recorder.Step carries its error); an
// artifact belongs to the step logged after it. So a connector attaches what
// it captures while a step runs (network exchanges, a screenshot of the page
// it reached) and then calls Step. Artifacts attached after the last step
// (for example the screenshot of a failure, attached by the agent) are listed
// in the manifest's top-level "artifacts". Wants answers per Options:
// screenshots, DOM snapshots and other kinds per Capture ("all" or
// "on_failure"), network exchanges per Network (kept always by default,
// since replay needs them). Transport records the exchanges of an API
// client the same way, into the recorder of each request's context
// (WithRecorder): the fhirpas connector's recordings replay like a portal's.
//
// # Network exchanges
//
// A "network" artifact is one HTTP exchange, JSON-encoded as an Exchange:
//
//	{"method":"GET",
//	 "url":"http://127.0.0.1:1234/auth/list?page=2",
//	 "status":200,
//	 "request_headers":{"Accept":["text/html"]},
//	 "request_body":"…",
//	 "response_headers":{"Content-Type":["text/html; charset=utf-8"]},
//	 "body_base64":"PGh0bWw+…",
//	 "started":"2026-03-02T14:05:01.123456789Z",
//	 "duration_ms":12}
//
// (and "error", when an exchange got no response or an incomplete one).
//
// Header values are arrays of strings (a single string is accepted when
// reading). body_base64 is the decoded response body (after any
// Content-Encoding), standard base64. Decoding is strict: a network
// attachment with unknown fields is not an Exchange. If it is JSON it is
// kept as evidence, redacted as JSON (sensitive keys, header-like keys,
// URL parameters, registered values), but replay skips it; if it is not
// JSON it is dropped.
//
// # Redaction
//
// Every value registered with Recorder.Redact is replaced by [REDACTED] in
// step names and errors, DOM snapshots, artifact names, and network URLs,
// headers and bodies, before anything is written. Matching is ASCII
// case-insensitive and also finds the value HTML-, URL- and JSON-escaped; a
// value that parses as a date (YYYY-MM-DD, MM/DD/YYYY, M/D/YYYY) is also
// looked for in the other usual spellings (01/02/2006, 1/2/06, 20060102,
// Jan 2, 2006, …). Values shorter than 3 characters are ignored: they
// would match everywhere and say little. A store opened with an Index
// (Options.Index) also redacts the index's values in every recording: the
// agent keeps the PHI of every case it holds there, since a payer's list
// page shows other patients than the ones a visit polls. An index's values
// without a digit (names) match only as whole words. Independently of registered values,
// the Authorization, Proxy-Authorization, Cookie and Set-Cookie header values,
// headers, query parameters, form fields (url-encoded and multipart), JSON
// keys and HTML input/meta fields whose name contains password, passcode,
// token, secret, otp, csrf, xsrf, apikey or sessionid are always redacted
// (OAuth2's token_type, "Bearer", is kept);
// uploaded files in multipart bodies are replaced by their size and SHA-256.
//
// Screenshots and binary response bodies (images, PDFs) cannot be
// text-redacted and may show PHI. The portal connector masks the page's
// text that holds a redacted value before each screenshot
// (Recording.RedactText), which leaves images, canvas, values split across
// elements and values never registered. They live only under the data directory,
// in 0700 directories and 0600 files, and are removed by Prune with the rest.
//
// # Replay
//
// NewReplay builds an http.Handler that serves a recording's responses again:
// requests are matched by method, path and query (order-insensitive; a
// recorded [REDACTED] value matches anything), repeated requests are answered
// in recorded order and then with the last answer, and POSTs are matched by
// method and path and, where that is ambiguous, by their form fields (CSRF,
// secret and redacted fields ignored; a JSON body's scalars at any depth). Absolute URLs to the recorded origins
// in bodies and headers (Location) are rewritten to the replay server's own
// origin. Set-Cookie values were redacted, so replay serves every page
// regardless of session: it never depends on cookies. An unknown request gets
// a 404 naming the nearest recorded request.
package recordings

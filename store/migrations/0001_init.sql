-- 0001: the initial schema. Timestamps are UTC text in a fixed-width
-- RFC 3339 form (nine fraction digits), so text order is time order.

CREATE TABLE cases (
	id           TEXT PRIMARY KEY,
	status       TEXT NOT NULL,
	payer        TEXT NOT NULL DEFAULT '',
	connector    TEXT NOT NULL DEFAULT '',
	track        TEXT NOT NULL DEFAULT '',
	episode      TEXT NOT NULL DEFAULT '',
	external_ref TEXT NOT NULL DEFAULT '',
	version      INTEGER NOT NULL,
	created_at   TEXT NOT NULL,
	updated_at   TEXT NOT NULL,
	data         TEXT NOT NULL CHECK (json_valid(data))
);
CREATE INDEX cases_created ON cases (created_at);
CREATE INDEX cases_status ON cases (status, created_at);
CREATE INDEX cases_payer ON cases (payer, created_at);
CREATE INDEX cases_connector ON cases (connector, created_at);
CREATE INDEX cases_episode ON cases (episode, created_at);
CREATE INDEX cases_external_ref ON cases (external_ref);

CREATE TABLE events (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	case_id     TEXT NOT NULL REFERENCES cases (id),
	at          TEXT NOT NULL,
	type        TEXT NOT NULL,
	actor       TEXT NOT NULL DEFAULT '',
	from_status TEXT NOT NULL DEFAULT '',
	to_status   TEXT NOT NULL DEFAULT '',
	raw_text    TEXT NOT NULL DEFAULT '',
	recording   TEXT NOT NULL DEFAULT '',
	detail      TEXT CHECK (detail IS NULL OR json_valid(detail))
);
CREATE INDEX events_case ON events (case_id, id);

-- History is append-only.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
	SELECT RAISE(ABORT, 'events are append-only');
END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
	SELECT RAISE(ABORT, 'events are append-only');
END;

-- One row per (content, case, kind, name); the content itself is a file
-- named by sha256 and shared by every row that names it. case_id is '' for
-- a document that belongs to no case (a portal screenshot).
CREATE TABLE documents (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	sha256       TEXT NOT NULL CHECK (length(sha256) = 64),
	case_id      TEXT NOT NULL DEFAULT '',
	kind         TEXT NOT NULL DEFAULT '',
	name         TEXT NOT NULL DEFAULT '',
	content_type TEXT NOT NULL DEFAULT '',
	size         INTEGER NOT NULL,
	created_at   TEXT NOT NULL,
	UNIQUE (sha256, case_id, kind, name)
);
CREATE INDEX documents_case ON documents (case_id, id);

CREATE TABLE deadlines (
	case_id TEXT NOT NULL REFERENCES cases (id),
	kind    TEXT NOT NULL,
	due     TEXT NOT NULL,
	rule    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX deadlines_case ON deadlines (case_id, due);
CREATE INDEX deadlines_due ON deadlines (due, case_id);

-- The outbox. seq is the order alerts were raised in; a non-NULL
-- dedup_key fires at most once ever.
CREATE TABLE alerts (
	seq       INTEGER PRIMARY KEY AUTOINCREMENT,
	id        TEXT NOT NULL UNIQUE,
	dedup_key TEXT UNIQUE,
	case_id   TEXT NOT NULL DEFAULT '',
	type      TEXT NOT NULL,
	at        TEXT NOT NULL,
	payload   TEXT NOT NULL CHECK (json_valid(payload)),
	routed    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX alerts_unrouted ON alerts (seq) WHERE routed = 0;
CREATE INDEX alerts_case ON alerts (case_id);

CREATE TABLE deliveries (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	alert_seq    INTEGER NOT NULL REFERENCES alerts (seq),
	sink         TEXT NOT NULL,
	state        TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt TEXT NOT NULL,
	last_error   TEXT NOT NULL DEFAULT '',
	delivered_at TEXT,
	UNIQUE (alert_seq, sink)
);
CREATE INDEX deliveries_pending ON deliveries (sink, alert_seq) WHERE state = 'pending';

CREATE TABLE disabled_sinks (
	sink        TEXT PRIMARY KEY,
	reason      TEXT NOT NULL,
	disabled_at TEXT NOT NULL
);

CREATE TABLE job_runs (
	job      TEXT PRIMARY KEY,
	last_run TEXT NOT NULL
);

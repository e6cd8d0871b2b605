-- 0006: the access log. A search or lookup of cases by text that can
-- match PHI (a patient's name, a member ID, an order reference) is
-- recorded with who made it, when, what kind of field it matched and the
-- cases it returned; the text searched for is never stored. Append-only.

CREATE TABLE access_log (
	id       INTEGER PRIMARY KEY AUTOINCREMENT,
	at       TEXT NOT NULL,
	actor    TEXT NOT NULL,
	action   TEXT NOT NULL,
	matched  TEXT NOT NULL DEFAULT '',
	case_ids TEXT NOT NULL CHECK (json_valid(case_ids))
);
CREATE INDEX access_log_at ON access_log (at);

CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log
BEGIN
	SELECT RAISE(ABORT, 'the access log is append-only');
END;
CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log
BEGIN
	SELECT RAISE(ABORT, 'the access log is append-only');
END;

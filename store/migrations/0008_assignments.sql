-- 0008: who in the workspace has taken a case ("assign to me"). One
-- person per case at most; the row goes when the case is unassigned.

CREATE TABLE assignments (
	case_id   TEXT PRIMARY KEY REFERENCES cases (id),
	user_name TEXT NOT NULL,
	by_name   TEXT NOT NULL,
	at        TEXT NOT NULL
);
CREATE INDEX assignments_user ON assignments (user_name);

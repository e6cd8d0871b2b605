-- 0004: idempotent intake. An open case's external_ref is unique per
-- payer (checked in CreateCase's transaction; this index makes it quick),
-- and API requests made with an Idempotency-Key are kept with a hash of
-- the request and what was answered.

CREATE INDEX cases_payer_ref ON cases (payer, external_ref) WHERE external_ref != '';

CREATE TABLE idempotency_keys (
	key          TEXT PRIMARY KEY,
	route        TEXT NOT NULL,
	request_hash TEXT NOT NULL CHECK (length(request_hash) = 64),
	status       INTEGER NOT NULL,
	case_id      TEXT NOT NULL DEFAULT '',
	body         BLOB,
	created_at   TEXT NOT NULL
);

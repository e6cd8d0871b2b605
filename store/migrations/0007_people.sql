-- 0007: the people of the workspace. Local accounts with a role and a
-- password hash (never the password), their sign-in sessions and their
-- API tokens (each stored as the SHA-256 of the token, never the token),
-- and where an access-log read came from.

CREATE TABLE users (
	name          TEXT PRIMARY KEY,
	role          TEXT NOT NULL CHECK (role IN ('admin', 'coordinator', 'viewer')),
	password_hash TEXT NOT NULL,
	disabled      INTEGER NOT NULL DEFAULT 0,
	failures      INTEGER NOT NULL DEFAULT 0,
	locked_until  TEXT NOT NULL DEFAULT '',
	created_at    TEXT NOT NULL
);

CREATE TABLE sessions (
	id_hash    TEXT PRIMARY KEY,
	user_name  TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
	created_at TEXT NOT NULL,
	last_seen  TEXT NOT NULL,
	remote     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_name);

CREATE TABLE api_tokens (
	token_hash TEXT PRIMARY KEY,
	user_name  TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
	label      TEXT NOT NULL DEFAULT '',
	created_at TEXT NOT NULL
);

ALTER TABLE access_log ADD COLUMN source TEXT NOT NULL DEFAULT '';

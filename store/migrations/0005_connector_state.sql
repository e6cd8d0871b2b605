-- What the agent remembers about each connector's logins (pauses for a
-- person, Retry-After holds, recent login attempts), as one JSON document
-- per connector, so every process and every restart honours it.
CREATE TABLE connector_state (
	connector  TEXT PRIMARY KEY,
	state      TEXT NOT NULL CHECK (json_valid(state)),
	updated_at TEXT NOT NULL
);

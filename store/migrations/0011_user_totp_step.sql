-- 0011: the last TOTP step a person signed in with, so that a code is
-- refused again in its window even after the daemon restarts (0: none).

ALTER TABLE users ADD COLUMN totp_step INTEGER NOT NULL DEFAULT 0;

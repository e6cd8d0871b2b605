-- 0009: a person who signs in with a second factor: their TOTP seed is in
-- the keyring (user-totp-<name>), never here; this only says it is asked.

ALTER TABLE users ADD COLUMN totp INTEGER NOT NULL DEFAULT 0;

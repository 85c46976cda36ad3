-- Second factors. TOTP secrets are sealed (AES-256-GCM, AAD = user id) by the
-- application; a new secret waits in pending_sealed until its first correct code.
CREATE TABLE mfa_totp (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    secret_sealed TEXT,
    confirmed_at INTEGER,
    -- Highest time step accepted, so a code is never accepted twice.
    last_step INTEGER,
    pending_sealed TEXT,
    pending_created_at INTEGER
);

CREATE TABLE mfa_settings (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    email_enabled INTEGER NOT NULL DEFAULT 0,
    phone TEXT,
    preferred TEXT
);

CREATE TABLE backup_codes (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    used_at INTEGER,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE trusted_devices (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    ua_summary TEXT NOT NULL,
    ip TEXT,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX trusted_devices_by_user ON trusted_devices(user_id);

CREATE TABLE auth_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    user_id TEXT,
    email TEXT,
    kind TEXT NOT NULL,
    success INTEGER NOT NULL,
    reason TEXT NOT NULL,
    method TEXT,
    ip TEXT,
    user_agent TEXT,
    detail TEXT
);
CREATE INDEX auth_events_by_user ON auth_events(user_id, at);
CREATE INDEX auth_events_by_time ON auth_events(at);

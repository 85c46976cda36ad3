-- Completed sign-ins, newest last; the application keeps only the last
-- [sign_in] history rows per user (pruned in the inserting transaction).
CREATE TABLE sign_ins (
    id BIGSERIAL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    ip TEXT,
    -- The IPv4 /24 or IPv6 /64 of ip, e.g. 203.0.113.0/24.
    network TEXT,
    -- "Chrome on Linux": for people, not for matching.
    browser TEXT NOT NULL,
    -- SHA-256 of the browser cookie; the cookie itself is never stored.
    browser_hash TEXT NOT NULL,
    -- password | totp | email | sms | backup_code | trusted_device
    method TEXT NOT NULL,
    new_browser BIGINT NOT NULL DEFAULT 0,
    new_network BIGINT NOT NULL DEFAULT 0
);

CREATE INDEX sign_ins_by_user ON sign_ins(user_id, id);

-- The admin console: MFA reset requests (four eyes), the re-enrolment links that
-- executed resets e-mail, bulk resets with a result per user, and group suspensions.
CREATE TABLE reset_requests (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- An admin's user id, or `cli`.
    requested_by TEXT NOT NULL,
    requested_by_email TEXT NOT NULL,
    reason TEXT NOT NULL,
    -- full | totp | backup_codes
    scope TEXT NOT NULL,
    -- high | medium | low
    urgency TEXT NOT NULL,
    -- The target was privileged when the request was made: only a secadmin decides.
    privileged BIGINT NOT NULL DEFAULT 0,
    -- pending | approved | executed | rejected | expired
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- A pending request not approved by then is expired.
    expires_at BIGINT NOT NULL,
    decided_by TEXT,
    decided_by_email TEXT,
    decided_at BIGINT,
    decision_note TEXT,
    executed_by TEXT,
    executed_by_email TEXT,
    executed_at BIGINT,
    -- Set for the requests a bulk reset made.
    bulk_job TEXT
);
CREATE INDEX reset_requests_by_state ON reset_requests(state, created_at);
CREATE INDEX reset_requests_by_user ON reset_requests(user_id);

-- Only the SHA-256 of a link's token is stored.
CREATE TABLE reenrol_links (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    request_id TEXT,
    -- valid | in_progress | consumed | superseded
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    started_at BIGINT,
    consumed_at BIGINT
);
CREATE INDEX reenrol_links_by_user ON reenrol_links(user_id);

CREATE TABLE bulk_jobs (
    id TEXT PRIMARY KEY NOT NULL,
    created_by TEXT NOT NULL,
    created_by_email TEXT NOT NULL,
    -- group | department
    selector_kind TEXT NOT NULL,
    selector TEXT NOT NULL,
    scope TEXT NOT NULL,
    reason TEXT NOT NULL,
    -- running | done
    state TEXT NOT NULL,
    total BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);

-- One row per user chosen when the job was created; a retry only redoes the rows
-- that are not done.
CREATE TABLE bulk_results (
    job_id TEXT NOT NULL REFERENCES bulk_jobs(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    email TEXT NOT NULL,
    -- pending | done | failed
    state TEXT NOT NULL,
    detail TEXT,
    done_at BIGINT,
    PRIMARY KEY (job_id, user_id)
);

CREATE TABLE group_suspensions (
    group_name TEXT PRIMARY KEY NOT NULL,
    reason TEXT NOT NULL,
    suspended_by TEXT NOT NULL,
    suspended_at BIGINT NOT NULL
);

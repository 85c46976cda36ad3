-- The phased MFA rollout: per-user nudge state and the reminder e-mails sent.
CREATE TABLE mfa_rollout (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- No "we recommend MFA" page before this time.
    snoozed_until INTEGER,
    -- Sign-ins that skipped the countdown towards grace_deadline; a new deadline
    -- starts the count again.
    grace_used INTEGER NOT NULL DEFAULT 0,
    grace_deadline INTEGER,
    -- Set when the enrolment wizard starts, cleared when it completes or is
    -- counted as abandoned.
    wizard_started_at INTEGER
);

CREATE INDEX mfa_rollout_wizard ON mfa_rollout(wizard_started_at);

-- One row per reminder: the insert is the claim, so each is sent at most once
-- even when several gateways run the job.
CREATE TABLE enrollment_notices (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    deadline INTEGER NOT NULL,
    days INTEGER NOT NULL,
    claimed_at INTEGER NOT NULL,
    -- claimed | sent | superseded
    state TEXT NOT NULL,
    PRIMARY KEY (user_id, deadline, days)
);

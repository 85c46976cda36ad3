-- The audit log: who did what to whom, from where, for the admin console, exports
-- and `sekisho audit verify`.
--
-- Append-only: nothing in Sekisho updates or deletes these rows. Each row carries the
-- SHA-256 of the previous row's hash and its own contents (see auth/src/audit.rs), so
-- a row that is edited, removed or renumbered after the fact breaks the chain and
-- `sekisho audit verify` names it. `seq` is assigned by the appender (head + 1), not
-- by the database: the primary key makes two writers that read the same head collide,
-- and the loser re-reads the head, so the chain never forks.
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY NOT NULL,
    at BIGINT NOT NULL,
    -- An admin's e-mail, `cli`, `system`, or the user's own e-mail.
    actor TEXT NOT NULL,
    -- helpdesk | sysadmin | secadmin | auditor | user | cli | system
    actor_role TEXT,
    action TEXT NOT NULL,
    -- The target user's e-mail, a group, or a reset request id.
    target TEXT,
    ip TEXT,
    request_id TEXT,
    -- A JSON object, stored as the text that was hashed.
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_by_at ON audit_log(at);
CREATE INDEX audit_log_by_actor ON audit_log(actor);
CREATE INDEX audit_log_by_target ON audit_log(target);
CREATE INDEX audit_log_by_action ON audit_log(action);

-- The gateway's request id of each auth event (the id error pages show and the logs
-- carry), so the admin console's event view finds the event a user quotes. NULL for
-- events recorded outside a request (background jobs) and before this migration.
ALTER TABLE auth_events ADD COLUMN request_id TEXT;
CREATE INDEX auth_events_by_request ON auth_events(request_id);

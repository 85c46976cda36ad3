-- Self-service recovery: a user who can use none of their factors asks for an MFA
-- reset from the challenge page. The request joins the admin queue like any other;
-- these columns say where it came from and how the helpdesk can reach the user.
ALTER TABLE reset_requests ADD COLUMN origin TEXT NOT NULL DEFAULT 'admin';
-- lost_device | new_phone | app_removed | other (self-service requests only)
ALTER TABLE reset_requests ADD COLUMN situation TEXT;
ALTER TABLE reset_requests ADD COLUMN contact TEXT;
CREATE INDEX reset_requests_by_origin ON reset_requests(user_id, origin, created_at);
-- At most one open request per user, even when two are filed at the same moment.
CREATE UNIQUE INDEX reset_requests_one_open ON reset_requests(user_id) WHERE state IN ('pending', 'approved');

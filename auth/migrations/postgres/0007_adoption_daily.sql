-- One MFA adoption snapshot per UTC day, written by the gateways' adoption refresh
-- (the last refresh of a day wins), for the admin console's adoption-over-time chart.
CREATE TABLE adoption_daily (
    -- Unix time of 00:00 UTC.
    day BIGINT NOT NULL,
    -- '' for all users (each once); `(none)` for users in no group.
    group_name TEXT NOT NULL,
    -- any | totp | email | sms | backup_codes
    method TEXT NOT NULL,
    users BIGINT NOT NULL,
    enrolled BIGINT NOT NULL,
    PRIMARY KEY (day, group_name, method)
);

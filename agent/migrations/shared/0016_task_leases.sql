-- Site-wide chores that one agent replica does at a time (the expiry
-- notice check): which replica holds each, and until when (epoch
-- milliseconds). A replica that stops renewing leaves it to another.
CREATE TABLE task_leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    lease_until BIGINT NOT NULL
);

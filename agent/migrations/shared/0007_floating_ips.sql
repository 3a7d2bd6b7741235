-- Floating IPs held by projects; the primary key on the address keeps one
-- from being handed out twice. A target makes the project's gateway NAT it
-- 1-to-1 to that private address.
CREATE TABLE floating_ips (
    address TEXT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    project_id TEXT NOT NULL REFERENCES projects(id),
    target_ip TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Bare-metal servers assigned to projects: the primary key on the server's
-- inventory name is what keeps a server from being handed out twice.
CREATE TABLE bms_assignments (
    bms TEXT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    project_id TEXT NOT NULL REFERENCES projects(id),
    -- The netN slot of the project gateway's VM the server's VLAN is plugged into.
    pagw_nic BIGINT,
    -- JSON of the desired assignment spec (power, ISO, release policy).
    spec TEXT NOT NULL,
    status TEXT NOT NULL,
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Servers that failed their release: kept out of the pool, with the reason.
CREATE TABLE bms_quarantine (
    bms TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    since TEXT NOT NULL
);

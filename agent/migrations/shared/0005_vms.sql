-- Project VMs: one row per VM, named uniquely within its project. `status`
-- records how far the create operation got.
CREATE TABLE vms (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id),
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    node TEXT NOT NULL,
    vmid BIGINT NOT NULL UNIQUE,
    -- JSON of the desired VM spec.
    spec TEXT NOT NULL,
    status TEXT NOT NULL,
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (project_id, name_key)
);

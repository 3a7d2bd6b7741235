-- Project gateways (PAGW): one per project, in one PAGW slot, as one VM.
-- `status` records how far the create operation got, so an interrupted
-- operation resumes where it stopped.
CREATE TABLE gateways (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL UNIQUE REFERENCES projects(id),
    slot_ip TEXT NOT NULL UNIQUE,
    vmid BIGINT NOT NULL UNIQUE,
    node TEXT NOT NULL,
    -- JSON of the desired GatewaySpec.
    spec TEXT NOT NULL,
    status TEXT NOT NULL,
    last_error TEXT,
    wireguard_public_key TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Every Proxmox VM id the agent handed out: PVE's nextid gives the same id
-- to concurrent callers, so the agent allocates ids itself.
CREATE TABLE vmid_allocations (
    vmid BIGINT PRIMARY KEY,
    owner_kind TEXT NOT NULL,
    owner_id TEXT NOT NULL
);

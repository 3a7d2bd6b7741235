-- Project VLAN pools (from the site inventory), projects, the allocation
-- ledger, and the request log that makes mutating calls idempotent.
CREATE TABLE vlan_pools (
    name TEXT PRIMARY KEY,
    purpose TEXT NOT NULL,
    first_vlan BIGINT NOT NULL,
    last_vlan BIGINT NOT NULL,
    -- JSON array of VLAN ids never handed out.
    reserved TEXT NOT NULL
);

-- One row per VLAN in use anywhere on the site: the primary key is what
-- guarantees no VLAN is ever handed out twice.
CREATE TABLE vlan_allocations (
    vlan BIGINT PRIMARY KEY,
    pool TEXT NOT NULL REFERENCES vlan_pools(name),
    owner_kind TEXT NOT NULL,
    owner_id TEXT NOT NULL
);

CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    -- Lower-cased name: names are unique regardless of case.
    name_key TEXT NOT NULL UNIQUE,
    description TEXT,
    owner TEXT,
    expires_on TEXT,
    -- JSON array of {"user", "role"}.
    members TEXT NOT NULL,
    vlan_pool TEXT NOT NULL,
    vlan BIGINT NOT NULL UNIQUE REFERENCES vlan_allocations(vlan),
    connection_group_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE request_log (
    request_id TEXT PRIMARY KEY,
    method TEXT NOT NULL,
    response BYTEA NOT NULL,
    created_at TEXT NOT NULL
);

-- Tenancy: the people who may call the agent, the certificates issued to
-- them, their quotas, and the append-only audit trail.
CREATE TABLE principals (
    -- The person's Guacamole user name, also the certificates' common name.
    name TEXT PRIMARY KEY,
    -- "operator" or "user".
    role TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- Every client certificate the agent's CA issued; a call is served only
-- for a serial recorded here and not revoked.
CREATE TABLE certificates (
    serial TEXT PRIMARY KEY,
    principal TEXT NOT NULL REFERENCES principals(name),
    issued_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT
);

-- An operator's quota for one principal; a NULL limit takes agent.toml's
-- default.
CREATE TABLE quotas (
    principal TEXT PRIMARY KEY REFERENCES principals(name),
    projects BIGINT,
    vms BIGINT,
    vcpus BIGINT,
    memory_gb BIGINT,
    servers BIGINT,
    floating_ips BIGINT
);

-- Who made the project: its owner when the spec names none.
ALTER TABLE projects ADD COLUMN created_by TEXT;

-- One row per call that changed (or tried to change) something. Never
-- updated, pruned only after agent.toml's [audit] keep_days.
CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    at TEXT NOT NULL,
    principal TEXT NOT NULL,
    serial TEXT NOT NULL,
    rpc TEXT NOT NULL,
    object TEXT NOT NULL,
    project_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    outcome TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);

-- What the devices were asked to do on behalf of an audited call, also
-- after the call answered (long operations run on).
CREATE TABLE audit_device_actions (
    id BIGSERIAL PRIMARY KEY,
    audit_id BIGINT NOT NULL REFERENCES audit_log(id),
    at TEXT NOT NULL,
    device TEXT NOT NULL,
    action TEXT NOT NULL,
    result TEXT NOT NULL
);
CREATE INDEX audit_device_actions_audit ON audit_device_actions (audit_id);

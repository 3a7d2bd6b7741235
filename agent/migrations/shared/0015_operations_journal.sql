-- The operations journal: the latest long operation of each object (a
-- gateway, VM, server assignment or floating IP), how far it got, and the
-- agent replica holding its lease. An operation runs only under a live
-- lease; every lease taken raises `fence`, so a replica that lost its lease
-- can write nothing more.
CREATE TABLE operations (
    object_kind TEXT NOT NULL,
    object_id TEXT NOT NULL,
    -- converge | delete
    op TEXT NOT NULL,
    -- queued | running | done | failed | abandoned
    state TEXT NOT NULL,
    step TEXT NOT NULL DEFAULT '',
    -- Raised by every request that changes what the operation must reach.
    generation BIGINT NOT NULL DEFAULT 1,
    attempts BIGINT NOT NULL DEFAULT 0,
    -- JSON of the last failure (reason, message, hint).
    error TEXT,
    -- Epoch milliseconds: a failure a retry may cure is retried after it.
    retry_at BIGINT,
    -- What a finished operation has to tell (a release's warning).
    note TEXT NOT NULL DEFAULT '',
    holder TEXT,
    -- Epoch milliseconds.
    lease_until BIGINT,
    fence BIGINT NOT NULL DEFAULT 0,
    request_id TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (object_kind, object_id)
);
CREATE INDEX operations_by_state ON operations (state);

-- Operations an older agent left unfinished are resumed like any other.
INSERT INTO operations (object_kind, object_id, op, state, created_at, updated_at)
SELECT 'gateway', id, CASE status WHEN 'deleting' THEN 'delete' ELSE 'converge' END, 'queued', updated_at, updated_at
FROM gateways WHERE status NOT IN ('ready', 'failed');
INSERT INTO operations (object_kind, object_id, op, state, created_at, updated_at)
SELECT 'vm', id, CASE status WHEN 'deleting' THEN 'delete' ELSE 'converge' END, 'queued', updated_at, updated_at
FROM vms WHERE status NOT IN ('ready', 'failed');
INSERT INTO operations (object_kind, object_id, op, state, created_at, updated_at)
SELECT 'server', id, CASE status WHEN 'releasing' THEN 'delete' ELSE 'converge' END, 'queued', updated_at, updated_at
FROM bms_assignments WHERE status NOT IN ('ready', 'failed');
INSERT INTO operations (object_kind, object_id, op, state, created_at, updated_at)
SELECT 'floating_ip', id, 'delete', 'queued', releasing_since, releasing_since
FROM floating_ips WHERE releasing_since IS NOT NULL;

-- One server per NIC slot of a gateway VM, also across agent replicas.
CREATE UNIQUE INDEX bms_gateway_nic ON bms_assignments (pagw_id, pagw_nic);

-- A request id is bound to its content: the same id with other content is
-- refused.
ALTER TABLE request_log ADD COLUMN fingerprint TEXT NOT NULL DEFAULT '';

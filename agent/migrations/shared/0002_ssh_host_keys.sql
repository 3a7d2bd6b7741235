-- SSH host keys pinned on first use, per endpoint (host:port).
CREATE TABLE ssh_host_keys (
    endpoint TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    pinned_at TEXT NOT NULL
);

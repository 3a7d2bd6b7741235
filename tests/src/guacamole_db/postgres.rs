//! The PostgreSQL flavor: the administrator is `postgres` over the unix
//! socket (trust); the agent is `giif` over TCP with a password
//! (scram-sha-256), owning nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{run_client, scratch, template, AGENT_PASSWORD, AGENT_USER, DATABASE};
use crate::pg_server::{self, PgServer};
use crate::system_user::give_to;

/// As Guacamole's documentation has operators set up the database user.
fn agent_setup() -> String {
    format!(
        "CREATE USER {AGENT_USER} WITH PASSWORD '{AGENT_PASSWORD}';\n\
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {AGENT_USER};\n\
         GRANT SELECT, USAGE ON ALL SEQUENCES IN SCHEMA public TO {AGENT_USER};\n"
    )
}

/// The administrator over the socket, the agent over TCP with a password.
/// 1 MB WAL segments (and few kept): less to copy per server.
const INITDB: [&str; 3] = [
    "--auth-local=trust",
    "--auth-host=scram-sha-256",
    "--wal-segsize=1",
];
const SETTINGS: [&str; 1] = ["min_wal_size=2MB"];

pub(super) struct Postgres {
    // Declared before `dir`: the server stops before its files go.
    server: PgServer,
    dir: tempfile::TempDir,
}

impl Postgres {
    pub(super) fn start(schema: &[PathBuf; 2]) -> Self {
        let dir = scratch::temp_dir("giif-guac-postgres");
        give_to("postgres", dir.path());
        template::copy_to(
            "postgres",
            &key(schema),
            |work| build(work, schema),
            dir.path(),
        );
        let server = PgServer::start(dir.path(), &SETTINGS);
        Self { server, dir }
    }

    pub(super) fn port(&self) -> u16 {
        self.server.port
    }

    pub(super) fn sql(&self, statement: &str) -> Result<String, String> {
        run_client(psql(self.dir.path(), self.server.port, DATABASE), statement)
    }
}

/// What the template depends on.
fn key(schema: &[PathBuf; 2]) -> Vec<Vec<u8>> {
    let server = template::binary_identity(&pg_server::bin_dir().join("postgres"));
    let mut key = vec![
        server,
        agent_setup().into_bytes(),
        INITDB.join(" ").into_bytes(),
        SETTINGS.join(" ").into_bytes(),
    ];
    key.extend(
        schema
            .iter()
            .map(|f| std::fs::read(f).expect("read the schema")),
    );
    key
}

/// Initializes `work/data`, loads the schema and the agent's account, and
/// shuts the server down cleanly.
fn build(work: &Path, schema: &[PathBuf; 2]) {
    give_to("postgres", work);
    pg_server::initdb(&work.join("data"), &INITDB);
    let server = PgServer::start(work, &SETTINGS);
    run_client(
        psql(work, server.port, "postgres"),
        &format!("CREATE DATABASE {DATABASE};"),
    )
    .unwrap_or_else(|e| panic!("CREATE DATABASE failed: {e}"));
    // As `psql -d guacamole_db -f 001-create-schema.sql -f 002-create-admin-user.sql`.
    let mut load = psql(work, server.port, DATABASE);
    for file in schema {
        load.arg("-f").arg(file);
    }
    run_client(load, "").unwrap_or_else(|e| panic!("loading the Guacamole schema failed: {e}"));
    run_client(psql(work, server.port, DATABASE), &agent_setup())
        .unwrap_or_else(|e| panic!("creating the agent's account failed: {e}"));
    server.shut_down();
}

/// psql as the administrator over the socket in `dir`: unaligned,
/// tab-separated rows without headers or command tags, stopping at the
/// first error.
fn psql(dir: &Path, port: u16, database: &str) -> Command {
    let mut psql = Command::new(pg_server::bin_dir().join("psql"));
    psql.args(["-X", "-q", "-A", "-t", "-F", "\t", "-P", "null=NULL"])
        .args(["-v", "ON_ERROR_STOP=1", "-h"])
        .arg(dir)
        .args(["-p", &port.to_string(), "-U", "postgres", "-d", database]);
    psql
}

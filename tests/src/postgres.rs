//! A throwaway PostgreSQL server on loopback in a temporary directory, for
//! the agent's store: trust authentication, one database per `database()`.

use std::process::Stdio;

use crate::pg_server::{self, PgServer};
use crate::system_user::give_to;

pub struct TestPostgres {
    // Declared before `dir`: the server stops before its files go.
    server: PgServer,
    _dir: tempfile::TempDir,
    pub port: u16,
}

impl TestPostgres {
    pub fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("giif-pg")
            .tempdir()
            .expect("temp dir");
        give_to("postgres", dir.path());
        pg_server::initdb(&dir.path().join("data"), &["--auth=trust"]);
        let server = PgServer::start(dir.path(), &["max_connections=200"]);
        Self {
            port: server.port,
            server,
            _dir: dir,
        }
    }

    /// A fresh database on this server.
    pub fn database(&self, name: &str) -> String {
        let status = pg_server::tool("createdb")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.server.port.to_string(),
                "-U",
                "postgres",
                name,
            ])
            .stdout(Stdio::null())
            .status()
            .expect("run createdb");
        assert!(status.success(), "createdb {name} failed");
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }
}

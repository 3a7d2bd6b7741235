//! A throwaway PostgreSQL server on loopback in a temporary directory, for
//! the agent's store: trust authentication, one database per `database()`;
//! or one that takes only TLS connections, with a certificate we issue.

use std::process::Stdio;

use crate::pg_server::{self, PgServer};
use crate::system_user::give_to;

pub struct TestPostgres {
    // Declared before `dir`: the server stops before its files go.
    server: PgServer,
    dir: tempfile::TempDir,
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
            dir,
        }
    }

    /// A server that refuses connections without TLS (`hostssl` only in
    /// `pg_hba.conf`) and presents `cert_pem` (for 127.0.0.1) with its key.
    pub fn start_tls_only(cert_pem: &str, key_pem: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("giif-pg-tls")
            .tempdir()
            .expect("temp dir");
        let data = dir.path().join("data");
        give_to("postgres", dir.path());
        pg_server::initdb(&data, &["--auth=trust"]);
        std::fs::write(data.join("server.crt"), cert_pem).unwrap();
        std::fs::write(data.join("server.key"), key_pem).unwrap();
        // PostgreSQL refuses a key that others may read.
        std::fs::set_permissions(
            data.join("server.key"),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
        )
        .unwrap();
        give_to("postgres", dir.path());
        let server = PgServer::start(
            dir.path(),
            &[
                "ssl=on",
                "ssl_cert_file=server.crt",
                "ssl_key_file=server.key",
            ],
        );
        Self {
            port: server.port,
            server,
            dir,
        }
    }

    /// A fresh database on this server (made over its Unix socket, which
    /// needs no TLS).
    pub fn database(&self, name: &str) -> String {
        let status = pg_server::tool("createdb")
            .arg("-h")
            .arg(self.dir.path())
            .args(["-p", &self.server.port.to_string(), "-U", "postgres", name])
            .stdout(Stdio::null())
            .status()
            .expect("run createdb");
        assert!(status.success(), "createdb {name} failed");
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }
}

//! The MariaDB flavor: `mariadbd` on 127.0.0.1 and a unix socket in its
//! temporary directory, running as `mysql` when we are root. The
//! administrator is `root` over the socket (no password); the agent is
//! `giif` over TCP with a password.

use std::fs::File;
use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::Signal;

use super::{client_result, run_client, scratch, template, AGENT_PASSWORD, AGENT_USER, DATABASE};
use crate::server_process::ServerProcess;
use crate::system_user::{command_as, give_to};

/// A small buffer pool and redo log: the servers live for one test. The
/// same at initialization and at every start.
const INNODB: [&str; 2] = ["--innodb-buffer-pool-size=16M", "--innodb-log-file-size=4M"];

/// As Guacamole's documentation has operators set up the database user
/// (for any host: the agent connects over TCP).
fn agent_setup() -> String {
    format!(
        "CREATE USER '{AGENT_USER}'@'%' IDENTIFIED BY '{AGENT_PASSWORD}';\n\
         GRANT SELECT, INSERT, UPDATE, DELETE ON {DATABASE}.* TO '{AGENT_USER}'@'%';\n"
    )
}

pub(super) struct MariaDb {
    // Held to stop the server on drop; declared before `dir`, so the
    // server stops before its files go.
    _process: ServerProcess,
    dir: tempfile::TempDir,
    port: u16,
}

/// A server certificate and key (PEM) for a server that takes only TLS.
pub(super) struct TlsOnly<'a> {
    pub cert_pem: &'a str,
    pub key_pem: &'a str,
}

impl MariaDb {
    /// With `tls`, TCP clients must use TLS (the Unix socket, which the
    /// administrator uses, counts as secure).
    pub(super) fn start(schema: &[PathBuf; 2], tls: Option<TlsOnly>) -> Self {
        let dir = scratch::temp_dir("giif-guac-mariadb");
        give_to("mysql", dir.path());
        template::copy_to(
            "mariadb",
            &key(schema),
            |work| build(work, schema),
            dir.path(),
        );
        let mut extra = Vec::new();
        if let Some(tls) = tls {
            let (cert, key) = (dir.path().join("server.crt"), dir.path().join("server.key"));
            std::fs::write(&cert, tls.cert_pem).expect("write the server certificate");
            std::fs::write(&key, tls.key_pem).expect("write the server key");
            give_to("mysql", dir.path());
            extra.push(format!("--ssl-cert={}", cert.display()));
            extra.push(format!("--ssl-key={}", key.display()));
            extra.push("--require-secure-transport=ON".to_string());
        }
        let (process, port) = serve(dir.path(), &extra);
        Self {
            _process: process,
            dir,
            port,
        }
    }

    pub(super) fn port(&self) -> u16 {
        self.port
    }

    pub(super) fn sql(&self, statement: &str) -> Result<String, String> {
        let mut client = client(self.dir.path());
        client.arg(format!("--database={DATABASE}"));
        run_client(client, statement)
    }
}

/// What the template depends on.
fn key(schema: &[PathBuf; 2]) -> Vec<Vec<u8>> {
    let server = template::binary_identity(&program(&["mariadbd", "mysqld"]));
    let mut key = vec![
        server,
        agent_setup().into_bytes(),
        INNODB.join(" ").into_bytes(),
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
    give_to("mysql", work);
    let out = command_as(
        "mysql",
        program(&["mariadb-install-db", "mysql_install_db"]),
    )
    .current_dir(work)
    .arg("--no-defaults")
    .arg(format!("--datadir={}", work.join("data").display()))
    .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
    .args(INNODB)
    .output()
    .expect("run mariadb-install-db");
    assert!(
        out.status.success(),
        "mariadb-install-db failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let (process, _) = serve(work, &[]);
    run_client(client(work), &format!("CREATE DATABASE {DATABASE};"))
        .unwrap_or_else(|e| panic!("CREATE DATABASE failed: {e}"));
    // Each file on the client's stdin, as `mysql guacamole_db < file`.
    for file in schema {
        let mut load = client(work);
        load.arg(format!("--database={DATABASE}"))
            .stdin(File::open(file).expect("open the schema file"));
        client_result(load.output())
            .unwrap_or_else(|e| panic!("loading {} failed: {e}", file.display()));
    }
    run_client(client(work), &agent_setup())
        .unwrap_or_else(|e| panic!("creating the agent's account failed: {e}"));
    process.shut_down(Signal::SIGTERM);
}

/// Starts `mariadbd` over `dir/data` on a free port, with `extra`
/// options; returns when it answers on its socket.
fn serve(dir: &Path, extra: &[String]) -> (ServerProcess, u16) {
    let socket = dir.join("mysqld.sock");
    let mut last_error = String::new();
    // A free port can be taken by someone else before the server binds it.
    for _ in 0..3 {
        let port = crate::free_port();
        let mut command = command_as("mysql", program(&["mariadbd", "mysqld"]));
        command
            .current_dir(dir)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", dir.join("data").display()))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--pid-file={}", dir.join("mysqld.pid").display()))
            .arg(format!("--port={port}"))
            .args([
                "--bind-address=127.0.0.1",
                "--skip-name-resolve",
                // Debian's defaults, which operators run with.
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_general_ci",
                // The data is thrown away: no durability.
                "--innodb-flush-log-at-trx-commit=0",
                "--innodb-doublewrite=0",
            ])
            .args(INNODB)
            .args(extra);
        let mut process = ServerProcess::spawn(
            "mariadbd",
            command,
            &dir.join("mysqld.log"),
            dir,
            Signal::SIGKILL,
        );
        match process.wait_ready(Duration::from_secs(60), || greets(&socket)) {
            Ok(()) => return (process, port),
            Err(e) => last_error = e,
        }
    }
    panic!("MariaDB did not start: {last_error}");
}

/// The server sends its greeting as soon as it serves a connection.
fn greets(socket: &Path) -> bool {
    let Ok(mut stream) = UnixStream::connect(socket) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut byte = [0u8; 1];
    matches!(stream.read(&mut byte), Ok(1))
}

/// The CLI client as the administrator, over the socket, in batch mode
/// (tab-separated rows) without column names.
fn client(dir: &Path) -> Command {
    let mut client = Command::new(program(&["mariadb", "mysql"]));
    client
        .arg("--no-defaults")
        .arg(format!("--socket={}", dir.join("mysqld.sock").display()))
        .args([
            "--user=root",
            "--batch",
            "--skip-column-names",
            "--default-character-set=utf8mb4",
        ]);
    client
}

/// The first of `names` on the PATH or in the sbin directories (not on a
/// non-root PATH, where Debian puts `mariadbd`).
fn program(names: &[&str]) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.extend(["/usr/sbin", "/usr/local/sbin", "/usr/libexec"].map(PathBuf::from));
    names
        .iter()
        .flat_map(|name| dirs.iter().map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{} not found: install MariaDB (apt-get install mariadb-server)",
                names.join(" / ")
            )
        })
}

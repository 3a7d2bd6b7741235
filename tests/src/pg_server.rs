//! PostgreSQL's binaries, and a server on loopback over a data directory.
//! `initdb` and `postgres` refuse to run as root, so as root they run as
//! `postgres`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::server_process::ServerProcess;
use crate::system_user::command_as;

/// `GIIF_PG_BIN`, else the newest /usr/lib/postgresql/*/bin.
pub(crate) fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("GIIF_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    // Sort by major version as a number: "9.6" < "15".
    candidates.sort_by_key(|p| {
        let version = p.parent().and_then(|v| v.file_name()).unwrap_or_default();
        let major: u32 = version
            .to_string_lossy()
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        major
    });
    candidates
        .pop()
        .filter(|p| p.join("initdb").exists())
        .expect("PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install postgresql, or set GIIF_PG_BIN)")
}

/// A server-side tool (initdb, createdb, ...), as `postgres` when root.
pub(crate) fn tool(name: &str) -> Command {
    command_as("postgres", bin_dir().join(name))
}

/// `initdb` into `data`, UTF-8, with the given authentication options.
pub(crate) fn initdb(data: &Path, auth: &[&str]) {
    let out = tool("initdb")
        .args(auth)
        .args([
            "--username=postgres",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
            "-D",
        ])
        .arg(data)
        .output()
        .expect("run initdb");
    assert!(
        out.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A running server over `dir/data`, its socket in `dir`, its log in
/// `dir/postgres.log`. Immediate shutdown on drop.
pub(crate) struct PgServer {
    process: ServerProcess,
    pub(crate) port: u16,
}

impl PgServer {
    /// Starts on a free port of 127.0.0.1 with durability off (the data is
    /// thrown away) and `settings` (`name=value`) on top.
    pub(crate) fn start(dir: &Path, settings: &[&str]) -> Self {
        let data = dir.join("data");
        let mut last_error = String::new();
        // A free port can be taken by someone else before we bind it.
        for _ in 0..3 {
            let port = crate::free_port();
            let mut command = command_as("postgres", bin_dir().join("postgres"));
            command
                .current_dir(dir)
                .arg("-D")
                .arg(&data)
                .args(["-p", &port.to_string(), "-k"])
                .arg(dir);
            let defaults = [
                "listen_addresses=127.0.0.1",
                "fsync=off",
                "full_page_writes=off",
                "synchronous_commit=off",
                // In the data directory, not /dev/shm: a killed server's
                // segments go with its directory.
                "dynamic_shared_memory_type=mmap",
            ];
            for setting in defaults.iter().chain(settings) {
                command.args(["-c", setting]);
            }
            let mut process = ServerProcess::spawn(
                "postgres",
                command,
                &dir.join("postgres.log"),
                dir,
                Signal::SIGQUIT,
            );
            let pid_file = data.join("postmaster.pid");
            match process.wait_ready(Duration::from_secs(30), || is_ready(&pid_file)) {
                Ok(()) => return Self { process, port },
                Err(e) => last_error = e,
            }
        }
        panic!("PostgreSQL did not start: {last_error}");
    }

    /// Fast shutdown (clean, for a data directory that is kept).
    pub(crate) fn shut_down(self) {
        self.process.shut_down(Signal::SIGINT);
    }
}

/// The postmaster writes "ready" as the 8th line of its pid file once it
/// accepts connections.
fn is_ready(pid_file: &Path) -> bool {
    std::fs::read_to_string(pid_file)
        .map(|s| s.lines().nth(7).is_some_and(|l| l.trim() == "ready"))
        .unwrap_or(false)
}

//! The acceptance harness: a real agent process with its own state
//! directory, a real PostgreSQL when asked, real Guacamole databases
//! (MariaDB, PostgreSQL), and the real `terraform` CLI
//! running the real provider binary through `dev_overrides`.

#![allow(clippy::unwrap_used)]

pub mod agent;
pub mod examples;
pub mod gateway_lab;
pub mod guacamole_db;
pub mod netns;
mod pg_server;
pub mod postgres;
mod server_process;
pub mod site;
pub mod sushy;
mod system_user;
pub mod terraform;

use std::path::PathBuf;

/// `target/debug` (or release): where the workspace's binaries are. Tests
/// need `cargo build --bins` first, which `make test` does.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().expect("the executable's directory");
    // Tests run from target/<profile>/deps/<test>, the workspace's own
    // binaries (giif-bench) from target/<profile>/<binary>.
    if dir.ends_with("deps") {
        dir.parent().expect("target dir").to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

pub fn binary(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` (make test does) before the tests",
        path.display()
    );
    path
}

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the workspace")
        .to_path_buf()
}

/// A TCP port free right now on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

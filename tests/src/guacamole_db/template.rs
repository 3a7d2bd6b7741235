//! Template data directories: a server's data directory with the schema
//! loaded, built once per machine and key, then copied for each server.
//! Initializing MariaDB takes seconds; copying its data takes milliseconds.

use std::fs::File;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use nix::fcntl::{Flock, FlockArg};
use sha2::{Digest, Sha256};

use super::scratch;

/// Bump when what a template holds changes in a way its key does not see.
const FORMAT: &str = "giif-guacamole-template-1";

/// Templates unused for this long go when another is built: they may sit
/// in memory (/dev/shm), and server upgrades or schema edits strand them.
const UNUSED_FOR: Duration = Duration::from_secs(24 * 3600);

/// Copies the template named `kind` for `key` (everything its content
/// depends on: server version, schema files, setup SQL) to `dest/data`,
/// owners and modes included. `build` makes the template first if need be:
/// it fills an empty directory with a complete `data/` (its server shut
/// down cleanly), at most once per key while other processes wait.
pub(super) fn copy_to(kind: &str, key: &[Vec<u8>], build: impl FnOnce(&Path), dest: &Path) {
    let root = scratch::root().join(format!(
        "giif-guacamole-templates-{}",
        nix::unistd::geteuid().as_raw()
    ));
    std::fs::create_dir_all(&root).expect("template root directory");
    let name = format!("{kind}-{}", digest(key));
    let ready = root.join(&name);
    // Shared while copying, so that pruning leaves the template alone;
    // exclusive while building.
    let shared = lock(&root, &name, FlockArg::LockShared);
    let _lock = if ready.join("data").is_dir() {
        shared
    } else {
        drop(shared);
        let exclusive = lock(&root, &name, FlockArg::LockExclusive);
        if !ready.join("data").is_dir() {
            prune(&root, kind);
            let work = root.join(format!("{name}.building"));
            // Left over by a build that died: we hold the lock, nobody uses it.
            if work.exists() {
                std::fs::remove_dir_all(&work).expect("remove a stale template build");
            }
            std::fs::create_dir(&work).expect("template build directory");
            build(&work);
            std::fs::rename(&work, &ready).expect("publish the template");
        }
        exclusive
    };
    // Marks it used (see prune).
    let _ = File::open(&ready).and_then(|d| d.set_modified(SystemTime::now()));
    let status = Command::new("cp")
        // Sparse: InnoDB's files are mostly zeros.
        .args(["-a", "--sparse=always"])
        .arg(ready.join("data"))
        .arg(dest.join("data"))
        .status()
        .expect("run cp");
    assert!(status.success(), "copying the template data failed");
}

fn lock(root: &Path, name: &str, how: FlockArg) -> Flock<File> {
    let file = File::create(root.join(format!("{name}.lock"))).expect("template lock file");
    Flock::lock(file, how)
        .map_err(|(_, e)| e)
        .expect("lock the template")
}

/// Removes the templates of `kind` unused for [`UNUSED_FOR`] that nobody
/// is copying or building. Their lock files stay: removing a lock file
/// someone has just opened would split the lock in two.
fn prune(root: &Path, kind: &str) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_template = name.starts_with(&format!("{kind}-")) && !name.contains('.');
        let unused = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > UNUSED_FOR);
        if !is_template || !unused {
            continue;
        }
        let file = File::create(root.join(format!("{name}.lock"))).expect("template lock file");
        if let Ok(_lock) = Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Identifies a server binary for a template key without running it (a
/// process per start is measurable): a package upgrade changes its size
/// or modification time.
pub(super) fn binary_identity(path: &Path) -> Vec<u8> {
    let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    format!(
        "{} {} {:?}",
        path.display(),
        meta.len(),
        meta.modified().ok()
    )
    .into_bytes()
}

fn digest(key: &[Vec<u8>]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(FORMAT.as_bytes());
    for part in key {
        // Length-prefixed, so parts cannot run into each other.
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

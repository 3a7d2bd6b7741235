//! Where the servers' files go: /dev/shm when it has room, else the temp
//! dir. On a disk busy with other writers (builds), copying a data
//! directory and deleting one a server has written to each wait for
//! writeback, up to seconds; in memory they take milliseconds.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Room left for everything else on a tmpfs before we use it: a server
/// takes some 50 MB there.
const SHM_MIN_FREE: u64 = 2 << 30;

pub(super) fn root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        // u64 already on 64-bit Linux, narrower elsewhere.
        #[allow(clippy::useless_conversion)]
        let roomy = nix::sys::statvfs::statvfs(shm)
            .map(|s| u64::from(s.blocks_available()) * u64::from(s.fragment_size()) >= SHM_MIN_FREE)
            .unwrap_or(false);
        let writable = nix::unistd::access(shm, nix::unistd::AccessFlags::W_OK).is_ok();
        if roomy && writable {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        }
    })
}

/// A fresh directory for one server, removed on drop.
pub(super) fn temp_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(root())
        .expect("temp dir")
}

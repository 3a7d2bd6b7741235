//! Device identities (SSH host keys, passwords): random by default, or
//! derived from a site seed so a restarted simulator keeps the identities it
//! had, as real devices keep theirs across reboots. An agent that pinned a
//! host key then still recognises the device.

use std::sync::OnceLock;

use sha2::{Digest, Sha256};

static SITE_SEED: OnceLock<[u8; 32]> = OnceLock::new();

/// Sets the seed for this process; the first call wins.
pub fn set_site_seed(seed: [u8; 32]) {
    let _ = SITE_SEED.set(seed);
}

/// 32 bytes for `purpose` (such as `"idrac:bms01:host-key"`).
pub fn derive(purpose: &str) -> [u8; 32] {
    match SITE_SEED.get() {
        Some(seed) => {
            let mut hash = Sha256::new();
            hash.update(seed);
            hash.update(purpose.as_bytes());
            hash.finalize().into()
        }
        None => rand::random(),
    }
}

/// A password for `purpose`, 18 hex digits.
pub fn password(purpose: &str) -> String {
    hex::encode(&derive(purpose)[..9])
}

/// Reads the seed kept in `dir/sim-seed`, creating it on first use.
pub fn load_or_create_seed(dir: &std::path::Path) -> std::io::Result<[u8; 32]> {
    let path = dir.join("sim-seed");
    if let Ok(text) = std::fs::read_to_string(&path) {
        if let Ok(bytes) = hex::decode(text.trim()) {
            if let Ok(seed) = <[u8; 32]>::try_from(bytes.as_slice()) {
                return Ok(seed);
            }
        }
    }
    let seed: [u8; 32] = rand::random();
    std::fs::create_dir_all(dir)?;
    std::fs::write(&path, hex::encode(seed))?;
    Ok(seed)
}

//! Certificates for the agent's gRPC-over-mTLS link.
//!
//! The agent runs its own CA; it issues the agent's server certificate and the client
//! certificates callers (the provider) authenticate with. Providers trust the agent by its CA
//! certificate or by a SHA-256 pin of it.
//!
//! - [`ca`]: creating/reloading the CA and issuing leaves (agent only).
//! - [`server`]: the agent's rustls server configuration.
//! - [`client`]: the caller side plus shared helpers, free of agent-specific code.

pub mod ca;

pub mod server;

#[cfg(test)]
mod tests;

use std::fmt;
use std::fs::{OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

pub use ca::{client_identity, generate_ca, issue_client_cert, issue_server_cert, CaHandle};
pub use giif_proto::agent_tls::{
    client_tls_config, fingerprint_sha256, load_certs, load_certs_from, load_key, load_key_from,
    parse_fingerprint, AgentTrust, PkiError,
};
pub use rcgen::CertifiedKey;
pub use server::{server_tls_config, verify_client_cert};

/// A certificate and its private key, both PEM-encoded.
#[derive(Clone, PartialEq, Eq)]
pub struct Pem {
    pub cert_pem: String,
    pub key_pem: String,
}

impl fmt::Debug for Pem {
    // Keys must never reach logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pem")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

impl Pem {
    /// PEM encodings of a freshly generated certificate and key.
    pub fn from_certified(certified: &CertifiedKey) -> Self {
        Self {
            cert_pem: certified.cert.pem(),
            key_pem: certified.key_pair.serialize_pem(),
        }
    }

    /// Reads a certificate file and its key file.
    pub fn read(cert_path: &Path, key_path: &Path) -> Result<Self, PkiError> {
        Ok(Self {
            cert_pem: read_pem_file(cert_path)?,
            key_pem: read_pem_file(key_path)?,
        })
    }

    /// Writes the certificate world-readable and the key owner-only (0600).
    pub fn write(&self, cert_path: &Path, key_path: &Path) -> Result<(), PkiError> {
        write_public_pem(cert_path, &self.cert_pem)?;
        write_private_pem(key_path, &self.key_pem)
    }
}

/// Writes secret PEM (a private key) readable and writable by the owner only.
pub fn write_private_pem(path: impl AsRef<Path>, pem: &str) -> Result<(), PkiError> {
    let path = path.as_ref();
    let write_err = |source| PkiError::WriteFile {
        path: path.to_owned(),
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(write_err)?;
    // `mode` only applies to new files; tighten a pre-existing one before writing the secret.
    file.set_permissions(Permissions::from_mode(0o600))
        .map_err(write_err)?;
    file.write_all(pem.as_bytes()).map_err(write_err)?;
    file.sync_all().map_err(write_err)
}

/// Writes public PEM (certificates) with the default permissions.
pub fn write_public_pem(path: impl AsRef<Path>, pem: &str) -> Result<(), PkiError> {
    let path = path.as_ref();
    std::fs::write(path, pem).map_err(|source| PkiError::WriteFile {
        path: path.to_owned(),
        source,
    })
}

/// Reads a PEM file, naming the path in errors.
pub fn read_pem_file(path: impl AsRef<Path>) -> Result<String, PkiError> {
    let path = path.as_ref();
    std::fs::read_to_string(path).map_err(|source| PkiError::ReadFile {
        path: path.to_owned(),
        source,
    })
}

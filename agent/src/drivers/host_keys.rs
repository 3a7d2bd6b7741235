//! SSH host keys pinned on first use: the first key an endpoint shows is
//! recorded; a different key later is refused as a possible impostor.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::error::ApiError;
use crate::store::Store;

#[async_trait::async_trait]
pub trait HostKeyPins: Send + Sync {
    /// The pinned SHA-256 fingerprint for `endpoint` (`host:port`), if any.
    async fn pinned(&self, endpoint: &str) -> Result<Option<String>, ApiError>;
    /// Records `fingerprint` for `endpoint` unless one is pinned already;
    /// returns the fingerprint that is pinned afterwards.
    async fn pin(&self, endpoint: &str, fingerprint: &str) -> Result<String, ApiError>;
}

#[async_trait::async_trait]
impl HostKeyPins for Store {
    async fn pinned(&self, endpoint: &str) -> Result<Option<String>, ApiError> {
        self.ssh_host_key(endpoint).await
    }
    async fn pin(&self, endpoint: &str, fingerprint: &str) -> Result<String, ApiError> {
        self.pin_ssh_host_key(endpoint, fingerprint).await
    }
}

/// Pins kept in memory, for tests and one-off commands.
#[derive(Default)]
pub struct MemoryPins(Mutex<HashMap<String, String>>);

#[async_trait::async_trait]
impl HostKeyPins for MemoryPins {
    async fn pinned(&self, endpoint: &str) -> Result<Option<String>, ApiError> {
        Ok(self
            .0
            .lock()
            .map_err(|_| ApiError::internal("pin table poisoned"))?
            .get(endpoint)
            .cloned())
    }
    async fn pin(&self, endpoint: &str, fingerprint: &str) -> Result<String, ApiError> {
        let mut pins = self
            .0
            .lock()
            .map_err(|_| ApiError::internal("pin table poisoned"))?;
        Ok(pins
            .entry(endpoint.to_string())
            .or_insert_with(|| fingerprint.to_string())
            .clone())
    }
}

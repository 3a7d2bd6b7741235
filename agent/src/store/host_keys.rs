//! Pinned SSH host keys.

use super::{now_rfc3339, Store};
use crate::error::ApiError;

impl Store {
    pub async fn ssh_host_key(&self, endpoint: &str) -> Result<Option<String>, ApiError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT fingerprint FROM ssh_host_keys WHERE endpoint = $1")
                .bind(endpoint)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(|(f,)| f))
    }

    /// Pins `fingerprint` unless a key is pinned already; returns the pin.
    pub async fn pin_ssh_host_key(
        &self,
        endpoint: &str,
        fingerprint: &str,
    ) -> Result<String, ApiError> {
        let mut tx = self.begin_write().await?;
        let existing: Option<(String,)> =
            sqlx::query_as("SELECT fingerprint FROM ssh_host_keys WHERE endpoint = $1")
                .bind(endpoint)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some((pinned,)) = existing {
            return Ok(pinned);
        }
        sqlx::query(
            "INSERT INTO ssh_host_keys (endpoint, fingerprint, pinned_at) VALUES ($1, $2, $3)",
        )
        .bind(endpoint)
        .bind(fingerprint)
        .bind(now_rfc3339())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(endpoint, fingerprint, "pinned SSH host key on first use");
        Ok(fingerprint.to_string())
    }

    /// Every pin: (endpoint, fingerprint, pinned at).
    pub async fn ssh_host_keys(&self) -> Result<Vec<(String, String, String)>, ApiError> {
        Ok(sqlx::query_as(
            "SELECT endpoint, fingerprint, pinned_at FROM ssh_host_keys ORDER BY endpoint",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// Forgets a pin, for a device that was legitimately rebuilt.
    pub async fn forget_ssh_host_key(&self, endpoint: &str) -> Result<bool, ApiError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM ssh_host_keys WHERE endpoint = $1")
            .bind(endpoint)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if done.rows_affected() > 0 {
            tracing::info!(endpoint, "forgot a pinned SSH host key");
        }
        Ok(done.rows_affected() > 0)
    }
}

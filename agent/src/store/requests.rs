//! The request log: the first outcome of every mutating call, kept under
//! its client request id, so a retry gets that outcome back.

use prost::Message;
use sqlx::{Any, Transaction};

use super::{now_rfc3339, Store};
use crate::error::ApiError;

tokio::task_local! {
    static FINGERPRINT: Option<String>;
}

/// Runs `change` as the call whose request has `fingerprint`: its request
/// id is recorded with it, and a retry under the id must match it.
pub async fn with_fingerprint<F: std::future::Future>(
    fingerprint: Option<String>,
    change: F,
) -> F::Output {
    FINGERPRINT.scope(fingerprint, change).await
}

fn current_fingerprint() -> String {
    FINGERPRINT
        .try_with(|fingerprint| fingerprint.clone())
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// The recorded response of `request_id`, if this call was seen before.
/// The same id with another method or other content is refused: it is a
/// client's mistake, and answering with the first call's outcome would
/// hide that the second change was never made.
pub async fn replay<T: Message + Default>(
    tx: &mut Transaction<'static, Any>,
    request_id: &str,
    method: &str,
) -> Result<Option<T>, ApiError> {
    if request_id.is_empty() {
        return Ok(None);
    }
    let row: Option<(String, Vec<u8>, String)> = sqlx::query_as(
        "SELECT method, response, fingerprint FROM request_log WHERE request_id = $1",
    )
    .bind(request_id)
    .fetch_optional(&mut **tx)
    .await?;
    let fingerprint = current_fingerprint();
    match row {
        None => Ok(None),
        Some((seen_method, _, _)) if seen_method != method => Err(ApiError::invalid(format!(
            "request id {request_id} was already used for {seen_method}, not {method}"
        ))
        .field("request_id")
        .hint("Use a new request id for each distinct change.")),
        Some((_, _, seen))
            if !seen.is_empty() && !fingerprint.is_empty() && seen != fingerprint =>
        {
            Err(ApiError::invalid(format!(
                "request id {request_id} was already used for {method} with other content"
            ))
            .field("request_id")
            .hint("Use a new request id for each distinct change; a retry must repeat its request exactly."))
        }
        Some((_, bytes, _)) => T::decode(bytes.as_slice())
            .map(Some)
            .map_err(|e| ApiError::internal(format!("a recorded response is unreadable: {e}"))),
    }
}

pub async fn record<T: Message>(
    tx: &mut Transaction<'static, Any>,
    request_id: &str,
    method: &str,
    response: &T,
) -> Result<(), ApiError> {
    if request_id.is_empty() {
        return Ok(());
    }
    sqlx::query("INSERT INTO request_log (request_id, method, response, created_at, fingerprint) VALUES ($1, $2, $3, $4, $5)")
        .bind(request_id)
        .bind(method)
        .bind(response.encode_to_vec())
        .bind(now_rfc3339())
        .bind(current_fingerprint())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Store {
    /// Forgets outcomes older than `days`: Terraform never retries a change
    /// that old.
    pub async fn prune_request_log(&self, days: i64) -> Result<u64, ApiError> {
        let cutoff = super::rfc3339_days_ago(days);
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM request_log WHERE created_at < $1")
            .bind(cutoff)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}

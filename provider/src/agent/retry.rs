//! Retrying what may succeed later. Mutating calls carry their request id,
//! so the agent answers a repeated call with the first call's result.

use std::future::Future;
use std::time::{Duration, Instant};

use super::error::AgentError;

pub async fn with_retries<T, F, Fut>(deadline: Duration, mut call: F) -> Result<T, AgentError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    let give_up_at = Instant::now() + deadline;
    let mut backoff = Duration::from_millis(50);
    loop {
        let error = match call().await {
            Ok(response) => return Ok(response.into_inner()),
            Err(status) => AgentError::from_status(&status),
        };
        if !error.retryable || Instant::now() + backoff > give_up_at {
            return Err(error);
        }
        tracing::debug!(error = %error, backoff_ms = backoff.as_millis() as u64, "retrying agent call");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

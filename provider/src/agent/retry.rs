//! Retrying what may succeed later. Mutating calls carry their request id,
//! so the agent answers a repeated call with the first call's result; that
//! makes even a call whose answer was lost (the connection dropped, gRPC
//! `Unknown`) safe to repeat.

use std::future::Future;
use std::time::{Duration, Instant};

use super::error::AgentError;

pub async fn with_retries<T, F, Fut>(
    deadline: Duration,
    idempotent: bool,
    mut call: F,
) -> Result<T, AgentError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    let give_up_at = Instant::now() + deadline;
    let mut backoff = Duration::from_millis(50);
    loop {
        let (error, lost_answer) = match call().await {
            Ok(response) => return Ok(response.into_inner()),
            Err(status) => (
                AgentError::from_status(&status),
                status.code() == tonic::Code::Unknown && AgentError::is_transport(&status),
            ),
        };
        let retryable = error.retryable || (idempotent && lost_answer);
        if !retryable || Instant::now() + backoff > give_up_at {
            return Err(error);
        }
        tracing::debug!(error = %error, backoff_ms = backoff.as_millis() as u64, "retrying agent call");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    /// A dropped connection (`Unknown`, no detail from the agent) on the
    /// first try: a call with a request id is repeated, a read-only or
    /// id-less one is not.
    async fn calls_after_a_lost_answer(idempotent: bool) -> (u32, bool) {
        let calls = AtomicU32::new(0);
        let outcome = with_retries(Duration::from_secs(5), idempotent, || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 {
                    Err(tonic::Status::unknown("transport error"))
                } else {
                    Ok(tonic::Response::new(()))
                }
            }
        })
        .await;
        (calls.load(Ordering::SeqCst), outcome.is_ok())
    }

    #[tokio::test]
    async fn a_lost_answer_is_retried_only_for_calls_with_a_request_id() {
        assert_eq!(calls_after_a_lost_answer(true).await, (2, true));
        assert_eq!(calls_after_a_lost_answer(false).await, (1, false));
    }
}

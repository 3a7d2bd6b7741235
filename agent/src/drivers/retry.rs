//! Retrying transient driver failures with exponential backoff, jitter and
//! a deadline. Other classes return at once: a permanent error would fail
//! again, and a maybe-applied one needs a re-read, not a repeat.

use std::future::Future;
use std::time::{Duration, Instant};

use super::error::DriverError;

#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// Give up once this much time has passed since the first attempt.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            deadline: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// A short policy for tests.
    pub fn quick() -> Self {
        Self {
            first_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(100),
            deadline: Duration::from_secs(10),
        }
    }
}

pub async fn retry<T, F, Fut>(policy: RetryPolicy, mut attempt: F) -> Result<T, DriverError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, DriverError>>,
{
    let started = Instant::now();
    let mut backoff = policy.first_backoff;
    let mut attempts = 1u32;
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(error) if error.is_transient() => {
                // Up to 50% jitter, so parallel callers do not retry in step.
                let jitter = backoff.mul_f64(rand::random::<f64>() * 0.5);
                let wait = backoff + jitter;
                if started.elapsed() + wait > policy.deadline {
                    tracing::warn!(target_device = %error.target, action = %error.action, attempts, "giving up after transient errors: {}", error.message);
                    return Err(error);
                }
                tracing::info!(target_device = %error.target, action = %error.action, attempts, wait_ms = wait.as_millis() as u64, "transient error, retrying: {}", error.message);
                tokio::time::sleep(wait).await;
                backoff = (backoff * 2).min(policy.max_backoff);
                attempts += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn transient_errors_are_retried_until_success() {
        let calls = AtomicU32::new(0);
        let result = retry(RetryPolicy::quick(), || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(DriverError::transient("t", "a", "busy"))
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(result, Ok(7));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn permanent_errors_surface_once() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = retry(RetryPolicy::quick(), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(DriverError::permanent("t", "a", "no such thing"))
        })
        .await;
        assert_eq!(result.unwrap_err().message, "no such thing");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn the_deadline_ends_retries() {
        let policy = RetryPolicy {
            deadline: Duration::from_millis(50),
            ..RetryPolicy::quick()
        };
        let result: Result<(), _> = retry(policy, || async {
            Err(DriverError::transient("t", "a", "busy"))
        })
        .await;
        assert!(result.unwrap_err().is_transient());
    }
}

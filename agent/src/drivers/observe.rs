//! One log line per driver action: target, action, duration and outcome.
//! Callers pass descriptions, never secrets.

use std::future::Future;
use std::time::Instant;

use super::error::{DriverError, ErrorClass};

pub async fn observed<T, Fut>(target: &str, action: &str, work: Fut) -> Result<T, DriverError>
where
    Fut: Future<Output = Result<T, DriverError>>,
{
    let started = Instant::now();
    let result = work.await;
    let elapsed = started.elapsed();
    let duration_ms = elapsed.as_millis() as u64;
    let outcome = match &result {
        Ok(_) => "ok",
        Err(error) if error.class == ErrorClass::NotFound => "not_found",
        Err(error) if error.class == ErrorClass::Transient => "transient",
        Err(error) if error.class == ErrorClass::MaybeApplied => "maybe_applied",
        Err(_) => "failed",
    };
    crate::metrics::device_call(target, action, outcome, elapsed);
    match &result {
        Ok(_) => tracing::info!(
            target_device = target,
            action,
            duration_ms,
            outcome = "ok",
            "driver action"
        ),
        // Looking for something that is not there is how many steps check
        // before they act: worth a line, not a warning.
        Err(error) if error.class == ErrorClass::NotFound => tracing::info!(
            target_device = target,
            action,
            duration_ms,
            outcome = "not found",
            "driver action"
        ),
        Err(error) => tracing::warn!(
            target_device = target,
            action,
            duration_ms,
            outcome = ?error.class,
            error = %error.message,
            "driver action failed"
        ),
    }
    result
}

/// The same for an action that changes the device: it also goes into the
/// audit trail of the call that caused it.
pub async fn observed_change<T, Fut>(
    target: &str,
    action: &str,
    work: Fut,
) -> Result<T, DriverError>
where
    Fut: Future<Output = Result<T, DriverError>>,
{
    let result = observed(target, action, work).await;
    let outcome = match &result {
        Ok(_) => "ok".to_string(),
        Err(error) => format!("{:?}: {}", error.class, error.message),
    };
    crate::audit::device_action(target, action, &outcome).await;
    result
}

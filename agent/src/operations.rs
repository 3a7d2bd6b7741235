//! What every long change in the agent shares: one lock per object, the
//! operation run in the background under that lock (so it outlives the
//! caller's deadline and a retry finds it under way), and waiting until it
//! settles.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::error::ApiError;

/// One lock per object id, made on first use.
#[derive(Clone, Default)]
pub struct ObjectLocks(Arc<Mutex<HashMap<String, Arc<Mutex<()>>>>>);

impl ObjectLocks {
    pub async fn of(&self, id: &str) -> Arc<Mutex<()>> {
        self.0
            .lock()
            .await
            .entry(id.to_string())
            .or_default()
            .clone()
    }
}

/// Runs `operation` in the background while holding `id`'s lock; when it
/// fails, `record_failure` stores why.
pub fn run_in_background<Op, OpFut, Rec, RecFut>(
    locks: ObjectLocks,
    id: String,
    operation: Op,
    record_failure: Rec,
) where
    Op: FnOnce(String) -> OpFut + Send + 'static,
    OpFut: Future<Output = Result<(), ApiError>> + Send,
    Rec: FnOnce(String, ApiError) -> RecFut + Send + 'static,
    RecFut: Future<Output = ()> + Send,
{
    let run = async move {
        let lock = locks.of(&id).await;
        let _held = lock.lock().await;
        if let Err(err) = operation(id.clone()).await {
            tracing::warn!(object = %id, error = %err.message, "operation failed");
            record_failure(id, err).await;
        }
    };
    // The device actions of the operation belong to the call that started it.
    match crate::audit::AuditScope::current() {
        Some(scope) => tokio::spawn(scope.run(run)),
        None => tokio::spawn(run),
    };
}

/// Waits until the object's `status` is `ready` or `failed` and no operation
/// holds it, or until `wait` passes.
pub async fn wait_until_settled<St, StFut>(
    locks: &ObjectLocks,
    id: &str,
    wait: Duration,
    mut status: St,
) -> Result<(), ApiError>
where
    St: FnMut() -> StFut,
    StFut: Future<Output = Result<String, ApiError>>,
{
    let deadline = Instant::now() + wait;
    // Give the operation a moment to take its lock before reading status.
    tokio::time::sleep(Duration::from_millis(20)).await;
    loop {
        let settled = matches!(status().await?.as_str(), "ready" | "failed");
        if settled || Instant::now() >= deadline {
            let lock = locks.of(id).await;
            if lock.try_lock().is_ok() || Instant::now() >= deadline {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

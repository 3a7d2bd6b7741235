//! What every long change in the agent shares: one lock per object, the
//! operation run in the background under that lock (so it outlives the
//! caller's deadline and a retry finds it under way), and waiting until it
//! settles.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, MutexGuard};

use crate::error::ApiError;

/// One object's lock, and how many background operations on it are queued
/// or running.
#[derive(Default)]
pub struct ObjectLock {
    lock: Mutex<()>,
    pending: AtomicUsize,
}

impl ObjectLock {
    pub async fn lock(&self) -> MutexGuard<'_, ()> {
        self.lock.lock().await
    }

    /// Whether a background operation is queued or running on the object.
    fn busy(&self) -> bool {
        self.pending.load(Ordering::SeqCst) > 0
    }
}

/// One lock per object id, made on first use.
#[derive(Clone, Default)]
pub struct ObjectLocks(Arc<std::sync::Mutex<HashMap<String, Arc<ObjectLock>>>>);

impl ObjectLocks {
    pub async fn of(&self, id: &str) -> Arc<ObjectLock> {
        self.get(id)
    }

    fn get(&self, id: &str) -> Arc<ObjectLock> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(id.to_string())
            .or_default()
            .clone()
    }
}

/// Runs `operation` in the background while holding `id`'s lock; when it
/// fails, `record_failure` stores why. The object counts as busy from the
/// moment this returns until the operation ended, so a wait that starts
/// right after cannot mistake the state before the operation for its end.
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
    let object = locks.get(&id);
    object.pending.fetch_add(1, Ordering::SeqCst);
    let run = async move {
        {
            let _held = object.lock().await;
            if let Err(err) = operation(id.clone()).await {
                tracing::warn!(object = %id, error = %err.message, "operation failed");
                record_failure(id, err).await;
            }
        }
        object.pending.fetch_sub(1, Ordering::SeqCst);
    };
    // The device actions of the operation belong to the call that started it.
    match crate::audit::AuditScope::current() {
        Some(scope) => tokio::spawn(scope.run(run)),
        None => tokio::spawn(run),
    };
}

/// Waits until no background operation is queued or running on the object
/// and its `status` is `ready` or `failed`, or until `wait` passes.
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
    let object = locks.get(id);
    loop {
        if Instant::now() >= deadline {
            return Ok(());
        }
        if !object.busy() && matches!(status().await?.as_str(), "ready" | "failed") {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;

    /// The object reads "ready" from an earlier operation while the new one
    /// waits for the lock: the wait still lasts until the new one ended.
    #[tokio::test]
    async fn a_wait_right_after_the_start_waits_for_that_operation() {
        let locks = ObjectLocks::default();
        let status = Arc::new(std::sync::Mutex::new("ready"));
        let done = Arc::new(AtomicBool::new(false));
        // An earlier operation holds the lock for a while.
        let earlier = locks.get("obj");
        let (taken, is_taken) = tokio::sync::oneshot::channel();
        let release = tokio::spawn(async move {
            let _held = earlier.lock().await;
            let _ = taken.send(());
            tokio::time::sleep(Duration::from_millis(100)).await;
        });
        is_taken.await.unwrap();
        let (op_status, op_done) = (status.clone(), done.clone());
        run_in_background(
            locks.clone(),
            "obj".into(),
            move |_| async move {
                *op_status.lock().unwrap() = "creating";
                tokio::time::sleep(Duration::from_millis(30)).await;
                *op_status.lock().unwrap() = "ready";
                op_done.store(true, Ordering::SeqCst);
                Ok(())
            },
            |_, _| async {},
        );
        let read = status.clone();
        wait_until_settled(&locks, "obj", Duration::from_secs(10), || {
            let now = *read.lock().unwrap();
            async move { Ok(now.to_string()) }
        })
        .await
        .unwrap();
        assert!(
            done.load(Ordering::SeqCst),
            "the wait ended before the operation"
        );
        release.await.unwrap();
    }
}

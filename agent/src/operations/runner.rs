//! Running journalled operations: under the object's lease, renewed while
//! the operation runs, with the outcome written back fenced.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::locks::ObjectLocks;
use super::settings::OperationSettings;
use super::step::Running;
use crate::error::ApiError;
use crate::store::operations::OperationRow;
use crate::store::operations::{now_ms, Finished, Lease, ObjectKind, OpKind, OpState};
use crate::store::Store;

/// What one kind of object does in its long operations. Every step reads
/// the device before it acts, so a run cut anywhere can run again.
#[async_trait::async_trait]
pub trait LongObject: Send + Sync + 'static {
    /// Brings the object to its recorded spec.
    async fn converge(&self, id: &str) -> Result<(), ApiError>;
    /// Removes the object from the devices, then from the store; returns a
    /// warning for the caller (empty when none).
    async fn remove(&self, id: &str) -> Result<String, ApiError>;
}

/// The journal's runner for this replica. Cheap to clone.
#[derive(Clone)]
pub struct Operations(Arc<Inner>);

struct Inner {
    store: Store,
    replica: String,
    lease: Duration,
    max_attempts: i64,
    objects: RwLock<HashMap<ObjectKind, Arc<dyn LongObject>>>,
    locks: ObjectLocks,
}

/// How long a delete call waits before it answers "under way" (and the
/// client, retrying, waits again).
const DELETE_WAIT: Duration = Duration::from_secs(50);

impl Operations {
    pub fn new(store: Store, settings: &OperationSettings) -> Self {
        Self(Arc::new(Inner {
            store,
            replica: settings.replica_name(),
            lease: settings.lease(),
            max_attempts: settings.max_attempts.max(1),
            objects: RwLock::default(),
            locks: ObjectLocks::default(),
        }))
    }

    /// Makes `object` run the operations of `kind`.
    pub fn register(&self, kind: ObjectKind, object: Arc<dyn LongObject>) {
        self.0
            .objects
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(kind, object);
    }

    pub fn replica(&self) -> &str {
        &self.0.replica
    }

    pub fn store(&self) -> &Store {
        &self.0.store
    }

    fn object(&self, kind: ObjectKind) -> Option<Arc<dyn LongObject>> {
        self.0
            .objects
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&kind)
            .cloned()
    }

    fn key(kind: ObjectKind, id: &str) -> String {
        format!("{kind}:{id}")
    }

    /// The lock this replica's runs of the object hold: an action takes it
    /// too, so it never interleaves with an operation of the object.
    pub fn lock_of(&self, kind: ObjectKind, id: &str) -> Arc<super::ObjectLock> {
        self.0.locks.of(&Self::key(kind, id))
    }

    /// Whether this replica is running (or about to run) the object's
    /// operation.
    pub fn busy_here(&self, kind: ObjectKind, id: &str) -> bool {
        self.0.locks.of(&Self::key(kind, id)).busy()
    }

    /// Runs the object's journalled operation in the background; the device
    /// actions stay with the call that started it.
    pub fn start(&self, kind: ObjectKind, id: &str) {
        let (this, id) = (self.clone(), id.to_string());
        let lock = self.0.locks.of(&Self::key(kind, &id));
        let pending = lock.pending();
        let run = async move {
            let _pending = pending;
            let _held = lock.lock().await;
            this.run(kind, &id).await;
        };
        match crate::audit::AuditScope::current() {
            Some(scope) => tokio::spawn(scope.run(run)),
            None => tokio::spawn(run),
        };
    }

    /// Takes the lease and runs until the journal says done, failed, or
    /// that the lease passed to another replica.
    async fn run(&self, kind: ObjectKind, id: &str) {
        loop {
            let store = &self.0.store;
            let lease_ms = self.0.lease.as_millis() as i64;
            let lease = match store.take_lease(kind, id, &self.0.replica, lease_ms).await {
                Ok(Some(lease)) => lease,
                Ok(None) => return,
                Err(error) => {
                    tracing::warn!(%kind, object = id, error = %error.message, "cannot take the operation's lease; the reconciler tries again");
                    return;
                }
            };
            let started = Instant::now();
            tracing::info!(%kind, object = id, op = %lease.op, attempt = lease.attempts, "operation running");
            let Some(outcome) = self.run_leased(kind, id, lease).await else {
                tracing::warn!(%kind, object = id, "operation stopped: its lease passed to another replica");
                crate::metrics::operation_ended(kind, lease.op, "lease_lost", started.elapsed());
                return;
            };
            let retry_at = match &outcome {
                Err(error) if error.retryable() && lease.attempts < self.0.max_attempts => {
                    let backoff = 5_000i64 << (lease.attempts - 1).clamp(0, 6);
                    Some(now_ms() + backoff)
                }
                _ => None,
            };
            if let Err(error) = &outcome {
                tracing::warn!(%kind, object = id, op = %lease.op, error = %error.message, retry = retry_at.is_some(), "operation failed");
                let recorded = store
                    .record_operation_failure(kind, id, lease.op, &error.message)
                    .await;
                if let Err(failure) = recorded {
                    tracing::warn!(%kind, object = id, error = %failure.message, "cannot record the failure on the object");
                }
            }
            let label = if outcome.is_ok() { "done" } else { "failed" };
            crate::metrics::operation_ended(kind, lease.op, label, started.elapsed());
            let recorded = store
                .finish_operation(
                    kind,
                    id,
                    &self.0.replica,
                    lease,
                    outcome.as_deref().map_err(|error| (error, retry_at)),
                )
                .await;
            match recorded {
                Ok(Finished::Again) => continue,
                Ok(_) => return,
                Err(error) => {
                    // The lease runs out and the operation is run again.
                    tracing::warn!(%kind, object = id, error = %error.message, "cannot record the operation's outcome");
                    return;
                }
            }
        }
    }

    /// The operation's outcome, or `None` when the lease was lost.
    async fn run_leased(
        &self,
        kind: ObjectKind,
        id: &str,
        lease: Lease,
    ) -> Option<Result<String, ApiError>> {
        let Some(object) = self.object(kind) else {
            return Some(Err(ApiError::internal(format!(
                "this agent runs no operations on {kind} objects"
            ))));
        };
        let lease_ms = self.0.lease.as_millis() as i64;
        let running = Running {
            store: self.0.store.clone(),
            kind,
            id: id.to_string(),
            replica: self.0.replica.clone(),
            fence: lease.fence,
            lease_ms,
        };
        let work = running.run(async {
            match lease.op {
                OpKind::Converge => object.converge(id).await.map(|()| String::new()),
                OpKind::Delete => object.remove(id).await,
            }
        });
        tokio::select! {
            outcome = work => Some(outcome),
            () = self.keep_lease(kind, id, lease.fence) => None,
        }
    }

    /// Renews the lease every third of its length; returns when it is lost
    /// (another replica holds it, or the store could not be reached for as
    /// long as the lease lasts).
    async fn keep_lease(&self, kind: ObjectKind, id: &str, fence: i64) {
        let lease = self.0.lease;
        let mut valid_until = Instant::now() + lease;
        loop {
            tokio::time::sleep(lease / 3).await;
            let renewed = self
                .0
                .store
                .renew_lease(
                    kind,
                    id,
                    &self.0.replica,
                    fence,
                    None,
                    lease.as_millis() as i64,
                )
                .await;
            match renewed {
                Ok(true) => valid_until = Instant::now() + lease,
                Ok(false) => return,
                Err(error) if Instant::now() + lease / 3 >= valid_until => {
                    tracing::warn!(%kind, object = id, error = %error.message, "cannot renew the operation's lease; stopping before it passes");
                    return;
                }
                Err(_) => {}
            }
        }
    }

    /// Waits until the object's operation is no longer queued or running,
    /// or `wait` passed: the journal row as it then is.
    pub async fn wait(
        &self,
        kind: ObjectKind,
        id: &str,
        wait: Duration,
    ) -> Result<Option<OperationRow>, ApiError> {
        let deadline = Instant::now() + wait;
        let mut pause = Duration::from_millis(10);
        loop {
            let row = self.0.store.operation(kind, id).await?;
            let settled = row.as_ref().is_none_or(|row| !row.state.unfinished());
            let now = Instant::now();
            if settled || now >= deadline {
                return Ok(row);
            }
            tokio::time::sleep(pause.min(deadline - now)).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    /// Deletes the object through the journal and waits for it: `None`
    /// when there was no such object, else the delete's warning. A delete
    /// still under way after a while is a retryable error: the caller's
    /// retry waits again, so nothing reports done while the object exists.
    pub async fn remove(
        &self,
        kind: ObjectKind,
        id: &str,
        request_id: &str,
    ) -> Result<Option<String>, ApiError> {
        if !self.0.store.begin_removal(kind, id, request_id).await? {
            return Ok(None);
        }
        self.start(kind, id);
        let row = self.wait(kind, id, DELETE_WAIT).await?;
        let Some(row) = row else {
            return Ok(Some(String::new()));
        };
        match row.state {
            OpState::Done => Ok(Some(row.note)),
            OpState::Failed | OpState::Abandoned => Err(row.error.unwrap_or_else(|| {
                ApiError::internal(format!("deleting {kind} {id} was abandoned by an operator"))
            })),
            OpState::Queued | OpState::Running => Err(ApiError::transient(format!(
                "deleting {kind} {id} is under way (step {:?})",
                row.step
            ))
            .subject(id)
            .hint("The delete goes on in the agent; a retry waits for it.")),
        }
    }
}

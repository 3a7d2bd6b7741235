//! The step an operation reached, recorded as it goes; recording it is also
//! where a runner that lost its lease finds out, before it acts again.

use crate::error::ApiError;
use crate::store::operations::ObjectKind;
use crate::store::Store;

tokio::task_local! {
    static RUNNING: Running;
}

/// The operation the current task runs, under which lease.
#[derive(Clone)]
pub(super) struct Running {
    pub store: Store,
    pub kind: ObjectKind,
    pub id: String,
    pub replica: String,
    pub fence: i64,
    pub lease_ms: i64,
}

impl Running {
    pub async fn run<F: std::future::Future>(self, future: F) -> F::Output {
        RUNNING.scope(self, future).await
    }
}

/// Records that the running operation reached `name` and renews its lease.
/// Fails (retryably) when the lease passed to another replica, so the
/// operation stops before its next device action. Outside an operation it
/// does nothing.
pub async fn step(name: &str) -> Result<(), ApiError> {
    let Ok(running) = RUNNING.try_with(Clone::clone) else {
        return Ok(());
    };
    let renewed = running
        .store
        .renew_lease(
            running.kind,
            &running.id,
            &running.replica,
            running.fence,
            Some(name),
            running.lease_ms,
        )
        .await?;
    if !renewed {
        return Err(ApiError::transient(format!(
            "the operation on {} {} passed to another agent replica before step {name:?}",
            running.kind, running.id
        ))
        .hint("Nothing to do: the replica holding it now carries it on."));
    }
    tracing::debug!(kind = %running.kind, object = %running.id, step = name, "operation step");
    Ok(())
}

//! Resuming what nobody is running: at start and on a timer, every
//! operation that is queued, running under a lease that passed (its agent
//! died), or failed in a way a retry may cure and due again.

use std::time::Duration;

use super::Operations;

/// Resumes runnable operations now and every `every` until the task is
/// dropped.
pub fn spawn(operations: Operations, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            operations.resume_runnable().await;
            tokio::time::sleep(every).await;
        }
    })
}

impl Operations {
    /// Starts every runnable operation this replica is not already running;
    /// how many it started.
    pub async fn resume_runnable(&self) -> usize {
        let runnable = match self.store().runnable_operations(self.replica()).await {
            Ok(runnable) => runnable,
            Err(error) => {
                tracing::warn!(error = %error.message, "cannot read the operations journal");
                return 0;
            }
        };
        let mut started = 0;
        for (kind, id) in runnable {
            if self.busy_here(kind, &id) {
                continue;
            }
            tracing::info!(%kind, object = %id, "resuming an unfinished operation");
            self.start(kind, &id);
            started += 1;
        }
        crate::metrics::set_stuck_operations(self.store()).await;
        started
    }
}

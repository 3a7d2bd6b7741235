//! Resuming what nobody is running: at start and on a timer, every
//! operation that is queued, running under a lease that passed (its agent
//! died), or failed in a way a retry may cure and due again.

use std::time::Duration;

use super::{ObjectKind, Operations};
use crate::audit::AuditScope;
use crate::store::audit::AuditRecord;

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
            self.start_resumed(kind, &id).await;
            started += 1;
        }
        crate::metrics::set_stuck_operations(self.store()).await;
        started
    }

    /// Starts a resumed operation under an audit record of its own (by
    /// `agent:<replica>`, the request id of the change it carries on), so
    /// the device actions it causes are in the audit trail like any others.
    async fn start_resumed(&self, kind: ObjectKind, id: &str) {
        let scope = AuditScope::new(self.store().clone());
        let request_id = match self.store().operation(kind, id).await {
            Ok(Some(row)) => row.request_id,
            _ => String::new(),
        };
        let record = AuditRecord {
            principal: format!("agent:{}", self.replica()),
            serial: String::new(),
            rpc: format!("Resume{}", kind.rpc_suffix()),
            object: id.to_string(),
            project_id: String::new(),
            request_id,
            outcome: "ok".to_string(),
        };
        match self.store().append_audit(&record).await {
            Ok(audit_id) => scope.attach(audit_id).await,
            Err(error) => {
                tracing::warn!(error = %error.message, "cannot append the audit record of a resumed operation")
            }
        }
        scope.run(async { self.start(kind, id) }).await;
    }
}

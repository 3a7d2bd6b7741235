//! Tying device actions to the audited call that caused them.
//!
//! A mutating call runs inside an [`AuditScope`] (a task-local); a long
//! operation it starts in the background carries the scope along
//! ([`crate::operations::run_in_background`]). Drivers report what they
//! asked a device to do with [`device_action`]; the scope keeps the actions
//! until the call's record exists, then writes them beside it, also when
//! the operation runs on after the call answered.

use std::sync::{Arc, Mutex};

use crate::store::audit::DeviceAction;
use crate::store::{now_rfc3339, Store};

tokio::task_local! {
    static SCOPE: AuditScope;
}

#[derive(Clone)]
pub struct AuditScope(Arc<ScopeState>);

struct ScopeState {
    store: Store,
    inner: Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    audit_id: Option<i64>,
    actions: Vec<DeviceAction>,
}

impl AuditScope {
    pub fn new(store: Store) -> Self {
        Self(Arc::new(ScopeState {
            store,
            inner: Mutex::new(Pending::default()),
        }))
    }

    /// Runs `future` with this scope as the current one.
    pub async fn run<F: std::future::Future>(self, future: F) -> F::Output {
        SCOPE.scope(self, future).await
    }

    /// The scope of the running task, to carry into a spawned one.
    pub fn current() -> Option<AuditScope> {
        SCOPE.try_with(Clone::clone).ok()
    }

    /// The call's record now exists: write what was waiting for it.
    pub async fn attach(&self, audit_id: i64) {
        self.lock().audit_id = Some(audit_id);
        self.flush().await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.0
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn flush(&self) {
        let (id, actions) = {
            let mut pending = self.lock();
            match pending.audit_id {
                Some(id) => (id, std::mem::take(&mut pending.actions)),
                None => return,
            }
        };
        if actions.is_empty() {
            return;
        }
        if let Err(error) = self.0.store.append_device_actions(id, &actions).await {
            tracing::warn!(error = %error.message, "cannot write device actions to the audit trail");
        }
    }
}

/// Reports that `device` was asked to do `action`, with `result` ("ok" or
/// the device's error). Never pass a secret: actions name what was done,
/// not with which credentials. Outside an audited call it only logs.
pub async fn device_action(device: &str, action: &str, result: &str) {
    tracing::debug!(device, action, result, "device action");
    let Some(scope) = AuditScope::current() else {
        return;
    };
    scope.lock().actions.push(DeviceAction {
        at: now_rfc3339(),
        device: device.to_string(),
        action: action.to_string(),
        result: result.to_string(),
    });
    scope.flush().await;
}

//! In-process locks, one per object: a replica runs one operation per
//! object at a time (the journal's lease does the same across replicas).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{Mutex, MutexGuard};

/// One object's lock, and how many runs on it are queued or running here.
#[derive(Default)]
pub struct ObjectLock {
    lock: Mutex<()>,
    pending: AtomicUsize,
}

impl ObjectLock {
    pub async fn lock(&self) -> MutexGuard<'_, ()> {
        self.lock.lock().await
    }

    /// Whether this replica has a run of the object queued or running.
    pub fn busy(&self) -> bool {
        self.pending.load(Ordering::SeqCst) > 0
    }

    /// Counts a run as pending until the guard drops.
    pub fn pending(self: &Arc<Self>) -> Pending {
        self.pending.fetch_add(1, Ordering::SeqCst);
        Pending(self.clone())
    }
}

/// A run counted as pending on its object.
pub struct Pending(Arc<ObjectLock>);

impl Drop for Pending {
    fn drop(&mut self) {
        self.0.pending.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One lock per key, made on first use.
#[derive(Clone, Default)]
pub struct ObjectLocks(Arc<std::sync::Mutex<HashMap<String, Arc<ObjectLock>>>>);

impl ObjectLocks {
    pub fn of(&self, key: &str) -> Arc<ObjectLock> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(key.to_string())
            .or_default()
            .clone()
    }
}

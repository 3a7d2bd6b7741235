//! One async mutex per VM id: this driver changes one VM at a time, so two
//! hot-plugs on one VM queue here instead of colliding on PVE's config lock
//! (PVE gives up on a held lock with "can't lock file ... got timeout").

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

#[derive(Debug, Default)]
pub struct VmLocks {
    locks: Mutex<HashMap<u32, Arc<tokio::sync::Mutex<()>>>>,
}

impl VmLocks {
    pub async fn lock(&self, vmid: u32) -> OwnedMutexGuard<()> {
        let lock = {
            let mut map = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(vmid).or_default().clone()
        };
        lock.lock_owned().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn one_vm_at_a_time_but_vms_in_parallel() {
        let locks = VmLocks::default();
        let first = locks.lock(101).await;
        // Another VM is not held up.
        let other = tokio::time::timeout(Duration::from_millis(50), locks.lock(102)).await;
        assert!(other.is_ok());
        let same = tokio::time::timeout(Duration::from_millis(50), locks.lock(101)).await;
        assert!(same.is_err(), "the second writer on VM 101 waits");
        drop(first);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), locks.lock(101))
                .await
                .is_ok()
        );
    }
}

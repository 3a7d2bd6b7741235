//! The per-VM lock file PVE takes around every config write and task
//! (`lock_config`): writers wait for it a while and then give up with
//! "can't lock file '...' - got timeout".

use std::time::{Duration, Instant};

use super::state::Shared;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Exclusive,
    Shared,
}

pub fn timeout_message(vmid: u32) -> String {
    format!("can't lock file '/var/lock/qemu-server/lock-{vmid}.conf' - got timeout")
}

/// Waits for the lock. A VM that vanished meanwhile counts as locked: the
/// caller's next `load` reports it missing, as PVE would after the wait.
pub async fn acquire(shared: &Shared, vmid: u32, mode: Mode) -> Result<(), String> {
    let wait = Duration::from_millis(shared.lock().settings.lock_wait_ms);
    let deadline = Instant::now() + wait;
    loop {
        {
            let mut state = shared.lock();
            let Some(vm) = state.vms.get_mut(&vmid) else {
                return Ok(());
            };
            let free = match mode {
                Mode::Exclusive => !vm.flock.exclusive && vm.flock.shared == 0,
                Mode::Shared => !vm.flock.exclusive,
            };
            if free {
                match mode {
                    Mode::Exclusive => vm.flock.exclusive = true,
                    Mode::Shared => vm.flock.shared += 1,
                }
                return Ok(());
            }
            if Instant::now() >= deadline {
                state.lock_timeouts += 1;
                return Err(timeout_message(vmid));
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

pub fn release(shared: &Shared, vmid: u32, mode: Mode) {
    let mut state = shared.lock();
    if let Some(vm) = state.vms.get_mut(&vmid) {
        match mode {
            Mode::Exclusive => vm.flock.exclusive = false,
            Mode::Shared => vm.flock.shared = vm.flock.shared.saturating_sub(1),
        }
    }
}

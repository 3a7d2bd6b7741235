//! The VM power action. It holds the VM's lock, so it never interleaves
//! with the VM's operation.

use std::time::Duration;

use super::{no_cluster, Vms};
use crate::actions::Progress;
use crate::drivers::bmc::PowerAction;
use crate::drivers::hypervisor::{PowerState, VmRef};
use crate::error::ApiError;
use crate::gateways::driver_error;
use crate::operations::ObjectKind;

/// How long a guest may take to shut down before it is stopped hard.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(120);

impl Vms {
    pub async fn power_action(
        &self,
        id: &str,
        action: PowerAction,
        progress: &Progress,
    ) -> Result<(), ApiError> {
        let lock = self.operations.lock_of(ObjectKind::Vm, id);
        let _held = lock.lock().await;
        let row = self.row(id).await?;
        let site = self.site.site().await?;
        let pve = site.hypervisor.clone().ok_or_else(no_cluster)?;
        let vm = VmRef {
            node: row.node.clone(),
            vmid: row.vmid,
        };
        let what = format!("VM {} ({}/{})", row.name, vm.node, vm.vmid);
        progress.say(format!("{what}: {}", action.name()));
        match action {
            PowerAction::On => pve.start_vm(&vm).await,
            PowerAction::Off => pve.stop_vm(&vm).await,
            PowerAction::GracefulShutdown => pve.shutdown_vm(&vm, SHUTDOWN_TIMEOUT).await,
            // A VM has no power to cut: both stop it and start it again.
            PowerAction::Cycle | PowerAction::HardReset => {
                pve.stop_vm(&vm).await.map_err(driver_error)?;
                progress.say(format!("{what} is stopped; starting it"));
                pve.start_vm(&vm).await
            }
        }
        .map_err(driver_error)?;
        let power = pve.read_vm(&vm).await.map_err(driver_error)?.power;
        let state = match power {
            PowerState::Running => "running".to_string(),
            PowerState::Stopped => "stopped".to_string(),
            PowerState::Paused => "paused".to_string(),
            PowerState::Other(other) => other,
        };
        progress.say(format!("{what} is {state}"));
        Ok(())
    }
}

//! The server actions: power, and a one-time boot from an image. Each holds
//! the assignment's lock, so it never interleaves with its operation.

use super::Servers;
use crate::actions::Progress;
use crate::drivers::bmc::{PowerAction, PowerState};
use crate::drivers::ErrorClass;
use crate::error::ApiError;
use crate::gateways::driver_error;
use crate::operations::ObjectKind;

fn state_name(state: PowerState) -> &'static str {
    match state {
        PowerState::On => "on",
        PowerState::Off => "off",
    }
}

impl Servers {
    pub async fn power_action(
        &self,
        id: &str,
        action: PowerAction,
        progress: &Progress,
    ) -> Result<(), ApiError> {
        let lock = self.operations.lock_of(ObjectKind::Server, id);
        let _held = lock.lock().await;
        let row = self.row(id).await?;
        let bmc = self.bmc(&row.bms).await?;
        let before = bmc.power_state().await.map_err(driver_error)?;
        progress.say(format!(
            "{}: {} (it is {})",
            row.bms,
            action.name(),
            state_name(before)
        ));
        bmc.power(action).await.map_err(driver_error)?;
        let after = bmc.power_state().await.map_err(driver_error)?;
        progress.say(format!("{} is {}", row.bms, state_name(after)));
        Ok(())
    }

    /// Attaches `iso`, makes the next boot start it, and boots: powers the
    /// server on, or cycles it when it was on.
    pub async fn boot_media_action(
        &self,
        id: &str,
        iso: &str,
        progress: &Progress,
    ) -> Result<(), ApiError> {
        let source = self
            .store
            .iso_library()
            .await?
            .media_source(iso)
            .map_err(|e| e.field("iso"))?;
        let lock = self.operations.lock_of(ObjectKind::Server, id);
        let _held = lock.lock().await;
        let row = self.row(id).await?;
        let bmc = self.bmc(&row.bms).await?;
        progress.say(format!("{}: attaching {}", row.bms, source.image));
        bmc.attach_media(&source).await.map_err(driver_error)?;
        match bmc.boot_once_from_media().await {
            Err(err) if err.class == ErrorClass::Unsupported => progress.say(format!(
                "{}: its BMC cannot set a one-time boot; it starts the image only if its boot order puts the CD first",
                row.bms
            )),
            other => {
                other.map_err(driver_error)?;
                progress.say(format!("{}: the next boot starts the image", row.bms));
            }
        }
        let action = match bmc.power_state().await.map_err(driver_error)? {
            PowerState::On => PowerAction::Cycle,
            PowerState::Off => PowerAction::On,
        };
        progress.say(format!("{}: {}", row.bms, action.name()));
        bmc.power(action).await.map_err(driver_error)?;
        progress.say(format!("{} is booting {}", row.bms, source.image));
        Ok(())
    }
}

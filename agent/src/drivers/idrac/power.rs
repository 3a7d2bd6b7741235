//! Power: read the state, and act on it. A power action whose answer was
//! lost is judged by the power state afterwards.

use super::command::Command;
use super::{classify, parse, Idrac, Repeat};
use crate::drivers::bmc::{PowerAction, PowerState};
use crate::drivers::error::{DriverError, ErrorClass};

/// How often, and how far apart, a power state in transition is read again.
const TRANSITION_READS: u32 = 20;
const TRANSITION_PAUSE: std::time::Duration = std::time::Duration::from_millis(500);

impl Idrac {
    /// The power state; while the server is `Powering ON|OFF`, asked again
    /// until it settles (ten seconds at most, then a transient error).
    pub(super) async fn read_power(&self, action: &str) -> Result<PowerState, DriverError> {
        let command = Command::racadm(["serveraction", "powerstatus"]);
        for _ in 0..TRANSITION_READS {
            let text = self.call(action, &command, Repeat::Safe).await?;
            match parse::power_status(&text) {
                Ok(Some(state)) => return Ok(state),
                Ok(None) => tokio::time::sleep(TRANSITION_PAUSE).await,
                Err(why) => return Err(self.unexpected(action, &command, why, &text)),
            }
        }
        Err(DriverError::transient(
            &self.target,
            action,
            "the server stayed in a power transition (Powering ON|OFF) for ten seconds",
        ))
    }

    pub(super) async fn power_action(
        &self,
        name: &str,
        action: PowerAction,
    ) -> Result<(), DriverError> {
        let verb = match action {
            PowerAction::On => "powerup",
            PowerAction::Off => "powerdown",
            PowerAction::GracefulShutdown => "graceshutdown",
            PowerAction::Cycle => "powercycle",
            PowerAction::HardReset => "hardreset",
        };
        let command = Command::racadm(["serveraction", verb]);
        // On, Off and GracefulShutdown name a state; the others are events.
        let reaches_state = matches!(
            action,
            PowerAction::On | PowerAction::Off | PowerAction::GracefulShutdown
        );
        let target_on = action.target() == PowerState::On;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let error = match self.call(name, &command, Repeat::Unsafe).await {
                Ok(text) => {
                    return parse::power_operation(&text)
                        .map_err(|why| self.unexpected(name, &command, why, &text))
                }
                Err(error) => error,
            };
            if reaches_state
                && error.class == ErrorClass::Permanent
                && classify::already_powered(&error.message, target_on)
            {
                return Ok(());
            }
            if error.class != ErrorClass::MaybeApplied {
                return Err(error);
            }
            // The answer was lost: the power state tells what happened.
            let now = self.read_power(name).await?;
            if reaches_state && now == action.target() {
                return Ok(());
            }
            // Still in the old state after a plain on/off: it did not happen.
            if matches!(action, PowerAction::On | PowerAction::Off) && attempts < 3 {
                continue;
            }
            return Err(DriverError::maybe_applied(
                &self.target,
                name,
                format!("{}; the server is now powered {now:?}, which does not tell whether it happened", error.message),
            ));
        }
    }
}

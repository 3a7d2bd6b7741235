//! The VNC console: read the iDRAC's VNC server settings and change only
//! what differs, in an order that never leaves it listening with old ones.

use super::command::{check_word, Command};
use super::{parse, Idrac, Repeat};
use crate::drivers::bmc::VncSettings;
use crate::drivers::error::DriverError;

/// VNC authentication uses eight characters; an iDRAC silently keeps only
/// the first eight of a longer password.
const VNC_PASSWORD_MAX: usize = 8;

impl Idrac {
    pub(super) async fn read_vnc(&self, action: &str) -> Result<VncSettings, DriverError> {
        let command = Command::racadm(["get", "iDRAC.VNCServer"]);
        let text = self.call(action, &command, Repeat::Safe).await?;
        parse::vnc(&text).map_err(|why| self.unexpected(action, &command, why, &text))
    }

    pub(super) async fn write_vnc(&self, wanted: &VncSettings) -> Result<(), DriverError> {
        const ACTION: &str = "set console settings";
        if let Some(password) = &wanted.password {
            let length = password.expose().chars().count();
            if length == 0
                || length > VNC_PASSWORD_MAX
                || check_word("VNC password", password.expose()).is_err()
            {
                return Err(DriverError::permanent(
                    &self.target,
                    ACTION,
                    format!(
                        "a VNC password has 1 to {VNC_PASSWORD_MAX} printable characters \
                         (the iDRAC would silently keep only the first {VNC_PASSWORD_MAX}); this one has {length}"
                    ),
                ));
            }
        }
        let current = self.read_vnc(ACTION).await?;
        // Password, port and timeout before enabling, so the server never
        // listens with old settings; disabling goes first.
        let mut sets: Vec<Command> = Vec::new();
        let set =
            |attr: &str| Command::racadm(["set".to_string(), format!("iDRAC.VNCServer.{attr}")]);
        if !wanted.enabled && current.enabled {
            sets.push(set("Enable").arg("0"));
        }
        if let Some(password) = &wanted.password {
            sets.push(set("Password").secret(password));
        }
        if wanted.port != current.port {
            sets.push(set("Port").arg(wanted.port.to_string()));
        }
        if wanted.timeout_secs != current.timeout_secs {
            sets.push(set("Timeout").arg(wanted.timeout_secs.to_string()));
        }
        if wanted.enabled && !current.enabled {
            sets.push(set("Enable").arg("1"));
        }
        for command in sets {
            // Setting a value twice is harmless, so a lost answer is retried.
            let text = self.call(ACTION, &command, Repeat::Safe).await?;
            parse::object_modified(&text)
                .map_err(|why| self.unexpected(ACTION, &command, why, &text))?;
        }
        Ok(())
    }
}

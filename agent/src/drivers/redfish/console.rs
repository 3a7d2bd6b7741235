//! The console: an iDRAC9's VNC server, through Dell's manager attributes
//! (`VNCServer.1.*` under `/redfish/v1/Managers/<id>/Oem/Dell/DellAttributes/<id>`
//! on current firmware, `/redfish/v1/Managers/<id>/Attributes` on older). Redfish
//! itself has no VNC settings, so other BMCs report the console
//! unsupported, and the assignment says it has none.

use serde_json::{json, Map, Value};

use super::Redfish;
use crate::drivers::bmc::VncSettings;
use crate::drivers::error::{DriverError, ErrorClass};

/// VNC authentication uses eight characters.
const VNC_PASSWORD_MAX: usize = 8;

/// The VNC settings in Dell's attributes, if the BMC has them.
pub(super) fn vnc_from_attributes(attributes: &Value) -> Option<VncSettings> {
    let enabled = attributes["VNCServer.1.Enable"].as_str()?;
    let number = |key: &str| {
        let value = &attributes[key];
        value
            .as_u64()
            .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
    };
    Some(VncSettings {
        enabled: enabled.eq_ignore_ascii_case("Enabled"),
        port: number("VNCServer.1.Port").and_then(|p| u16::try_from(p).ok())?,
        timeout_secs: number("VNCServer.1.Timeout").and_then(|t| u32::try_from(t).ok())?,
        password: None,
    })
}

impl Redfish {
    /// Where the manager keeps Dell's attributes, with their VNC settings.
    async fn dell_attributes(&self, action: &str) -> Result<(String, VncSettings), DriverError> {
        let manager = self
            .paths(action)
            .await?
            .manager
            .ok_or_else(|| self.no_console(action))?;
        let manager = manager.trim_end_matches('/');
        let id = manager.rsplit('/').next().unwrap_or_default();
        for path in [
            format!("{manager}/Oem/Dell/DellAttributes/{id}"),
            format!("{manager}/Attributes"),
        ] {
            match self.get(action, &path).await {
                Ok(reply) => {
                    if let Some(vnc) = vnc_from_attributes(&reply.body["Attributes"]) {
                        return Ok((path, vnc));
                    }
                }
                Err(error)
                    if matches!(error.class, ErrorClass::NotFound | ErrorClass::Permanent) => {}
                Err(error) => return Err(error),
            }
        }
        Err(self.no_console(action))
    }

    fn no_console(&self, action: &str) -> DriverError {
        DriverError::unsupported(
            &self.target,
            action,
            "the BMC offers no VNC console over Redfish (it has no Dell VNCServer attributes)",
        )
    }

    pub(super) async fn read_vnc(&self, action: &str) -> Result<VncSettings, DriverError> {
        Ok(self.dell_attributes(action).await?.1)
    }

    pub(super) async fn write_vnc(&self, wanted: &VncSettings) -> Result<(), DriverError> {
        const ACTION: &str = "set console settings";
        if let Some(password) = &wanted.password {
            let length = password.expose().chars().count();
            if length == 0 || length > VNC_PASSWORD_MAX {
                return Err(DriverError::permanent(
                    &self.target,
                    ACTION,
                    format!("a VNC password has 1 to {VNC_PASSWORD_MAX} characters; this one has {length}"),
                ));
            }
        }
        let (path, current) = self.dell_attributes(ACTION).await?;
        let mut changes = Map::new();
        if !wanted.enabled {
            // Off first and alone: nothing else matters to a closed server.
            if current.enabled {
                changes.insert("VNCServer.1.Enable".into(), json!("Disabled"));
            }
        } else {
            if let Some(password) = &wanted.password {
                changes.insert("VNCServer.1.Password".into(), json!(password.expose()));
            }
            if wanted.port != current.port {
                changes.insert("VNCServer.1.Port".into(), json!(wanted.port));
            }
            if wanted.timeout_secs != current.timeout_secs {
                changes.insert("VNCServer.1.Timeout".into(), json!(wanted.timeout_secs));
            }
            if !current.enabled {
                changes.insert("VNCServer.1.Enable".into(), json!("Enabled"));
            }
        }
        if changes.is_empty() {
            return Ok(());
        }
        let reply = self
            .patch(ACTION, &path, &json!({ "Attributes": changes }))
            .await?;
        self.finish(ACTION, reply).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dell_attributes_hold_the_vnc_server() {
        let attributes = json!({"VNCServer.1.Enable": "Enabled", "VNCServer.1.Port": 5901,
            "VNCServer.1.Timeout": 300, "VNCServer.1.Password": "******"});
        assert_eq!(
            vnc_from_attributes(&attributes),
            Some(VncSettings {
                enabled: true,
                port: 5901,
                timeout_secs: 300,
                password: None
            })
        );
        assert_eq!(
            vnc_from_attributes(&json!({"SNMP.1.AgentEnable": "Enabled"})),
            None
        );
    }
}

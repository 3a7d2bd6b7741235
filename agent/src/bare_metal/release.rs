//! Ending an assignment: the release policy (eject, power off, optional
//! disk erase, optional BMC reset), the NIC unplugged and the gateway reconfigured, the server freed
//! — or quarantined when its release failed, so nobody gets a server in an
//! unknown state. A server the default project's gateway exists for is
//! plugged into that gateway again, as Giif keeps idle hardware.

use super::Servers;
use crate::drivers::bmc::PowerAction;
use crate::error::ApiError;
use crate::operations::step;

impl Servers {
    /// The release operation; its result is a warning saying why the server
    /// was quarantined or what could not be cleaned up (empty when none).
    pub(super) async fn release(&self, id: &str) -> Result<String, ApiError> {
        let Some(row) = self.store.bms_assignment(id).await? else {
            return Ok(String::new());
        };
        step("release policy: media, power, BMC").await?;
        let release = &row.doc.release;
        let mut failures = Vec::new();
        match self.bmc(&row.bms).await {
            Ok(bmc) => {
                if release.eject_media {
                    if let Err(err) = bmc.detach_media().await {
                        failures.push(format!("ejecting the virtual media failed: {err}"));
                    }
                }
                if release.power_off {
                    if let Err(err) = bmc.power(PowerAction::Off).await {
                        failures.push(format!("powering off failed: {err}"));
                    }
                }
                if release.erase {
                    step("erase disks").await?;
                    if let Err(err) = bmc.erase_disks().await {
                        failures.push(format!("erasing the disks failed: {err}"));
                    }
                }
                if release.reset == "bmc" {
                    if let Err(err) = bmc.reset_bmc().await {
                        failures.push(format!("resetting the iDRAC failed: {err}"));
                    }
                }
            }
            Err(err) => failures.push(err.message),
        }
        let vlan = self
            .store
            .bms_inventory()
            .await?
            .into_iter()
            .find(|s| s.name == row.bms)
            .map(|s| s.vlan as u16);
        step("server NIC off the project gateway").await?;
        if let (Some(gw_id), Some(vlan)) = (&row.pagw_id, vlan) {
            if let Some(gw) = self.store.gateway(gw_id).await? {
                self.unplug(&gw, vlan).await?;
            }
        }
        // The next tenant must not inherit this one's console.
        step("console off").await?;
        if let Ok(bmc) = self.bmc(&row.bms).await {
            if let Ok(mut settings) = bmc.console_settings().await {
                if settings.enabled {
                    settings.enabled = false;
                    settings.password = None;
                    if let Err(err) = bmc.set_console_settings(&settings).await {
                        failures.push(format!("turning off the VNC console failed: {err}"));
                    }
                }
            }
        }
        if let Err(err) = self.consoles.remove_bms(&row.id).await {
            failures.push(format!(
                "removing the Guacamole console failed: {}",
                err.message
            ));
        }
        step("project gateway without the server").await?;
        let mut warnings = Vec::new();
        if let Err(err) = self.gateways.reconfigure(&row.project_id).await {
            warnings.push(format!(
                "The project's gateway could not be reconfigured without the server's VLAN: {}",
                err.message
            ));
        }
        step("server back to the pool").await?;
        let quarantine = (!failures.is_empty()).then(|| failures.join("; "));
        self.store
            .end_bms_assignment(&row.id, &row.bms, quarantine.as_deref())
            .await?;
        if let Some(reason) = &quarantine {
            tracing::warn!(bms = %row.bms, reason = %reason, "server quarantined");
            warnings.push(format!(
                "Server {} was released from its project but quarantined, not returned to the pool: {reason}. \
                 An operator must check it before it can be assigned again.",
                row.bms
            ));
        }
        if quarantine.is_none() {
            if let (Some(idle), Some(vlan)) = (self.default_gateway().await?, vlan) {
                let replugged = match self.plug(&idle, vlan, None, None).await {
                    Ok(_) => self.gateways.reconfigure(&idle.project_id).await,
                    Err(err) => Err(err),
                };
                if let Err(err) = replugged {
                    warnings.push(format!(
                        "Server {} could not be plugged back into the default project's gateway: {}",
                        row.bms, err.message
                    ));
                }
            }
            tracing::info!(bms = %row.bms, "server released to the pool");
        }
        Ok(warnings.join("\n"))
    }
}

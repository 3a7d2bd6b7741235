//! Actions (Terraform's `action` blocks): one imperative change to a
//! device, with its progress streamed to the caller. An action waits for
//! the object's running operation, leaves the desired spec alone and is
//! audited like any change; its device calls go through the same drivers
//! as the operations', and are recorded beside its audit record.

mod progress;

pub use progress::Progress;

use giif_proto::agent as api;

use crate::bare_metal::Servers;
use crate::drivers::bmc::PowerAction;
use crate::error::ApiError;
use crate::gateways::Gateways;
use crate::vms::Vms;

/// What an action changes, with the references resolved.
pub enum Action {
    ServerPower { server: String, change: PowerAction },
    ServerBootMedia { server: String, iso: String },
    VmPower { vm: String, change: PowerAction },
    GatewayReapply { gateway: String },
}

/// The object an action works on: its id and project, for the gate.
pub struct Target {
    pub id: String,
    pub project_id: String,
}

impl Action {
    /// The action a request asks for; bad input names its field.
    pub fn from_request(request: &api::RunActionRequest) -> Result<Self, ApiError> {
        use api::run_action_request::Action as Asked;
        let reference = |value: &str, field: &str, what: &str| {
            let value = value.trim();
            if value.is_empty() {
                Err(ApiError::invalid(format!("{field} is empty; name {what}")).field(field))
            } else {
                Ok(value.to_string())
            }
        };
        Ok(match &request.action {
            None => {
                return Err(ApiError::invalid(
                    "the request names no action; set server_power, server_boot_media, vm_power or gateway_reapply",
                )
                .field("action"))
            }
            Some(Asked::ServerPower(power)) => Action::ServerPower {
                server: reference(&power.server, "server_power.server", "the server or its assignment")?,
                change: power_action(power.change, "server_power.change")?,
            },
            Some(Asked::ServerBootMedia(boot)) => Action::ServerBootMedia {
                server: reference(&boot.server, "server_boot_media.server", "the server or its assignment")?,
                iso: reference(&boot.iso, "server_boot_media.iso", "an image of the ISO library or a location")?,
            },
            Some(Asked::VmPower(power)) => Action::VmPower {
                vm: reference(&power.vm, "vm_power.vm", "the VM")?,
                change: power_action(power.change, "vm_power.change")?,
            },
            Some(Asked::GatewayReapply(gateway)) => Action::GatewayReapply {
                gateway: reference(&gateway.gateway, "gateway_reapply.gateway", "the gateway or its project")?,
            },
        })
    }
}

fn power_action(change: i32, field: &str) -> Result<PowerAction, ApiError> {
    use api::PowerChange;
    match PowerChange::try_from(change) {
        Ok(PowerChange::On) => Ok(PowerAction::On),
        Ok(PowerChange::Off) => Ok(PowerAction::Off),
        Ok(PowerChange::Shutdown) => Ok(PowerAction::GracefulShutdown),
        Ok(PowerChange::Cycle) => Ok(PowerAction::Cycle),
        Ok(PowerChange::Reset) => Ok(PowerAction::HardReset),
        Ok(PowerChange::Unspecified) | Err(_) => Err(ApiError::invalid(format!(
            "{field} is not one of on, off, shutdown, cycle or reset"
        ))
        .field(field)),
    }
}

/// The domains actions work on.
#[derive(Clone)]
pub struct Actions {
    servers: Servers,
    vms: Vms,
    gateways: Gateways,
}

impl Actions {
    pub fn new(servers: Servers, vms: Vms, gateways: Gateways) -> Self {
        Self {
            servers,
            vms,
            gateways,
        }
    }

    /// The object `action` works on; one that does not exist is not found.
    pub async fn target(&self, action: &Action) -> Result<Target, ApiError> {
        match action {
            Action::ServerPower { server, .. } | Action::ServerBootMedia { server, .. } => {
                let found = self.servers.get(server, false).await?;
                let project_id = found.spec.map(|s| s.project_id).unwrap_or_default();
                Ok(Target {
                    id: found.id,
                    project_id,
                })
            }
            Action::VmPower { vm, .. } => {
                let found = self.vms.get(vm, false).await?;
                let project_id = found.spec.map(|s| s.project_id).unwrap_or_default();
                Ok(Target {
                    id: found.id,
                    project_id,
                })
            }
            Action::GatewayReapply { gateway } => {
                let found = self.gateways.get(gateway, false).await?;
                let project_id = found.spec.map(|s| s.project_id).unwrap_or_default();
                Ok(Target {
                    id: found.id,
                    project_id,
                })
            }
        }
    }

    /// Runs `action` on `target`, saying how far it got.
    pub async fn run(
        &self,
        action: &Action,
        target: &Target,
        progress: &Progress,
    ) -> Result<(), ApiError> {
        match action {
            Action::ServerPower { change, .. } => {
                self.servers
                    .power_action(&target.id, *change, progress)
                    .await
            }
            Action::ServerBootMedia { iso, .. } => {
                self.servers
                    .boot_media_action(&target.id, iso, progress)
                    .await
            }
            Action::VmPower { change, .. } => {
                self.vms.power_action(&target.id, *change, progress).await
            }
            Action::GatewayReapply { .. } => {
                progress.say(format!(
                    "pushing the configuration to gateway {}",
                    target.id
                ));
                self.gateways.reconfigure(&target.project_id).await?;
                progress.say(format!("gateway {} applied its configuration", target.id));
                Ok(())
            }
        }
    }
}

//! The BMC capability over Redfish: the trait's entry points; power with its wait for the new state; system facts;
//! the BMC's restart; drive erasure.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::{json, Value};

use super::paths::{action_target, link, members};
use super::tasks::job_status;
use super::Redfish;
use crate::drivers::bmc::{
    Bmc, JobId, JobStatus, MediaSource, MediaStatus, PowerAction, PowerState, ProfileLocation,
    SystemInfo, VncSettings,
};
use crate::drivers::error::{DriverError, ErrorClass};
use crate::drivers::retry::{retry, RetryPolicy};

/// How long to wait for a BMC to come back after its restart, at least.
const RESET_WAIT: Duration = Duration::from_secs(300);

/// A power state, or `None` while it is changing (`PoweringOn|Off`).
fn power_of(system: &Value) -> Result<Option<PowerState>, String> {
    match system["PowerState"].as_str() {
        Some("On") => Ok(Some(PowerState::On)),
        Some("Off") => Ok(Some(PowerState::Off)),
        Some("PoweringOn" | "PoweringOff" | "Paused") => Ok(None),
        Some(other) => Err(format!("PowerState {other:?} is not a Redfish power state")),
        None => Err("the system has no PowerState".into()),
    }
}

/// The `ResetType` for an action, among those the system allows (all of
/// Redfish's when it does not say).
fn reset_type(action: PowerAction, allowed: &[String]) -> Option<&'static str> {
    let offered = |name: &str| allowed.is_empty() || allowed.iter().any(|a| a == name);
    let choices: &[&'static str] = match action {
        PowerAction::On => &["On", "ForceOn"],
        PowerAction::Off => &["ForceOff"],
        PowerAction::GracefulShutdown => &["GracefulShutdown"],
        PowerAction::Cycle => &["PowerCycle", "ForceRestart"],
        PowerAction::HardReset => &["ForceRestart"],
    };
    choices.iter().copied().find(|c| offered(c))
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[async_trait]
impl Bmc for Redfish {
    fn target(&self) -> &str {
        &self.target
    }

    async fn power_state(&self) -> Result<PowerState, DriverError> {
        self.read_power("power status").await
    }

    async fn power(&self, action: PowerAction) -> Result<(), DriverError> {
        self.power_action(action.name(), action).await
    }

    async fn media_status(&self) -> Result<MediaStatus, DriverError> {
        self.read_media("media status").await
    }

    async fn attach_media(&self, source: &MediaSource) -> Result<(), DriverError> {
        self.insert(source).await
    }

    async fn detach_media(&self) -> Result<(), DriverError> {
        self.eject("detach media").await
    }

    async fn boot_once_from_media(&self) -> Result<(), DriverError> {
        self.boot_once_from_cd().await
    }

    async fn console_settings(&self) -> Result<VncSettings, DriverError> {
        self.read_vnc("console settings").await
    }

    async fn set_console_settings(&self, settings: &VncSettings) -> Result<(), DriverError> {
        self.write_vnc(settings).await
    }

    async fn system_info(&self) -> Result<SystemInfo, DriverError> {
        self.read_system_info().await
    }

    async fn reset_bmc(&self) -> Result<(), DriverError> {
        self.restart_manager().await
    }

    async fn export_profile(&self, _to: &ProfileLocation) -> Result<JobId, DriverError> {
        Err(self.no_profiles("export profile"))
    }

    async fn import_profile(&self, _from: &ProfileLocation) -> Result<JobId, DriverError> {
        Err(self.no_profiles("import profile"))
    }

    async fn job_status(&self, job: &JobId) -> Result<JobStatus, DriverError> {
        const ACTION: &str = "job status";
        if job.0.is_empty() || job.0.contains(['/', '?', '#']) {
            return Err(DriverError::permanent(
                &self.target,
                ACTION,
                format!("{:?} is not a task id", job.0),
            ));
        }
        let task = self
            .get(ACTION, &format!("/redfish/v1/TaskService/Tasks/{}", job.0))
            .await?
            .body;
        job_status(job, &task).ok_or_else(|| {
            DriverError::permanent(&self.target, ACTION, "the BMC's task has no TaskState")
        })
    }

    async fn erase_disks(&self) -> Result<(), DriverError> {
        self.secure_erase().await
    }
}

impl Redfish {
    fn no_profiles(&self, action: &str) -> DriverError {
        DriverError::unsupported(&self.target,
            action,
            "configuration profiles are exported and imported over racadm; this BMC is driven over Redfish",
        )
    }

    async fn system(&self, action: &str) -> Result<Value, DriverError> {
        let path = self.paths(action).await?.system;
        Ok(self.get(action, &path).await?.body)
    }

    /// The power state; while it is changing, asked again until it settles.
    async fn read_power(&self, action: &str) -> Result<PowerState, DriverError> {
        let started = Instant::now();
        loop {
            let system = self.system(action).await?;
            match power_of(&system) {
                Ok(Some(state)) => return Ok(state),
                Ok(None) if started.elapsed() < self.config.power_wait => {
                    tokio::time::sleep(self.config.poll).await
                }
                Ok(None) => {
                    return Err(DriverError::transient(
                        &self.target,
                        action,
                        format!(
                            "the server stayed in a power transition for {} s",
                            self.config.power_wait.as_secs()
                        ),
                    ))
                }
                Err(why) => return Err(DriverError::permanent(&self.target, action, why)),
            }
        }
    }

    async fn power_action(&self, name: &str, action: PowerAction) -> Result<(), DriverError> {
        let system = self.system(name).await?;
        let now =
            power_of(&system).map_err(|why| DriverError::permanent(&self.target, name, why))?;
        let target = action.target();
        let reaches_state = matches!(
            action,
            PowerAction::On | PowerAction::Off | PowerAction::GracefulShutdown
        );
        if reaches_state && now == Some(target) {
            return Ok(());
        }
        let reset = &system["Actions"]["#ComputerSystem.Reset"];
        let path = action_target(&system, "#ComputerSystem.Reset").ok_or_else(|| {
            DriverError::unsupported(
                &self.target,
                name,
                "the system offers no ComputerSystem.Reset action",
            )
        })?;
        let allowed = strings(&reset["ResetType@Redfish.AllowableValues"]);
        let reset_type = reset_type(action, &allowed).ok_or_else(|| {
            DriverError::unsupported(
                &self.target,
                name,
                format!(
                    "the system allows only the reset types {}",
                    allowed.join(", ")
                ),
            )
        })?;
        match self
            .post(name, &path, &json!({ "ResetType": reset_type }))
            .await
        {
            Ok(reply) => self.finish(name, reply).await?,
            // The answer was lost: the wait below tells what happened.
            Err(error) if error.class == ErrorClass::MaybeApplied => {
                tracing::info!(target_device = %self.target, action = name, "answer lost; reading the power state")
            }
            Err(error) => return Err(error),
        }
        self.await_power(name, target).await
    }

    /// Waits until the server shows `target` (BMCs apply power a while later).
    async fn await_power(&self, name: &str, target: PowerState) -> Result<(), DriverError> {
        let started = Instant::now();
        loop {
            let system = self.system(name).await?;
            if power_of(&system).ok().flatten() == Some(target) {
                return Ok(());
            }
            if started.elapsed() > self.config.power_wait {
                return Err(DriverError::maybe_applied(
                    &self.target,
                    name,
                    format!(
                        "the server is not powered {} {} s after the request",
                        if target == PowerState::On {
                            "on"
                        } else {
                            "off"
                        },
                        self.config.power_wait.as_secs()
                    ),
                ));
            }
            tokio::time::sleep(self.config.poll).await;
        }
    }

    async fn read_system_info(&self) -> Result<SystemInfo, DriverError> {
        const ACTION: &str = "system info";
        let paths = self.paths(ACTION).await?;
        let system = self.get(ACTION, &paths.system).await?.body;
        let text = |value: &Value| value.as_str().unwrap_or_default().trim().to_string();
        let power = power_of(&system)
            .map_err(|why| DriverError::permanent(&self.target, ACTION, why))?
            .unwrap_or(PowerState::Off);
        // Dell puts the service tag in SKU; others use SerialNumber.
        let service_tag = match text(&system["SKU"]) {
            tag if !tag.is_empty() => tag,
            _ => text(&system["SerialNumber"]),
        };
        let mut nic_macs = Vec::new();
        if let Some(nics) = link(&system, "EthernetInterfaces") {
            for nic in members(&self.get(ACTION, &nics).await?.body) {
                let doc = self.get(ACTION, &nic).await?.body;
                let mac = text(&doc["MACAddress"]).to_lowercase();
                if !mac.is_empty() {
                    nic_macs.push(mac);
                }
            }
        }
        let (mut bmc_firmware, mut bmc_mac) = (String::new(), String::new());
        if let Some(manager) = &paths.manager {
            let doc = self.get(ACTION, manager).await?.body;
            bmc_firmware = text(&doc["FirmwareVersion"]);
            if let Some(nics) = link(&doc, "EthernetInterfaces") {
                if let Some(first) = members(&self.get(ACTION, &nics).await?.body).first() {
                    bmc_mac =
                        text(&self.get(ACTION, first).await?.body["MACAddress"]).to_lowercase();
                }
            }
        }
        Ok(SystemInfo {
            model: text(&system["Model"]),
            service_tag,
            bios_version: text(&system["BiosVersion"]),
            bmc_firmware,
            bmc_mac,
            power,
            nic_macs,
        })
    }

    async fn restart_manager(&self) -> Result<(), DriverError> {
        const ACTION: &str = "reset bmc";
        let manager = self.paths(ACTION).await?.manager.ok_or_else(|| {
            DriverError::unsupported(&self.target, ACTION, "the system names no manager")
        })?;
        let doc = self.get(ACTION, &manager).await?.body;
        let reset = &doc["Actions"]["#Manager.Reset"];
        let path = action_target(&doc, "#Manager.Reset").ok_or_else(|| {
            DriverError::unsupported(
                &self.target,
                ACTION,
                "the manager offers no Manager.Reset action",
            )
        })?;
        let allowed = strings(&reset["ResetType@Redfish.AllowableValues"]);
        let kind = if allowed.is_empty() || allowed.iter().any(|a| a == "GracefulRestart") {
            "GracefulRestart"
        } else {
            "ForceRestart"
        };
        self.post(ACTION, &path, &json!({ "ResetType": kind }))
            .await?;
        // The session dies with the BMC; wait until the service answers.
        self.log_out().await;
        let patient = RetryPolicy {
            deadline: self.config.retry.deadline.max(RESET_WAIT),
            ..self.config.retry
        };
        tokio::time::sleep(self.config.poll).await;
        retry(patient, || async {
            match self.get(ACTION, "/redfish/v1/").await {
                Err(error) if error.class == ErrorClass::Permanent => Err(error),
                Err(error) => Err(DriverError::transient(&self.target, ACTION, error.message)),
                Ok(_) => Ok(()),
            }
        })
        .await
        .map_err(|e| {
            DriverError::new(
                e.class,
                &self.target,
                ACTION,
                format!(
                    "the restart started, but the BMC is not answering yet: {}",
                    e.message
                ),
            )
        })
    }

    /// `Drive.SecureErase` on every drive of every storage controller, each
    /// run to its end; where a drive does not offer it, an iDRAC9's System
    /// Erase of the drives (cryptographic where they can, overwrite where
    /// not). A BMC with neither cannot erase.
    async fn secure_erase(&self) -> Result<(), DriverError> {
        match self.erase_each_drive().await {
            Err(error) if error.class == ErrorClass::Unsupported => {
                match self.dell_system_erase().await? {
                    true => Ok(()),
                    false => Err(error),
                }
            }
            other => other,
        }
    }

    /// Dell's `DellLCService.SystemErase` of the physical disks, if the
    /// manager offers it; `false` when it does not.
    async fn dell_system_erase(&self) -> Result<bool, DriverError> {
        const ACTION: &str = "erase disks";
        let Some(manager) = self.paths(ACTION).await?.manager else {
            return Ok(false);
        };
        let service = format!("{}/Oem/Dell/DellLCService", manager.trim_end_matches('/'));
        let doc = match self.get(ACTION, &service).await {
            Ok(reply) => reply.body,
            Err(error) if matches!(error.class, ErrorClass::NotFound | ErrorClass::Permanent) => {
                return Ok(false)
            }
            Err(error) => return Err(error),
        };
        let erase = &doc["Actions"]["#DellLCService.SystemErase"];
        let Some(target) = action_target(&doc, "#DellLCService.SystemErase") else {
            return Ok(false);
        };
        let allowed = strings(&erase["Component@Redfish.AllowableValues"]);
        let components: Vec<&str> = ["CryptographicErasePD", "OverwritePD"]
            .into_iter()
            .filter(|c| allowed.is_empty() || allowed.iter().any(|a| a == c))
            .collect();
        if components.is_empty() {
            return Ok(false);
        }
        tracing::info!(target_device = %self.target, ?components, "Dell System Erase");
        let reply = self
            .post(ACTION, &target, &json!({ "Component": components }))
            .await?;
        self.finish(ACTION, reply).await?;
        Ok(true)
    }

    async fn erase_each_drive(&self) -> Result<(), DriverError> {
        const ACTION: &str = "erase disks";
        let system = self.system(ACTION).await?;
        let unsupported = |why: &str| {
            DriverError::unsupported(
                &self.target,
                ACTION,
                format!("{why}; the server's disks were not erased"),
            )
        };
        let storage =
            link(&system, "Storage").ok_or_else(|| unsupported("the system lists no Storage"))?;
        let controllers = match self.get(ACTION, &storage).await {
            Ok(reply) => members(&reply.body),
            Err(error)
                if error.class == ErrorClass::Permanent || error.class == ErrorClass::NotFound =>
            {
                return Err(unsupported(&format!(
                    "the BMC cannot list its storage ({})",
                    error.message
                )))
            }
            Err(error) => return Err(error),
        };
        let mut erasable = Vec::new();
        let mut without = Vec::new();
        for controller in controllers {
            let doc = self.get(ACTION, &controller).await?.body;
            for drive in doc["Drives"].as_array().into_iter().flatten() {
                let Some(drive) = drive["@odata.id"].as_str() else {
                    continue;
                };
                let doc = self.get(ACTION, drive).await?.body;
                match action_target(&doc, "#Drive.SecureErase") {
                    Some(target) => erasable.push((drive.to_string(), target)),
                    None => without.push(drive.to_string()),
                }
            }
        }
        if !without.is_empty() || erasable.is_empty() {
            let listed = if without.is_empty() {
                "no drive".to_string()
            } else {
                without.join(", ")
            };
            return Err(unsupported(&format!(
                "Drive.SecureErase is not offered by {listed}"
            )));
        }
        for (drive, target) in erasable {
            tracing::info!(target_device = %self.target, drive = %drive, "secure erase");
            let reply = self.post(ACTION, &target, &json!({})).await?;
            self.finish(ACTION, reply).await.map_err(|e| {
                DriverError::new(
                    e.class,
                    &self.target,
                    ACTION,
                    format!("{drive}: {}", e.message),
                )
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_types_follow_what_the_system_allows() {
        let sushy: Vec<String> = [
            "On",
            "ForceOff",
            "GracefulShutdown",
            "GracefulRestart",
            "ForceRestart",
            "Nmi",
            "ForceOn",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(reset_type(PowerAction::Cycle, &sushy), Some("ForceRestart"));
        assert_eq!(reset_type(PowerAction::Cycle, &[]), Some("PowerCycle"));
        assert_eq!(reset_type(PowerAction::Off, &sushy), Some("ForceOff"));
        assert_eq!(reset_type(PowerAction::Off, &["On".to_string()]), None);
    }

    #[test]
    fn power_states_in_transition_are_asked_again() {
        assert_eq!(
            power_of(&json!({"PowerState": "On"})),
            Ok(Some(PowerState::On))
        );
        assert_eq!(power_of(&json!({"PowerState": "PoweringOff"})), Ok(None));
        assert!(power_of(&json!({})).is_err());
    }
}

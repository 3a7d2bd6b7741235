//! `giif-agent site check`: asks every device of the inventory who and how
//! it is, through the real drivers, and reports one line per device.

use std::time::Duration;

use crate::drivers::bmc::PowerState;
use crate::drivers::hypervisor::PowerState as VmPower;
use crate::drivers::retry::RetryPolicy;
use crate::drivers::DriverError;
use crate::site::Site;
use crate::store::Store;

/// One device's answer.
#[derive(Debug)]
pub struct DeviceCheck {
    pub device: String,
    pub outcome: Result<String, DriverError>,
}

/// A check gives each device a few seconds, not the minute a change gets.
pub fn check_retry_policy() -> RetryPolicy {
    RetryPolicy {
        first_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(1),
        deadline: Duration::from_secs(5),
    }
}

/// How long to wait for a gateway that is not there: gateways exist only
/// while a project's gateway VM runs, so absence is normal.
const GATEWAY_PROBE: Duration = Duration::from_millis(500);

pub async fn check_site(site: &Site, store: &Store) -> Vec<DeviceCheck> {
    let mut checks = Vec::new();
    let inventory = store.bms_inventory().await.unwrap_or_default();
    for (name, bmc) in &site.bmcs {
        let outcome = bmc.system_info().await.and_then(|info| {
            let expected = inventory.iter().find(|s| &s.name == name).map(|s| s.service_tag.clone());
            match expected {
                // A BMC that reports no service tag cannot contradict one.
                Some(tag) if !info.service_tag.is_empty() && tag != info.service_tag => Err(DriverError::permanent(
                    bmc.target(),
                    "getsysinfo",
                    format!("the BMC reports service tag {} but the inventory says {tag}: is the address right?", info.service_tag),
                )),
                _ => Ok(format!(
                    "{} {} power {}, BMC firmware {}",
                    info.model,
                    info.service_tag,
                    match info.power {
                        PowerState::On => "on",
                        PowerState::Off => "off",
                    },
                    info.bmc_firmware
                )),
            }
        });
        checks.push(DeviceCheck {
            device: bmc.target().replacen(':', " ", 1),
            outcome,
        });
    }
    if let (Some(hypervisor), Ok(Some(pve))) = (&site.hypervisor, store.proxmox_inventory().await) {
        for node in &pve.nodes {
            let outcome = hypervisor.list_vms(&node.name).await.map(|vms| {
                let templates = vms.iter().filter(|v| v.template).count();
                let running = vms.iter().filter(|v| v.power == VmPower::Running).count();
                format!(
                    "{} VMs ({templates} templates, {running} running)",
                    vms.len()
                )
            });
            checks.push(DeviceCheck {
                device: format!("proxmox {}", node.name),
                outcome,
            });
        }
    }
    for (ip, gateway) in &site.gateways {
        let outcome = match gateway.wait_until_reachable(GATEWAY_PROBE).await {
            Ok(live) => Ok(match live.config {
                Some(_) if live.matches_stored => "gateway up, configuration in force".to_string(),
                Some(_) => {
                    "gateway up, live state differs from its stored configuration".to_string()
                }
                None => "gateway up, not configured yet".to_string(),
            }),
            Err(err) if err.is_transient() => Ok("no gateway running in this slot".to_string()),
            Err(err) => Err(err),
        };
        checks.push(DeviceCheck {
            device: format!("pagw {ip}"),
            outcome,
        });
    }
    checks
}

//! Gateways follow their VMs: a VM cloned from the PAGW template that
//! starts with a slot's public IP in its cloud-init `ipconfig1` (or
//! `ipconfig0`) becomes that slot's gateway; stopping it takes the gateway
//! down (its disk stays), deleting it forgets the gateway.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::broadcast;

use giif_pagw::Cidr;
use russh::keys::PublicKey;

use super::guest::{CloudInit, GuestVm};
use super::slot::Slot;
use crate::events::VmEvent;
use crate::faults::Faults;
use crate::pve::percent_decode;

/// How long a gateway takes from VM start to answering SSH, unless the
/// endpoint's `task_duration_ms` knob says otherwise.
pub const DEFAULT_BOOT: Duration = Duration::from_millis(250);

pub fn spawn(
    slots: Arc<Vec<Arc<Slot>>>,
    pagw_template: Option<u32>,
    faults: Faults,
    mut events: broadcast::Receiver<VmEvent>,
) {
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(event) => handle(&slots, pagw_template, &faults, event),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "PAGW fleet missed VM events");
                }
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    });
}

pub fn handle(slots: &[Arc<Slot>], pagw_template: Option<u32>, faults: &Faults, event: VmEvent) {
    match event {
        VmEvent::Started {
            node,
            vmid,
            template,
            config,
        } => {
            if template.is_none() || template != pagw_template {
                return;
            }
            let claimed =
                cloud_init_addresses(&config)
                    .into_iter()
                    .find_map(|(net, wan, gateway)| {
                        let slot = slots
                            .iter()
                            .find(|s| s.spec.public_ip == wan.address.to_string())?;
                        Some((slot, net, wan, gateway))
                    });
            let Some((slot, net, wan, gateway)) = claimed else {
                tracing::debug!(
                    vmid,
                    "a PAGW VM started without any slot's address in its ipconfig"
                );
                return;
            };
            let cloud_init = CloudInit {
                net,
                wan,
                gateway,
                user: config
                    .get("ciuser")
                    .cloned()
                    .unwrap_or_else(|| slot.endpoint.user.clone()),
                authorized_keys: authorized_keys(&config),
            };
            let boot = faults.task_duration(&slot.fault_key(), DEFAULT_BOOT);
            let nets: BTreeMap<String, String> = config
                .into_iter()
                .filter(|(key, _)| is_net_key(key))
                .collect();
            let mut current = slot.vm();
            let vm = match current.take() {
                Some(mut vm) if vm.vmid == vmid => {
                    vm.node = node;
                    vm.nets = nets;
                    vm.cloud_init = cloud_init;
                    vm
                }
                previous => {
                    if let Some(previous) = previous {
                        tracing::warn!(vmid, previous = previous.vmid, ip = %slot.spec.public_ip, "a second PAGW VM claims this address; it replaces the first");
                    }
                    GuestVm::new(vmid, node, nets, cloud_init)
                }
            };
            let vm = current.insert(vm);
            vm.boot(Instant::now() + boot);
            tracing::info!(vmid, ip = %slot.spec.public_ip, boot_ms = boot.as_millis() as u64, "PAGW gateway booting");
            drop(current);
            slot.cut_sessions();
        }
        VmEvent::Reconfigured { vmid, config } => {
            // A NIC hot-plugged into a running gateway shows up as a new
            // interface, as the kernel would report it.
            for slot in slots {
                let mut current = slot.vm();
                if let Some(vm) = current.as_mut().filter(|vm| vm.vmid == vmid) {
                    vm.replug(
                        config
                            .iter()
                            .filter(|(key, _)| is_net_key(key))
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                    );
                    tracing::info!(vmid, ip = %slot.spec.public_ip, nics = vm.nets.len(), "PAGW gateway NICs changed");
                }
            }
        }
        VmEvent::Stopped { vmid } => {
            for slot in slots {
                let mut current = slot.vm();
                if let Some(vm) = current.as_mut().filter(|vm| vm.vmid == vmid) {
                    vm.stop();
                    drop(current);
                    tracing::info!(vmid, ip = %slot.spec.public_ip, "PAGW gateway stopped");
                    slot.cut_sessions();
                }
            }
        }
        VmEvent::Deleted { vmid } => {
            for slot in slots {
                let mut current = slot.vm();
                if current.as_ref().is_some_and(|vm| vm.vmid == vmid) {
                    *current = None;
                    drop(current);
                    tracing::info!(vmid, ip = %slot.spec.public_ip, "PAGW gateway deleted");
                    slot.cut_sessions();
                }
            }
        }
    }
}

fn is_net_key(key: &str) -> bool {
    key.strip_prefix("net")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The static addresses cloud-init configures, `ipconfig1` (the public
/// NIC, `net1`) first, then `ipconfig0`; each `ip=A/N[,gw=G]`, with the N
/// of its `netN`.
pub fn cloud_init_addresses(
    config: &BTreeMap<String, String>,
) -> Vec<(u32, Cidr, Option<Ipv4Addr>)> {
    [1, 0]
        .into_iter()
        .filter_map(|net| {
            let value = config.get(&format!("ipconfig{net}"))?;
            let mut address = None;
            let mut gateway = None;
            for part in value.split(',') {
                if let Some(ip) = part.strip_prefix("ip=") {
                    address = ip.parse::<Cidr>().ok();
                } else if let Some(gw) = part.strip_prefix("gw=") {
                    gateway = gw.parse().ok();
                }
            }
            address.map(|address| (net, address, gateway))
        })
        .collect()
}

/// The keys in cloud-init's `sshkeys`: Proxmox stores the value
/// URL-encoded, one OpenSSH public key per line.
pub fn authorized_keys(config: &BTreeMap<String, String>) -> Vec<PublicKey> {
    let Some(value) = config.get("sshkeys") else {
        return Vec::new();
    };
    percent_decode(value)
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| match PublicKey::from_openssh(line) {
            Ok(key) => Some(key),
            Err(err) => {
                tracing::debug!(error = %err, "PAGW guest: cloud-init skips an sshkeys line");
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wan_address_comes_from_ipconfig1_or_ipconfig0() {
        let mut config = BTreeMap::new();
        config.insert("ipconfig0".to_string(), "ip=192.168.212.1/24".to_string());
        config.insert(
            "ipconfig1".to_string(),
            "ip=203.0.113.10/24,gw=203.0.113.1".to_string(),
        );
        let found = cloud_init_addresses(&config);
        assert_eq!(found[0].0, 1);
        assert_eq!(found[0].1.to_string(), "203.0.113.10/24");
        assert_eq!(found[0].2, Some(Ipv4Addr::new(203, 0, 113, 1)));
        assert_eq!(found[1].0, 0);
        assert_eq!(found[1].1.to_string(), "192.168.212.1/24");
        config.insert("ipconfig0".to_string(), "ip=dhcp".to_string());
        config.remove("ipconfig1");
        assert!(cloud_init_addresses(&config).is_empty());
        assert!(is_net_key("net12") && !is_net_key("net") && !is_net_key("netx"));
    }

    #[test]
    fn sshkeys_are_url_encoded_openssh_lines() {
        let key = |seed: u8| {
            let pair = russh::keys::ssh_key::private::Ed25519Keypair::from_seed(&[seed; 32]);
            russh::keys::PrivateKey::from(pair).public_key().clone()
        };
        let line = |seed: u8| key(seed).to_openssh().unwrap();
        // As Proxmox stores it: every byte but [A-Za-z0-9_.~-] as %XX.
        let encoded: String = format!("{} me@host\n# old\nnot a key\n{}\n", line(1), line(2))
            .bytes()
            .map(
                |b| match b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    true => (b as char).to_string(),
                    false => format!("%{b:02X}"),
                },
            )
            .collect();
        let mut config = BTreeMap::new();
        assert!(authorized_keys(&config).is_empty());
        config.insert("sshkeys".to_string(), encoded);
        let found: Vec<_> = authorized_keys(&config)
            .iter()
            .map(|k| k.key_data().clone())
            .collect();
        assert_eq!(found, [key(1), key(2)].map(|k| k.key_data().clone()));
    }
}

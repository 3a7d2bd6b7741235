//! The gateway operation: each step checks what is already there, so a
//! retried or resumed operation picks up where the last one stopped.
//!
//! 1. the VM exists (cloned from the PAGW template onto the slot's node);
//! 2. its NICs: net0 on the management bridge tagged with the project VLAN,
//!    net1 on the public bridge; cloud-init gives it the slot's address;
//! 3. it runs; 4. it answers over SSH; 5. it has its whole configuration.

use giif_proto::status::Status;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use giif_proto::agent as api;

use super::convert::{desired_config, doc_from_config, spec_from_doc, ProjectExtras};
use super::{driver_error, Gateways, BOOT_TIMEOUT};
use crate::drivers::gateway::Gateway;
use crate::drivers::gateway::{GatewayNics, Mac};
use crate::drivers::hypervisor::{
    CloneSpec, CloudInitUpdate, Hypervisor, IpConfig, Nic, VmRef, VmState, VmUpdate,
};
use crate::drivers::ErrorClass;
use crate::error::ApiError;
use crate::inventory::PagwSlot;
use crate::operations::step;
use crate::store::{GatewayRow, VmidOwner};

struct Parts {
    hypervisor: Arc<dyn Hypervisor>,
    gateway: Arc<dyn Gateway>,
    slot: PagwSlot,
    template: VmRef,
    vlan: u16,
    project_name: String,
    /// The public half of the agent's key for this slot, if it logs in with one.
    public_key: Option<String>,
}

fn prefix_len(netmask: std::net::Ipv4Addr) -> u32 {
    u32::from(netmask).count_ones()
}

impl Gateways {
    async fn parts(&self, row: &GatewayRow) -> Result<Parts, ApiError> {
        let site = self.site.site().await?;
        let hypervisor = site.hypervisor.clone().ok_or_else(|| {
            ApiError::precondition("the site inventory has no Proxmox VE cluster")
        })?;
        let gateway = site.gateways.get(&row.slot_ip).cloned().ok_or_else(|| {
            ApiError::precondition(format!(
                "the PAGW slot {} is no longer in the inventory",
                row.slot_ip
            ))
            .hint("Put the slot back in the site file, or destroy this gateway.")
        })?;
        let slot = self
            .store
            .pagw_slot_inventory()
            .await?
            .into_iter()
            .find(|s| s.public_ip.to_string() == row.slot_ip)
            .ok_or_else(|| {
                ApiError::precondition(format!(
                    "the PAGW slot {} is no longer in the inventory",
                    row.slot_ip
                ))
            })?;
        let pve = self.store.proxmox_inventory().await?.ok_or_else(|| {
            ApiError::precondition("the site inventory has no Proxmox VE cluster")
        })?;
        let template = pve
            .templates
            .iter()
            .find(|t| t.vmid == slot.template)
            .map(|t| VmRef {
                node: t.node.clone(),
                vmid: t.vmid,
            })
            .ok_or_else(|| {
                ApiError::precondition(format!(
                    "the PAGW template {} is not in the inventory",
                    slot.template
                ))
            })?;
        let project = self.store.project_by_id(&row.project_id).await?;
        let public_key = match slot.ssh.key {
            None => None,
            Some(_) => {
                crate::site::gateway_credential(&slot.ssh, &format!("pagw slot {}", slot.public_ip))
                    .map_err(|e| ApiError::precondition(e.to_string()))?
                    .public_key()
            }
        };
        Ok(Parts {
            public_key,
            hypervisor,
            gateway,
            slot,
            template,
            vlan: project.vlan as u16,
            project_name: project.spec.map(|s| s.name).unwrap_or_default(),
        })
    }

    pub(super) async fn converge(&self, id: &str) -> Result<(), ApiError> {
        let mut row = self.row(id).await?;
        let parts = self.parts(&row).await?;
        let pve = &parts.hypervisor;
        let name = vm_name(&parts.project_name);

        self.store
            .set_gateway_status(id, Status::Creating, None)
            .await?;
        step("gateway VM").await?;
        let found = crate::ownership::find_own_vm(
            &self.store,
            pve.as_ref(),
            VmidOwner::Gateway,
            id,
            &row.node,
            &mut row.vmid,
            &name,
        )
        .await?;
        if found.is_none() {
            let spec = CloneSpec {
                vmid: row.vmid,
                name,
                target_node: (parts.template.node != row.node).then(|| row.node.clone()),
                storage: Some(parts.slot.storage.clone()),
                full: true,
                description: Some(crate::ownership::mark(id)),
            };
            pve.clone_vm(&parts.template, &spec)
                .await
                .map_err(driver_error)?;
        }
        let vm = VmRef::new(&row.node, row.vmid);

        let mut nics = BTreeMap::new();
        nics.insert(
            0,
            Some(Nic::virtio(&parts.slot.management_bridge, Some(parts.vlan))),
        );
        nics.insert(
            1,
            Some(Nic::virtio(
                &parts.slot.public_bridge,
                parts.slot.public_vlan.map(|v| v as u16),
            )),
        );
        let mut ip = BTreeMap::new();
        // Without ipconfig0 cloud-init runs a DHCP client on the project
        // NIC, where any host could answer; the LAN address instead, which
        // the gateway moves to its bridge.
        ip.insert(
            0,
            Some(IpConfig::Static {
                address: format!(
                    "{}/{}",
                    crate::drivers::gateway::DEFAULT_LAN_ADDRESS,
                    giif_pagw::LAN.prefix
                ),
                gateway: None,
            }),
        );
        ip.insert(
            1,
            Some(IpConfig::Static {
                address: format!(
                    "{}/{}",
                    parts.slot.public_ip,
                    prefix_len(parts.slot.netmask)
                ),
                gateway: Some(parts.slot.gateway.to_string()),
            }),
        );
        // The agent's public key and login for the gateway's admin user;
        // a gateway made this way needs no password at all.
        let (user, ssh_keys) = match &parts.public_key {
            Some(key) => (Some(parts.slot.ssh.user.clone()), Some(vec![key.clone()])),
            None => (None, None),
        };
        let update = VmUpdate {
            nics,
            cloud_init: Some(CloudInitUpdate { user, ssh_keys, ip }),
            ..Default::default()
        };
        step("gateway VM NICs and cloud-init").await?;
        pve.update_vm(&vm, &update).await.map_err(driver_error)?;
        step("gateway VM running").await?;
        pve.start_vm(&vm).await.map_err(driver_error)?;
        step("gateway reachable").await?;
        parts
            .gateway
            .wait_until_reachable(BOOT_TIMEOUT)
            .await
            .map_err(driver_error)?;
        let state = pve.read_vm(&vm).await.map_err(driver_error)?;
        let desired = desired_config(
            &row.doc,
            &parts.slot,
            parts.vlan,
            &self.extras(&row, &state).await?,
        )?;
        step("gateway configuration").await?;
        let report = parts.gateway.apply(&desired).await.map_err(driver_error)?;
        self.store
            .set_gateway_ready(id, report.wireguard_public_key.as_deref())
            .await?;
        // The toolbox follows the gateway; a failure shows as drift.
        self.consoles.ensure_gateway(&self.row(id).await?).await;
        tracing::info!(gateway = %id, slot = %row.slot_ip, vmid = row.vmid, changed = report.changed, "gateway ready");
        Ok(())
    }

    /// The project's servers and floating IPs, as its gateway serves them,
    /// with the NICs the gateway VM (`state`) has for them.
    pub(super) async fn extras(
        &self,
        row: &GatewayRow,
        state: &VmState,
    ) -> Result<ProjectExtras, ApiError> {
        let inventory = self.store.bms_inventory().await?;
        let mut vlans: BTreeSet<u16> = self
            .store
            .servers_of_project(&row.project_id)
            .await?
            .iter()
            .filter_map(|name| inventory.iter().find(|s| &s.name == name))
            .map(|s| s.vlan as u16)
            .collect();
        vlans.extend(self.idle_vlans(row, &inventory).await?);
        let mut dnat = Vec::new();
        for (public, private) in self
            .store
            .floating_rules_of_project(&row.project_id)
            .await?
        {
            if let (Ok(public), Ok(private)) = (public.parse(), private.parse()) {
                dnat.push((public, private));
            }
        }
        Ok(ProjectExtras {
            nics: gateway_nics(state, &vlans)?,
            dnat,
            toolbox_key: self.toolbox_key(row).await?,
        })
    }

    /// The public half of the slot's toolbox key: the gateway lets it run
    /// the toolbox, and nothing else.
    async fn toolbox_key(&self, row: &GatewayRow) -> Result<Option<String>, ApiError> {
        let slots = self.store.pagw_slot_inventory().await?;
        let Some(reference) = slots
            .iter()
            .find(|s| s.public_ip.to_string() == row.slot_ip)
            .and_then(|s| s.toolbox_key.as_ref())
        else {
            return Ok(None);
        };
        let bad = |reason: String| {
            ApiError::precondition(format!("pagw slot {} toolbox_key: {reason}", row.slot_ip))
                .hint("Point toolbox_key at an unencrypted OpenSSH private key (ssh-keygen -t ed25519 -N '').")
        };
        let secret = reference.resolve().map_err(|e| bad(e.to_string()))?;
        let public = crate::drivers::pagw::Credential::key(&secret)
            .map_err(bad)?
            .public_key()
            .ok_or_else(|| bad("no public half".into()))?;
        Ok(Some(public))
    }

    /// For the gateway in the default-project slot: the VLANs of free
    /// servers (idle hardware stays reachable there while its NIC is plugged).
    async fn idle_vlans(
        &self,
        row: &GatewayRow,
        inventory: &[crate::inventory::Bms],
    ) -> Result<Vec<u16>, ApiError> {
        let slots = self.store.pagw_slot_inventory().await?;
        if !slots
            .iter()
            .any(|s| s.default_project && s.public_ip.to_string() == row.slot_ip)
        {
            return Ok(Vec::new());
        }
        let assigned: Vec<String> = self
            .store
            .bms_assignments()
            .await?
            .into_iter()
            .map(|a| a.bms)
            .collect();
        let quarantined: Vec<String> = self
            .store
            .bms_quarantine()
            .await?
            .into_iter()
            .map(|(b, _)| b)
            .collect();
        Ok(inventory
            .iter()
            .filter(|s| !assigned.contains(&s.name) && !quarantined.contains(&s.name))
            .map(|s| s.vlan as u16)
            .collect())
    }

    /// Re-applies the project gateway's whole configuration, after the
    /// project's servers or floating IPs changed. Fails when the project has
    /// no gateway, which servers and floating IPs need.
    pub async fn reconfigure(&self, project_id: &str) -> Result<(), ApiError> {
        let row = self.store.gateway_of_project(project_id).await?.ok_or_else(|| {
            ApiError::precondition(format!("project {project_id} has no gateway (PAGW)"))
                .field("spec.project_id")
                .hint("Add a giif_pagw for the project; bare-metal servers and floating IPs reach the project through it.")
        })?;
        let lock = self.lock_of(&row.id);
        let _held = lock.lock().await;
        let row = self.row(&row.id).await?;
        if row.status != Status::Ready {
            return Err(ApiError::transient(format!(
                "the project's gateway {} is {}",
                row.id, row.status
            ))
            .hint("Wait for the gateway to be ready, then retry."));
        }
        let parts = self.parts(&row).await?;
        let vm = VmRef {
            node: row.node.clone(),
            vmid: row.vmid,
        };
        let state = parts.hypervisor.read_vm(&vm).await.map_err(driver_error)?;
        let desired = desired_config(
            &row.doc,
            &parts.slot,
            parts.vlan,
            &self.extras(&row, &state).await?,
        )?;
        parts.gateway.apply(&desired).await.map_err(driver_error)?;
        Ok(())
    }

    /// The DNAT rules the project's gateway really applies; `None` when the
    /// project has no gateway or it cannot be read (then nothing is known).
    pub async fn live_dnat(
        &self,
        project_id: &str,
    ) -> Result<Option<Vec<(std::net::Ipv4Addr, std::net::Ipv4Addr)>>, ApiError> {
        let Some(row) = self.store.gateway_of_project(project_id).await? else {
            return Ok(None);
        };
        if row.status != Status::Ready {
            return Ok(None);
        }
        let parts = self.parts(&row).await?;
        match parts.gateway.read().await {
            Ok(live) => Ok(live
                .config
                .map(|c| c.dnat.iter().map(|r| (r.public, r.private)).collect())),
            Err(err) if err.is_transient() => Ok(None),
            Err(err) => Err(driver_error(err)),
        }
    }

    /// The API view of a gateway; with `live`, what the gateway itself says.
    pub(super) async fn describe(
        &self,
        row: &GatewayRow,
        live: bool,
    ) -> Result<api::Gateway, ApiError> {
        let project = self.store.project_by_id(&row.project_id).await?;
        let mut answer = api::Gateway {
            id: row.id.clone(),
            spec: Some(spec_from_doc(&row.project_id, &row.doc)),
            public_ip: row.slot_ip.clone(),
            vlan: project.vlan,
            vmid: row.vmid,
            node: row.node.clone(),
            wireguard_public_key: row.wireguard_public_key.clone().unwrap_or_default(),
            status: row.status.into(),
            last_error: row.last_error.clone().unwrap_or_default(),
            drift: Vec::new(),
        };
        if !live || row.status != Status::Ready {
            return Ok(answer);
        }
        self.consoles
            .gateway_state(row)
            .await
            .mark_drift(&mut answer.status, &mut answer.last_error);
        let parts = self.parts(row).await?;
        let vm = VmRef {
            node: row.node.clone(),
            vmid: row.vmid,
        };
        let state = match parts.hypervisor.read_vm(&vm).await {
            Err(err) if err.class == ErrorClass::NotFound => {
                answer.status = Status::VmMissing.into();
                return Ok(answer);
            }
            Err(err) => return Err(driver_error(err)),
            Ok(state) => state,
        };
        let name = vm_name(&parts.project_name);
        if crate::ownership::is_foreign(&self.store, &state, &row.id, &name).await? {
            answer.status = Status::VmMissing.into();
            return Ok(answer);
        }
        match parts.gateway.read().await {
            Ok(live) => match live.config {
                Some(config) => {
                    let desired = desired_config(
                        &row.doc,
                        &parts.slot,
                        parts.vlan,
                        &self.extras(row, &state).await?,
                    )?;
                    answer.drift = crate::drivers::gateway::drift(&desired, Some(&config))
                        .iter()
                        .map(|d| d.to_string())
                        .chain(live.drift.iter().map(|line| format!("gateway: {line}")))
                        .collect();
                    answer.spec = Some(spec_from_doc(
                        &row.project_id,
                        &doc_from_config(row.doc.requested_ip.clone(), &config),
                    ));
                    if let Some(key) = live.wireguard_public_key {
                        answer.wireguard_public_key = key;
                    }
                }
                None => answer.status = Status::Unconfigured.into(),
            },
            Err(err) if err.is_transient() => answer.status = Status::Unreachable.into(),
            Err(err) => return Err(driver_error(err)),
        }
        Ok(answer)
    }

    /// Stops and deletes the VM (gone already is fine) and forgets the
    /// gateway's SSH host key: a new gateway in this slot has a new key.
    pub(super) async fn tear_down(&self, row: &GatewayRow) -> Result<(), ApiError> {
        let parts = self.parts(row).await?;
        let vm = VmRef::new(&row.node, row.vmid);
        let pve = parts.hypervisor.as_ref();
        let name = vm_name(&parts.project_name);
        if crate::ownership::ours_to_delete(&self.store, pve, &row.id, &vm, &name).await? {
            match pve.delete_vm(&vm).await {
                Ok(()) => {}
                Err(err) if err.class == ErrorClass::NotFound => {}
                Err(err) => return Err(driver_error(err)),
            }
        }
        let endpoint = format!("{}:{}", parts.slot.ssh.address, parts.slot.ssh.port);
        self.store.forget_ssh_host_key(&endpoint).await?;
        Ok(())
    }
}

/// The name giif gives a project's gateway VM.
fn vm_name(project_name: &str) -> String {
    format!("pagw-{}", project_name.to_lowercase())
}

/// The gateway VM's NICs by MAC: `net0` (project), `net1` (public) and the
/// hot-plugged NICs tagged with one of `server_vlans`. A server whose NIC is
/// not plugged yet is left out until it is.
fn gateway_nics(state: &VmState, server_vlans: &BTreeSet<u16>) -> Result<GatewayNics, ApiError> {
    let mac = |slot: u32| {
        state
            .nics
            .get(&slot)
            .and_then(|nic| nic.mac)
            .map(|mac| Mac(mac.0))
            .ok_or_else(|| {
                ApiError::transient(format!("the gateway VM has no net{slot} MAC address yet"))
                    .hint("Retry: the gateway's NICs are being set up.")
            })
    };
    Ok(GatewayNics {
        lan: mac(0)?,
        wan: mac(1)?,
        servers: state
            .nics
            .iter()
            .filter(|(slot, _)| **slot >= 2)
            .filter_map(|(_, nic)| Some((nic.vlan?, Mac(nic.mac?.0))))
            .filter(|(vlan, _)| server_vlans.contains(vlan))
            .collect(),
    })
}

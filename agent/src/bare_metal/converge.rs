//! The assignment operation: each step checks what is already there, so a
//! retried or resumed operation picks up where the last one stopped.
//!
//! 1. a NIC left on another gateway (a move, or the default project's
//!    gateway) is unplugged, and that gateway reconfigured;
//! 2. a NIC tagged with the server's VLAN is on the project gateway's VM;
//! 3. the gateway bridges the VLAN; 4. virtual media; 5. power.

use giif_proto::status::Status;
use std::sync::Arc;

use giif_proto::agent as api;

use super::convert::{nic_name, spec_from_doc};
use super::Servers;
use crate::consoles::ConsoleState;
use crate::drivers::bmc::{Bmc, PowerAction, PowerState, VncSettings};
use crate::drivers::console::DependentUpdate;
use crate::drivers::hypervisor::{Hypervisor, Nic, VmRef};
use crate::drivers::ErrorClass;
use crate::error::ApiError;
use crate::gateways::driver_error;
use crate::inventory::Bms;
use crate::operations::step;
use crate::store::{BmsRow, GatewayRow};

/// PVE numbers NICs net0..net31; net0 and net1 are the gateway's own.
const FIRST_SERVER_NIC: u32 = 2;
const LAST_NIC: u32 = 31;

/// A gateway's VM and the bridge server NICs go on.
pub(super) struct GatewayVm {
    pub hypervisor: Arc<dyn Hypervisor>,
    pub vm: VmRef,
    pub bridge: String,
}

impl Servers {
    pub(super) async fn bmc(&self, bms: &str) -> Result<Arc<dyn Bmc>, ApiError> {
        let site = self.site.site().await?;
        site.bmcs.get(bms).cloned().ok_or_else(|| {
            ApiError::precondition(format!("server {bms} is no longer in the inventory"))
                .hint("Put it back in the site file, or remove the assignment from the state.")
        })
    }

    pub(super) async fn gateway_vm(&self, gw: &GatewayRow) -> Result<GatewayVm, ApiError> {
        let site = self.site.site().await?;
        let hypervisor = site.hypervisor.clone().ok_or_else(|| {
            ApiError::precondition("the site inventory has no Proxmox VE cluster")
        })?;
        let slot = self
            .store
            .pagw_slot_inventory()
            .await?
            .into_iter()
            .find(|s| s.public_ip.to_string() == gw.slot_ip)
            .ok_or_else(|| {
                ApiError::precondition(format!(
                    "the PAGW slot {} is no longer in the inventory",
                    gw.slot_ip
                ))
            })?;
        Ok(GatewayVm {
            hypervisor,
            vm: VmRef::new(gw.node.clone(), gw.vmid),
            bridge: slot.management_bridge,
        })
    }

    /// Makes sure a NIC tagged `vlan` is on the gateway's VM; returns its
    /// slot. For an assignment (`holder`), the slot is reserved in the store
    /// before it is plugged: a unique key keeps two replicas from handing
    /// one slot to two servers.
    pub(super) async fn plug(
        &self,
        gw: &GatewayRow,
        vlan: u16,
        known: Option<u32>,
        holder: Option<&str>,
    ) -> Result<u32, ApiError> {
        let lock = self.nic_locks.of(&gw.id);
        let _held = lock.lock().await;
        let target = self.gateway_vm(gw).await?;
        let state = target
            .hypervisor
            .read_vm(&target.vm)
            .await
            .map_err(driver_error)?;
        let ours = |nic: &Nic| nic.bridge == target.bridge && nic.vlan == Some(vlan);
        let plugged = known
            .filter(|n| state.nics.get(n).is_some_and(ours))
            .or_else(|| {
                state
                    .nics
                    .iter()
                    .find(|(n, nic)| **n >= FIRST_SERVER_NIC && ours(nic))
                    .map(|(n, _)| *n)
            });
        if let Some(slot) = plugged {
            if let Some(holder) = holder {
                self.store.set_bms_nic(holder, Some((&gw.id, slot))).await?;
            }
            return Ok(slot);
        }
        let reserved = match holder {
            Some(holder) => self.store.reserved_bms_nics(&gw.id, holder).await?,
            None => Vec::new(),
        };
        let mut candidates = known
            .into_iter()
            .chain(FIRST_SERVER_NIC..=LAST_NIC)
            .filter(|n| !state.nics.contains_key(n) && !reserved.contains(n));
        let free = loop {
            let Some(slot) = candidates.next() else {
                break None;
            };
            match holder {
                Some(holder) if !self.store.reserve_bms_nic(holder, &gw.id, slot).await? => {}
                _ => break Some(slot),
            }
        };
        let free = free.ok_or_else(|| {
                ApiError::pool_exhausted(format!(
                    "the gateway {} has no free NIC slot (net{FIRST_SERVER_NIC}-net{LAST_NIC} are used)",
                    gw.id
                ))
                .subject(&gw.id)
                .hint("Release a server from this project first.")
            })?;
        target
            .hypervisor
            .plug_nic(&target.vm, free, &Nic::virtio(&target.bridge, Some(vlan)))
            .await
            .map_err(driver_error)?;
        tracing::info!(gateway = %gw.id, nic = free, vlan, "server NIC plugged");
        Ok(free)
    }

    /// Removes every NIC tagged `vlan` from the gateway's VM (only ours: a
    /// slot may have been reused by another server since).
    pub(super) async fn unplug(&self, gw: &GatewayRow, vlan: u16) -> Result<bool, ApiError> {
        let lock = self.nic_locks.of(&gw.id);
        let _held = lock.lock().await;
        let target = self.gateway_vm(gw).await?;
        let state = match target.hypervisor.read_vm(&target.vm).await {
            Ok(state) => state,
            Err(err) if err.class == ErrorClass::NotFound => return Ok(false),
            Err(err) => return Err(driver_error(err)),
        };
        let mut removed = false;
        for (slot, nic) in &state.nics {
            if *slot >= FIRST_SERVER_NIC && nic.bridge == target.bridge && nic.vlan == Some(vlan) {
                target
                    .hypervisor
                    .unplug_nic(&target.vm, *slot)
                    .await
                    .map_err(driver_error)?;
                tracing::info!(gateway = %gw.id, nic = slot, vlan, "server NIC unplugged");
                removed = true;
            }
        }
        Ok(removed)
    }

    /// The gateway of the default-project slot, if the site has one running.
    pub(super) async fn default_gateway(&self) -> Result<Option<GatewayRow>, ApiError> {
        let slot = self
            .store
            .pagw_slot_inventory()
            .await?
            .into_iter()
            .find(|s| s.default_project);
        match slot {
            Some(slot) => {
                self.store
                    .gateway_in_slot(&slot.public_ip.to_string())
                    .await
            }
            None => Ok(None),
        }
    }

    pub(super) async fn converge(&self, id: &str) -> Result<(), ApiError> {
        let row = self.row(id).await?;
        let server = self.server(&row.bms).await?;
        let vlan = server.vlan as u16;
        self.store
            .set_bms_status(id, Status::Converging, None)
            .await?;
        let target = self
            .store
            .gateway_of_project(&row.project_id)
            .await?
            .ok_or_else(|| {
                ApiError::precondition(format!("project {} has no gateway (PAGW)", row.project_id))
                    .field("spec.project_id")
                    .hint("Add a giif_pagw for the project.")
            })?;

        // 1. Off the gateway it was on (a move), and off the default project's.
        step("server NIC off other gateways").await?;
        if let Some(old_id) = row.pagw_id.as_deref().filter(|g| *g != target.id) {
            if let Some(old) = self.store.gateway(old_id).await? {
                self.unplug(&old, vlan).await?;
                self.gateways.reconfigure(&old.project_id).await?;
            }
            self.store.set_bms_nic(id, None).await?;
        }
        if let Some(idle) = self.default_gateway().await?.filter(|g| g.id != target.id) {
            if self.unplug(&idle, vlan).await? {
                self.gateways.reconfigure(&idle.project_id).await?;
            }
        }

        // 2-3. Onto the project's gateway, which then bridges the VLAN.
        let known = row
            .pagw_nic
            .filter(|_| row.pagw_id.as_deref() == Some(target.id.as_str()));
        step("server NIC on the project gateway").await?;
        let slot = self.plug(&target, vlan, known, Some(id)).await?;
        step("project gateway configuration").await?;
        self.gateways.reconfigure(&row.project_id).await?;

        // 4-5. Media before power, so a server powered on boots the image.
        step("virtual media and power").await?;
        let bmc = self.bmc(&row.bms).await?;
        let media = bmc.media_status().await.map_err(driver_error)?;
        let wanted = match &row.doc.boot_iso {
            Some(boot_iso) => Some(self.store.iso_library().await?.media_source(boot_iso)?),
            None => None,
        };
        match wanted {
            Some(source) if media.image.as_deref() != Some(source.image.as_str()) => {
                bmc.attach_media(&source).await.map_err(driver_error)?;
                // The next boot starts the image, whatever the boot order.
                match bmc.boot_once_from_media().await {
                    Err(err) if err.class == ErrorClass::Unsupported => {
                        tracing::warn!(bms = %row.bms, error = %err, "the image is attached, but the server boots it only if its boot order says so")
                    }
                    other => other.map_err(driver_error)?,
                }
            }
            None if media.image.is_some() => bmc.detach_media().await.map_err(driver_error)?,
            _ => {}
        }
        match row.doc.power_state.as_deref() {
            Some("on") => bmc.power(PowerAction::On).await.map_err(driver_error)?,
            Some("off") => bmc.power(PowerAction::Off).await.map_err(driver_error)?,
            _ => {}
        }
        let mut status = (Status::Ready, None);
        if self.consoles.enabled().await? {
            step("console").await?;
            if let Some(why) = self.console(&row, &server, bmc.as_ref()).await? {
                status = (Status::ConsoleUnavailable, Some(why));
            }
        }
        self.store
            .set_bms_status(id, status.0, status.1.as_deref())
            .await?;
        tracing::info!(assignment = %id, bms = %row.bms, project = %row.project_id, nic = slot, "server assignment ready");
        Ok(())
    }

    /// The BMC's VNC server on the inventory's port with a password (the
    /// inventory's, or a fresh one each time), and the console that uses it
    /// in the server's project. A BMC without a VNC server gets no console:
    /// the answer says why.
    async fn console(
        &self,
        row: &BmsRow,
        server: &Bms,
        bmc: &dyn Bmc,
    ) -> Result<Option<String>, ApiError> {
        match bmc.console_settings().await {
            Err(err) if err.class == ErrorClass::Unsupported => {
                self.consoles.remove_bms(&row.id).await?;
                return Ok(Some(format!(
                    "no console: {}; the server works without one",
                    err.message
                )));
            }
            other => other.map_err(driver_error)?,
        };
        let password = match server.vnc_password() {
            Some(reference) => reference
                .resolve()
                .map_err(|e| ApiError::precondition(format!("bms {}: {e}", server.name)))?,
            None => crate::consoles::fresh_vnc_password(),
        };
        let settings = VncSettings {
            enabled: true,
            port: server.vnc_endpoint().map_or(5901, |(_, port)| port),
            timeout_secs: VNC_IDLE_TIMEOUT_SECS,
            password: Some(password.clone()),
        };
        // Guacamole first: if it cannot take the new password, the iDRAC
        // keeps the old one, which the console still has.
        let console = self.consoles.ensure_bms(row, server, &password).await;
        if matches!(console, ConsoleState::Present { .. }) {
            bmc.set_console_settings(&settings)
                .await
                .map_err(driver_error)?;
            // Connections that follow the server's console follow its password.
            if let Err(err) = self
                .consoles
                .update_dependents(&row.id, &DependentUpdate::Password(password))
                .await
            {
                tracing::warn!(assignment = %row.id, error = %err, "connections to the server keep an old password");
            }
        }
        Ok(None)
    }

    /// The API view of an assignment; with `live`, power and media as the
    /// iDRAC reports them and the NIC as the gateway VM has it.
    pub(super) async fn describe(
        &self,
        row: &BmsRow,
        live: bool,
    ) -> Result<api::BmsAssignment, ApiError> {
        let server = self
            .store
            .bms_inventory()
            .await?
            .into_iter()
            .find(|s| s.name == row.bms);
        let mut spec = spec_from_doc(&row.project_id, &row.bms, &row.doc);
        let mut answer = api::BmsAssignment {
            id: row.id.clone(),
            spec: None,
            vlan: server.as_ref().map(|s| s.vlan).unwrap_or_default(),
            pagw_nic: nic_name(row.pagw_nic),
            mac_addresses: server
                .as_ref()
                .map(|s| s.macs.iter().map(|m| m.to_lowercase()).collect())
                .unwrap_or_default(),
            status: row.status.into(),
            last_error: row.last_error.clone().unwrap_or_default(),
            console_connection_id: String::new(),
            console_url: String::new(),
        };
        if live && row.status.is_up() {
            let bmc = self.bmc(&row.bms).await?;
            match (bmc.power_state().await, bmc.media_status().await) {
                (Ok(power), Ok(media)) => {
                    if row.doc.power_state.is_some() {
                        spec.power_state = match power {
                            PowerState::On => "on".into(),
                            PowerState::Off => "off".into(),
                        };
                    }
                    spec.boot_iso = self
                        .store
                        .iso_library()
                        .await?
                        .shown_media(row.doc.boot_iso.as_deref(), media.image.as_deref());
                }
                (Err(err), _) | (_, Err(err)) if err.is_transient() => {
                    answer.status = Status::Unreachable.into()
                }
                (Err(err), _) | (_, Err(err)) => return Err(driver_error(err)),
            }
            if let (Some(gw_id), Some(slot)) = (&row.pagw_id, row.pagw_nic) {
                if !self.nic_present(gw_id, slot, answer.vlan as u16).await? {
                    answer.pagw_nic = String::new();
                }
            }
        }
        if Status::Ready.is(&answer.status) {
            let console = self.consoles.bms_state(row).await;
            answer.console_connection_id = console.id();
            answer.console_url = console.url();
            console.mark_drift(&mut answer.status, &mut answer.last_error);
        }
        answer.spec = Some(spec);
        Ok(answer)
    }

    async fn nic_present(&self, gw_id: &str, slot: u32, vlan: u16) -> Result<bool, ApiError> {
        let Some(gw) = self.store.gateway(gw_id).await? else {
            return Ok(false);
        };
        let target = self.gateway_vm(&gw).await?;
        match target.hypervisor.read_vm(&target.vm).await {
            Ok(state) => Ok(state
                .nics
                .get(&slot)
                .is_some_and(|nic| nic.bridge == target.bridge && nic.vlan == Some(vlan))),
            Err(err) if err.class == ErrorClass::NotFound => Ok(false),
            Err(err) => Err(driver_error(err)),
        }
    }
}

/// Idle VNC sessions end after an hour.
const VNC_IDLE_TIMEOUT_SECS: u32 = 3600;

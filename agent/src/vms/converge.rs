//! The VM operation: each step checks what is there first, so a retried or
//! resumed operation picks up where the last one stopped.
//!
//! 1. the VM exists (cloned from its template onto its node, or created
//!    with its ISO); 2. net0 on the node's VM bridge tagged with the project
//!    VLAN, cores, memory and cloud-init; 3. the disk has grown to size;
//! 4. the power state.

use giif_proto::status::Status;
use std::collections::BTreeMap;
use std::sync::Arc;

use giif_proto::agent as api;

use super::convert::{spec_from_doc, LAN_GATEWAY};
use super::{no_cluster, Vms};
use crate::consoles::ConsoleState;
use crate::credentials::Secret;
use crate::drivers::console::DependentUpdate;
use crate::drivers::hypervisor::{
    CloneSpec, CloudInit, CloudInitUpdate, Hypervisor, IpConfig, Nic, PowerState, VmRef, VmSpec,
    VmState, VmUpdate, VncListen,
};
use crate::drivers::ErrorClass;
use crate::error::ApiError;
use crate::gateways::driver_error;
use crate::operations::step;
use crate::store::{VmCloudInitDoc, VmRow, VmidOwner};

struct Parts {
    hypervisor: Arc<dyn Hypervisor>,
    bridge: String,
    storage: String,
    template: Option<VmRef>,
    vlan: u16,
}

fn ip_config(ip: &str) -> IpConfig {
    if ip == "dhcp" {
        IpConfig::Dhcp
    } else {
        IpConfig::Static {
            address: ip.to_string(),
            gateway: Some(LAN_GATEWAY.to_string()),
        }
    }
}

fn cloud_init(doc: &VmCloudInitDoc) -> CloudInit {
    CloudInit {
        user: Some(doc.user.clone()).filter(|u| !u.is_empty()),
        ssh_keys: doc.ssh_keys.clone(),
        ip: BTreeMap::from([(0, ip_config(&doc.ip))]),
    }
}

/// The boot disk: `scsi0` if there is one, else the first disk.
fn boot_disk(state: &VmState) -> Option<(&String, u64)> {
    state
        .disks
        .get_key_value("scsi0")
        .or_else(|| state.disks.iter().next())
        .map(|(slot, disk)| (slot, disk.size_gb()))
}

impl Vms {
    async fn parts(&self, row: &VmRow) -> Result<Parts, ApiError> {
        let site = self.site.site().await?;
        let hypervisor = site.hypervisor.clone().ok_or_else(no_cluster)?;
        let pve = self
            .store
            .proxmox_inventory()
            .await?
            .ok_or_else(no_cluster)?;
        let node = pve
            .nodes
            .iter()
            .find(|n| n.name == row.node)
            .ok_or_else(|| {
                ApiError::precondition(format!(
                    "the node {} is no longer in the inventory",
                    row.node
                ))
                .hint("Put the node back in the site file, or destroy this VM.")
            })?;
        let template = match &row.doc.template {
            None => None,
            Some(name) => Some(
                pve.templates
                    .iter()
                    .find(|t| &t.name == name)
                    .map(|t| VmRef::new(&t.node, t.vmid))
                    .ok_or_else(|| {
                        ApiError::precondition(format!(
                            "the template {name:?} is not in the inventory"
                        ))
                        .field("spec.template")
                    })?,
            ),
        };
        let project = self.store.project_by_id(&row.project_id).await?;
        Ok(Parts {
            hypervisor,
            bridge: node.vm_bridge.clone(),
            storage: node.storage.clone(),
            template,
            vlan: project.vlan as u16,
        })
    }

    /// The VM, made (with giif's mark) if it is not there. A VM giif did not
    /// make at the row's VM id moves the row to another id.
    async fn ensure_exists(&self, row: &mut VmRow, parts: &Parts) -> Result<VmState, ApiError> {
        let pve = &parts.hypervisor;
        let found = crate::ownership::find_own_vm(
            &self.store,
            pve.as_ref(),
            VmidOwner::Vm,
            &row.id,
            &row.node,
            &mut row.vmid,
            &row.name,
        )
        .await?;
        if let Some(state) = found {
            return Ok(state);
        }
        let mark = Some(crate::ownership::mark(&row.id));
        let created = match (&parts.template, &row.doc.iso) {
            (Some(template), _) => {
                let spec = CloneSpec {
                    vmid: row.vmid,
                    name: row.name.clone(),
                    target_node: (template.node != row.node).then(|| row.node.clone()),
                    storage: Some(parts.storage.clone()),
                    full: true,
                    description: mark,
                };
                pve.clone_vm(template, &spec).await
            }
            (None, iso) => {
                let iso = match iso {
                    Some(iso) => Some(self.store.iso_library().await?.vm_volume(iso)?),
                    None => None,
                };
                let spec = VmSpec {
                    name: row.name.clone(),
                    cores: row.doc.cores,
                    memory_mb: row.doc.memory_mb,
                    disk: Some((parts.storage.clone(), row.doc.disk_gb)),
                    iso,
                    nics: BTreeMap::from([(0, Nic::virtio(&parts.bridge, Some(parts.vlan)))]),
                    cloud_init: row
                        .doc
                        .cloud_init
                        .as_ref()
                        .map(|ci| (parts.storage.clone(), cloud_init(ci))),
                    description: mark,
                };
                pve.create_vm(&row.node, row.vmid, &spec).await
            }
        };
        created.map_err(driver_error)
    }

    pub(super) async fn converge(&self, id: &str) -> Result<(), ApiError> {
        let mut row = self.row(id).await?;
        let parts = self.parts(&row).await?;
        let pve = &parts.hypervisor;
        self.store.set_vm_status(id, Status::Creating, None).await?;

        step("VM exists").await?;
        let state = self.ensure_exists(&mut row, &parts).await?;
        let vm = VmRef::new(&row.node, row.vmid);
        let cloud_init = row.doc.cloud_init.as_ref().map(|ci| CloudInitUpdate {
            user: Some(ci.user.clone()),
            ssh_keys: Some(ci.ssh_keys.clone()),
            ip: BTreeMap::from([(0, Some(ip_config(&ci.ip)))]),
        });
        let mut nic = Nic::virtio(&parts.bridge, Some(parts.vlan));
        nic.mac = state.nics.get(&0).and_then(|n| n.mac);
        // A VNC console for Guacamole on the node's console address, with
        // a password, from the next start.
        let vnc = match crate::consoles::vm_vnc_display(row.vmid) {
            Some(display) if self.consoles.enabled().await? => Some(VncListen {
                address: self.consoles.vm_console_host(&row).await?,
                display,
                password: true,
            }),
            _ => None,
        };
        let update = VmUpdate {
            vnc: vnc
                .clone()
                .filter(|wanted| state.vnc.as_ref() != Some(wanted)),
            cores: Some(row.doc.cores).filter(|c| *c != state.cores),
            memory_mb: Some(row.doc.memory_mb).filter(|m| *m != state.memory_mb),
            cloud_init,
            nics: BTreeMap::from([(0, Some(nic))]),
            ..Default::default()
        };
        step("VM NIC, CPUs, memory and cloud-init").await?;
        pve.update_vm(&vm, &update).await.map_err(driver_error)?;

        step("VM disk size").await?;
        match boot_disk(&state) {
            Some((slot, size)) if size < row.doc.disk_gb => pve
                .resize_disk(&vm, slot, row.doc.disk_gb)
                .await
                .map_err(driver_error)?,
            Some((_, size)) if size > row.doc.disk_gb => {
                return Err(ApiError::invalid(format!(
                    "the VM's disk is {size} GB, larger than disk_gb = {}; disks only grow",
                    row.doc.disk_gb
                ))
                .field("spec.disk_gb")
                .hint(format!("Set disk_gb to at least {size}.")))
            }
            _ => {}
        }

        // A hard stop: "off" is what the user asked, and no guest agent
        // is needed for it.
        step("VM power").await?;
        if row.doc.power_on {
            pve.start_vm(&vm).await.map_err(driver_error)?;
        } else {
            pve.stop_vm(&vm).await.map_err(driver_error)?;
        }
        let password = match (&vnc, row.doc.power_on) {
            (Some(_), true) => {
                step("VM console password").await?;
                self.set_console_password(pve.as_ref(), &vm).await?
            }
            _ => None,
        };
        self.store.set_vm_status(id, Status::Ready, None).await?;
        // The console follows the VM; a failure shows as drift.
        let console = self.consoles.ensure_vm(&row, password.as_ref()).await;
        if let (Some(password), ConsoleState::Present { .. }) = (password, &console) {
            // Connections made by hand to this VM follow its password.
            let update = DependentUpdate::Password(password);
            if let Err(error) = self.consoles.update_dependents(&row.id, &update).await {
                tracing::warn!(vm = %id, error = %error.message, "cannot give the VM's new console password to the connections that use it");
            }
        }
        tracing::info!(vm = %id, node = %row.node, vmid = row.vmid, "VM ready");
        Ok(())
    }

    /// A fresh password for the running VM's VNC console, set in QEMU (it
    /// lasts until the VM stops; every start gets a new one). `None` when
    /// the VM still runs with a console started before giif required a
    /// password: it gets one at its next start.
    async fn set_console_password(
        &self,
        pve: &dyn Hypervisor,
        vm: &VmRef,
    ) -> Result<Option<Secret>, ApiError> {
        let password = crate::consoles::fresh_vnc_password();
        match pve.set_vnc_password(vm, &password).await {
            Ok(()) => Ok(Some(password)),
            Err(error) if error.class == ErrorClass::Permanent => {
                tracing::warn!(vmid = vm.vmid, error = %error, "the VM's console takes a password from its next start");
                Ok(None)
            }
            Err(error) => Err(driver_error(error)),
        }
    }

    /// The API view of a VM. The VM itself is read from Proxmox (never from
    /// the guest); with `live`, its live cores, memory, disk and power
    /// state replace the desired ones, so out-of-band changes show as drift.
    pub(super) async fn describe(&self, row: &VmRow, live: bool) -> Result<api::Vm, ApiError> {
        let mut spec = spec_from_doc(&row.project_id, &row.name, &row.node, &row.doc);
        let mut answer = api::Vm {
            id: row.id.clone(),
            spec: None,
            vmid: row.vmid,
            node: row.node.clone(),
            mac_address: String::new(),
            status: row.status.into(),
            last_error: row.last_error.clone().unwrap_or_default(),
            console_connection_id: String::new(),
            console_url: String::new(),
        };
        if !matches!(row.status, Status::Ready | Status::Failed) {
            answer.spec = Some(spec);
            return Ok(answer);
        }
        let parts = self.parts(row).await?;
        match parts
            .hypervisor
            .read_vm(&VmRef::new(&row.node, row.vmid))
            .await
        {
            Ok(state)
                if live
                    && crate::ownership::is_foreign(&self.store, &state, &row.id, &row.name)
                        .await? =>
            {
                answer.status = Status::VmMissing.into();
            }
            Ok(state) => {
                answer.mac_address = state
                    .nics
                    .get(&0)
                    .and_then(|n| n.mac)
                    .map(|m| m.to_string())
                    .unwrap_or_default();
                if live {
                    spec.cores = state.cores;
                    spec.memory_mb = state.memory_mb;
                    if let Some((_, size)) = boot_disk(&state) {
                        spec.disk_gb = size;
                    }
                    let on = matches!(state.power, PowerState::Running | PowerState::Paused);
                    spec.power_state = if on { "on" } else { "off" }.into();
                }
            }
            Err(err) if err.class == ErrorClass::NotFound && live => {
                answer.status = Status::VmMissing.into();
            }
            Err(err) if live => return Err(driver_error(err)),
            // Without `live`, the stored view is enough.
            Err(_) => {}
        }
        if Status::Ready.is(&answer.status) {
            let console = self.consoles.vm_state(row).await;
            answer.console_connection_id = console.id();
            answer.console_url = console.url();
            console.mark_drift(&mut answer.status, &mut answer.last_error);
        }
        answer.spec = Some(spec);
        Ok(answer)
    }

    /// Stops and deletes the VM; gone already is fine.
    pub(super) async fn tear_down(&self, row: &VmRow) -> Result<(), ApiError> {
        let parts = self.parts(row).await?;
        let vm = VmRef::new(&row.node, row.vmid);
        let pve = parts.hypervisor.as_ref();
        if !crate::ownership::ours_to_delete(&self.store, pve, &row.id, &vm, &row.name).await? {
            return Ok(());
        }
        for step in [true, false] {
            let done = if step {
                parts.hypervisor.stop_vm(&vm).await
            } else {
                parts.hypervisor.delete_vm(&vm).await
            };
            match done {
                Ok(()) => {}
                Err(err) if err.class == ErrorClass::NotFound => return Ok(()),
                Err(err) => return Err(driver_error(err)),
            }
        }
        Ok(())
    }
}

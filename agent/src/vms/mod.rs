//! Project VMs: allocation, the operation that brings a VM to its spec,
//! reads with drift, and delete. Drives the `Hypervisor` trait only.

mod actions;
mod converge;
mod convert;

use std::time::Duration;

use giif_proto::agent as api;

use crate::consoles::Consoles;
use crate::error::ApiError;
use crate::operations::{LongObject, ObjectKind, Operations};
use crate::site_cache::SiteCache;
use crate::store::{Store, VmAllocation, VmDoc, VmRow};

pub use convert::{doc_from_spec, spec_from_doc, static_address};

#[derive(Clone)]
pub struct Vms {
    store: Store,
    site: SiteCache,
    consoles: Consoles,
    operations: Operations,
}

impl Vms {
    pub fn new(store: Store, site: SiteCache, consoles: Consoles, operations: Operations) -> Self {
        Self {
            store,
            site,
            consoles,
            operations,
        }
    }

    /// Checks what needs the store: the project, the template, and that a
    /// static address stays out of the project gateway's DHCP pool.
    async fn check(&self, project_id: &str, doc: &VmDoc) -> Result<(), ApiError> {
        self.store
            .project_by_id(project_id)
            .await
            .map_err(|e| e.field("spec.project_id"))?;
        if let Some(template) = &doc.template {
            let pve = self
                .store
                .proxmox_inventory()
                .await?
                .ok_or_else(no_cluster)?;
            if !pve.templates.iter().any(|t| &t.name == template) {
                let names: Vec<&str> = pve.templates.iter().map(|t| t.name.as_str()).collect();
                return Err(ApiError::invalid(format!(
                    "{template:?} is not a template of this site; the templates are {names:?}"
                ))
                .field("spec.template")
                .hint("Use one of the names in [proxmox] templates of the site file."));
            }
        }
        if let Some(gateway) = self.store.gateway_of_project(project_id).await? {
            convert::check_outside_pool(doc, &gateway.doc.dhcp_first, &gateway.doc.dhcp_last)?;
        }
        Ok(())
    }

    pub async fn create(
        &self,
        request_id: &str,
        spec: &api::VmSpec,
        wait: Duration,
    ) -> Result<api::Vm, ApiError> {
        let doc = doc_from_spec(spec)?;
        self.check(&spec.project_id, &doc).await?;
        // Only a create reads the ISO: an image leaving the library later
        // does not stop updates of the VMs made from it.
        if let Some(iso) = &doc.iso {
            self.store.iso_library().await?.vm_volume(iso)?;
        }
        let site = self.site.site().await?;
        let hypervisor = site.hypervisor.clone().ok_or_else(no_cluster)?;
        let pve = self
            .store
            .proxmox_inventory()
            .await?
            .ok_or_else(no_cluster)?;
        let nodes: Vec<String> = pve.nodes.iter().map(|n| n.name.clone()).collect();
        let vmids = crate::ownership::vmid_choice(&pve, hypervisor.as_ref()).await?;
        let row = self
            .store
            .allocate_vm(
                request_id,
                &VmAllocation {
                    project_id: &spec.project_id,
                    name: &spec.name,
                    node: Some(spec.node.as_str()).filter(|n| !n.is_empty()),
                    nodes: &nodes,
                    doc: &doc,
                    vmids,
                },
            )
            .await?;
        self.operations.start(ObjectKind::Vm, &row.id);
        self.wait_for(&row.id, wait).await
    }

    pub async fn update(
        &self,
        request_id: &str,
        id: &str,
        spec: &api::VmSpec,
        wait: Duration,
    ) -> Result<api::Vm, ApiError> {
        let doc = doc_from_spec(spec)?;
        let row = self.row(id).await?;
        if !spec.node.is_empty() && spec.node != row.node {
            return Err(
                ApiError::invalid("a VM cannot move to another node in place")
                    .field("spec.node")
                    .hint("Changing node replaces the VM."),
            );
        }
        if doc.disk_gb < row.doc.disk_gb {
            return Err(ApiError::invalid(format!(
                "disks only grow: the disk is {} GB, {} GB was asked",
                row.doc.disk_gb, doc.disk_gb
            ))
            .field("spec.disk_gb")
            .hint("Keep disk_gb at or above the current size, or replace the VM."));
        }
        self.check(&row.project_id, &doc).await?;
        self.store.update_vm_doc(request_id, id, &doc).await?;
        self.operations.start(ObjectKind::Vm, id);
        self.wait_for(id, wait).await
    }

    /// Waits until the VM's operation ended, or `wait` passes.
    async fn wait_for(&self, id: &str, wait: Duration) -> Result<api::Vm, ApiError> {
        self.operations.wait(ObjectKind::Vm, id, wait).await?;
        self.describe(&self.row(id).await?, false).await
    }

    async fn row(&self, id: &str) -> Result<VmRow, ApiError> {
        self.store
            .vm(id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("no VM has id {id:?}")).subject(id))
    }

    /// A VM by id, or by "project-name/vm-name".
    pub async fn get(&self, reference: &str, live: bool) -> Result<api::Vm, ApiError> {
        let row = match self.store.vm(reference).await? {
            Some(row) => row,
            None => {
                let missing = || {
                    ApiError::not_found(format!(
                        "no VM has the id {reference:?}, and it is not \"project-name/vm-name\" of a VM"
                    ))
                    .subject(reference)
                };
                let (project, name) = reference.split_once('/').ok_or_else(missing)?;
                let project = self
                    .store
                    .project_by_name(project)
                    .await
                    .map_err(|_| missing())?;
                self.store
                    .vm_by_name(&project.id, name)
                    .await?
                    .ok_or_else(missing)?
            }
        };
        self.describe(&row, live).await
    }

    /// Deletes the VM through the journal: `false` when there was none.
    pub async fn delete(&self, request_id: &str, id: &str) -> Result<bool, ApiError> {
        let removed = self
            .operations
            .remove(ObjectKind::Vm, id, request_id)
            .await?;
        Ok(removed.is_some())
    }
}

#[async_trait::async_trait]
impl LongObject for Vms {
    async fn converge(&self, id: &str) -> Result<(), ApiError> {
        Vms::converge(self, id).await
    }

    async fn remove(&self, id: &str) -> Result<String, ApiError> {
        let Some(row) = self.store.vm(id).await? else {
            return Ok(String::new());
        };
        crate::operations::step("removing the VM").await?;
        self.tear_down(&row).await?;
        crate::operations::step("removing the console").await?;
        self.consoles.remove_vm(id).await?;
        self.store.delete_vm_row(id).await?;
        tracing::info!(vm = %id, vmid = row.vmid, "VM deleted; its VM id is free");
        Ok(String::new())
    }
}

fn no_cluster() -> ApiError {
    ApiError::precondition("the site inventory has no Proxmox VE cluster")
        .hint("Add [proxmox] to the site file.")
}

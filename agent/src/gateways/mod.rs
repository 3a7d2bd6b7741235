//! Project gateways (PAGW): allocation, the create operation that brings a
//! gateway VM up and configures it, updates, reads with drift, and delete.
//! Independent of Terraform and of any one backend: it drives the
//! `Hypervisor` and `Gateway` traits.

mod converge;
mod convert;

use std::sync::Arc;
use std::time::Duration;

use giif_proto::agent as api;

use crate::consoles::Consoles;
use crate::error::ApiError;
use crate::operations::{LongObject, ObjectKind, ObjectLocks, Operations};
use crate::site_cache::SiteCache;
use crate::store::{Allocated, GatewayRow, SlotChoice, Store};

pub use convert::{doc_from_spec, spec_from_doc, ProjectExtras};

/// How long a create or update waits for a gateway to boot.
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(180);

#[derive(Clone)]
pub struct Gateways {
    store: Store,
    site: SiteCache,
    consoles: Consoles,
    operations: Operations,
    /// One configuration change at a time per gateway.
    config_locks: ObjectLocks,
}

impl Gateways {
    pub fn new(store: Store, site: SiteCache, consoles: Consoles, operations: Operations) -> Self {
        Self {
            store,
            site,
            consoles,
            operations,
            config_locks: ObjectLocks::default(),
        }
    }

    pub(crate) fn lock_of(&self, id: &str) -> Arc<crate::operations::ObjectLock> {
        self.config_locks.of(id)
    }

    pub async fn create(
        &self,
        request_id: &str,
        spec: &api::GatewaySpec,
        wait: Duration,
    ) -> Result<api::Gateway, ApiError> {
        let doc = doc_from_spec(spec)?;
        let project = self
            .store
            .project_by_id(&spec.project_id)
            .await
            .map_err(|e| e.field("spec.project_id"))?;
        let site = self.site.site().await?;
        let slots: Vec<SlotChoice> = self
            .store
            .pagw_slot_inventory()
            .await?
            .into_iter()
            .map(|s| SlotChoice {
                public_ip: s.public_ip.to_string(),
                node: s.host,
                default_project: s.default_project,
            })
            .collect();
        let hypervisor = site.hypervisor.clone().ok_or_else(|| {
            ApiError::precondition("the site inventory has no Proxmox VE cluster")
                .hint("Add [proxmox] to the site file.")
        })?;
        let pve = self.store.proxmox_inventory().await?.ok_or_else(|| {
            ApiError::precondition("the site inventory has no Proxmox VE cluster")
                .hint("Add [proxmox] to the site file.")
        })?;
        let vmids = crate::ownership::vmid_choice(&pve, hypervisor.as_ref()).await?;
        let row = match self
            .store
            .allocate_gateway(request_id, &project.id, &doc, &slots, vmids)
            .await?
        {
            Allocated::New(row) | Allocated::Existing(row) => row,
        };
        self.operations.start(ObjectKind::Gateway, &row.id);
        self.wait_for(&row.id, wait).await
    }

    pub async fn update(
        &self,
        request_id: &str,
        id: &str,
        spec: &api::GatewaySpec,
        wait: Duration,
    ) -> Result<api::Gateway, ApiError> {
        let doc = doc_from_spec(spec)?;
        let row = self.row(id).await?;
        if doc
            .requested_ip
            .as_ref()
            .is_some_and(|ip| ip != &row.slot_ip)
        {
            return Err(
                ApiError::invalid("a gateway cannot move to another slot in place")
                    .field("spec.public_ip")
                    .hint("Changing public_ip replaces the gateway."),
            );
        }
        self.store.update_gateway_doc(request_id, id, &doc).await?;
        self.operations.start(ObjectKind::Gateway, id);
        self.wait_for(id, wait).await
    }

    /// Waits until the gateway's operation ended, or `wait` passes.
    async fn wait_for(&self, id: &str, wait: Duration) -> Result<api::Gateway, ApiError> {
        self.operations.wait(ObjectKind::Gateway, id, wait).await?;
        self.describe(&self.row(id).await?, false).await
    }

    async fn row(&self, id: &str) -> Result<GatewayRow, ApiError> {
        self.store
            .gateway(id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("no gateway has id {id:?}")).subject(id))
    }

    /// A gateway by id, project id or project name.
    pub async fn get(&self, reference: &str, live: bool) -> Result<api::Gateway, ApiError> {
        let row = match self.store.gateway(reference).await? {
            Some(row) => row,
            None => {
                let project = match self.store.project_by_id(reference).await {
                    Ok(project) => project,
                    Err(_) => self.store.project_by_name(reference).await.map_err(|_| {
                        ApiError::not_found(format!(
                            "no gateway, project id or project name is {reference:?}"
                        ))
                        .subject(reference)
                    })?,
                };
                self.store
                    .gateway_of_project(&project.id)
                    .await?
                    .ok_or_else(|| {
                        ApiError::not_found(format!("project {reference:?} has no gateway"))
                            .subject(reference)
                    })?
            }
        };
        self.describe(&row, live).await
    }

    /// Deletes the gateway through the journal: `false` when there was none.
    pub async fn delete(&self, request_id: &str, id: &str) -> Result<bool, ApiError> {
        let removed = self
            .operations
            .remove(ObjectKind::Gateway, id, request_id)
            .await?;
        Ok(removed.is_some())
    }
}

#[async_trait::async_trait]
impl LongObject for Gateways {
    /// Under the configuration lock: a reconfiguration for a server or a
    /// floating IP waits for the gateway's own operation.
    async fn converge(&self, id: &str) -> Result<(), ApiError> {
        let lock = self.lock_of(id);
        let _held = lock.lock().await;
        Gateways::converge(self, id).await
    }

    async fn remove(&self, id: &str) -> Result<String, ApiError> {
        let Some(row) = self.store.gateway(id).await? else {
            return Ok(String::new());
        };
        crate::operations::step("removing the gateway VM").await?;
        self.tear_down(&row).await?;
        crate::operations::step("removing the console group").await?;
        self.consoles.remove_gateway(id).await?;
        self.store.delete_gateway_row(id).await?;
        tracing::info!(gateway = %id, slot = %row.slot_ip, vmid = row.vmid, "gateway deleted; its slot and VM id are free");
        Ok(String::new())
    }
}

pub(crate) fn driver_error(error: crate::drivers::DriverError) -> ApiError {
    use crate::drivers::ErrorClass;
    let text = error.to_string();
    match error.class {
        ErrorClass::Transient => {
            ApiError::transient(text).hint("The device is busy or unreachable; retry.")
        }
        ErrorClass::NotFound => ApiError::not_found(text),
        ErrorClass::MaybeApplied => ApiError::transient(text)
            .hint("The device may have done it; retrying reads its state first."),
        ErrorClass::Permanent => ApiError::precondition(text),
        ErrorClass::Unsupported => ApiError::precondition(text)
            .hint("The device does not offer this; change the site or the configuration."),
    }
}

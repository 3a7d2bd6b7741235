//! Bare-metal servers assigned to projects: the claim, the operation that
//! plugs the server's VLAN into the project gateway and sets its power and
//! virtual media, moves between projects, reads with drift, and the release.
//! Drives the `Bmc` and `Hypervisor` traits and the project's gateway.

mod actions;
mod converge;
mod convert;
mod release;

use std::collections::BTreeMap;
use std::time::Duration;

use giif_proto::agent as api;

use crate::consoles::Consoles;
use crate::error::ApiError;
use crate::gateways::Gateways;
use crate::inventory::Bms;
use crate::operations::{LongObject, ObjectKind, ObjectLocks, Operations};
use crate::site_cache::SiteCache;
use crate::store::{BmsDoc, BmsRow, Store};

pub use convert::doc_from_spec;

#[derive(Clone)]
pub struct Servers {
    store: Store,
    site: SiteCache,
    consoles: Consoles,
    gateways: Gateways,
    operations: Operations,
    /// One NIC change at a time per gateway VM (its slot numbers).
    nic_locks: ObjectLocks,
}

impl Servers {
    pub fn new(
        store: Store,
        site: SiteCache,
        gateways: Gateways,
        consoles: Consoles,
        operations: Operations,
    ) -> Self {
        Self {
            store,
            site,
            consoles,
            gateways,
            operations,
            nic_locks: ObjectLocks::default(),
        }
    }

    /// The server's inventory entry; an unknown name lists some free ones.
    async fn server(&self, name: &str) -> Result<Bms, ApiError> {
        let inventory = self.store.bms_inventory().await?;
        if let Some(server) = inventory.iter().find(|s| s.name == name) {
            return Ok(server.clone());
        }
        let taken: Vec<String> = self
            .store
            .bms_assignments()
            .await?
            .into_iter()
            .map(|r| r.bms)
            .chain(self.store.bms_quarantine().await?.into_iter().map(|q| q.0))
            .collect();
        let free: Vec<&str> = inventory
            .iter()
            .map(|s| s.name.as_str())
            .filter(|n| !taken.iter().any(|t| t == n))
            .take(5)
            .collect();
        let some = if free.is_empty() {
            "none is free".to_string()
        } else {
            format!("free ones: {}", free.join(", "))
        };
        Err(ApiError::not_found(format!(
            "no server named {name:?} in the inventory ({some})"
        ))
        .field("spec.bms")
        .subject(name)
        .hint("Use a name that data source giif_bms_inventory lists."))
    }

    async fn require_gateway(&self, project_id: &str) -> Result<(), ApiError> {
        if self.store.gateway_of_project(project_id).await?.is_none() {
            return Err(ApiError::precondition(format!("project {project_id} has no gateway (PAGW)"))
                .field("spec.project_id")
                .hint("Add a giif_pagw for the project (and let the assignment depend on it); bare-metal servers reach the project through it."));
        }
        Ok(())
    }

    /// A `boot_iso` that names an image must name one of the library's
    /// images for servers.
    async fn check_media(&self, doc: &BmsDoc) -> Result<(), ApiError> {
        if let Some(boot_iso) = &doc.boot_iso {
            self.store.iso_library().await?.media_location(boot_iso)?;
        }
        Ok(())
    }

    pub async fn create(
        &self,
        request_id: &str,
        spec: &api::BmsAssignmentSpec,
        wait: Duration,
    ) -> Result<api::BmsAssignment, ApiError> {
        let doc = doc_from_spec(spec)?;
        self.check_media(&doc).await?;
        self.store
            .project_by_id(&spec.project_id)
            .await
            .map_err(|e| e.field("spec.project_id"))?;
        self.server(&spec.bms).await?;
        self.require_gateway(&spec.project_id).await?;
        let row = self
            .store
            .claim_bms(request_id, &spec.project_id, &spec.bms, &doc)
            .await?;
        self.operations.start(ObjectKind::Server, &row.id);
        self.wait_for(&row.id, wait).await
    }

    pub async fn update(
        &self,
        request_id: &str,
        id: &str,
        spec: &api::BmsAssignmentSpec,
        wait: Duration,
    ) -> Result<api::BmsAssignment, ApiError> {
        let doc = doc_from_spec(spec)?;
        self.check_media(&doc).await?;
        let row = self.row(id).await?;
        if spec.bms != row.bms {
            return Err(ApiError::invalid(format!(
                "assignment {id} is for server {}, not {}",
                row.bms, spec.bms
            ))
            .field("spec.bms")
            .hint("Changing bms replaces the assignment."));
        }
        if spec.project_id != row.project_id {
            self.store
                .project_by_id(&spec.project_id)
                .await
                .map_err(|e| e.field("spec.project_id"))?;
            self.require_gateway(&spec.project_id).await?;
        }
        self.store
            .update_bms_assignment(request_id, id, &spec.project_id, &doc)
            .await?;
        self.operations.start(ObjectKind::Server, id);
        self.wait_for(id, wait).await
    }

    /// Waits until the assignment's operation ended, or `wait` passes.
    async fn wait_for(&self, id: &str, wait: Duration) -> Result<api::BmsAssignment, ApiError> {
        self.operations.wait(ObjectKind::Server, id, wait).await?;
        self.describe(&self.row(id).await?, false).await
    }

    /// Releases the server through the journal: `(existed, warning)`.
    pub async fn delete(&self, request_id: &str, id: &str) -> Result<(bool, String), ApiError> {
        let Some(row) = self.store.bms_assignment(id).await? else {
            return Ok((false, String::new()));
        };
        let removed = self
            .operations
            .remove(ObjectKind::Server, &row.id, request_id)
            .await?;
        Ok((removed.is_some(), removed.unwrap_or_default()))
    }

    async fn row(&self, reference: &str) -> Result<BmsRow, ApiError> {
        self.store.bms_assignment(reference).await?.ok_or_else(|| {
            ApiError::not_found(format!(
                "no server assignment has id or server name {reference:?}"
            ))
            .subject(reference)
        })
    }

    /// An assignment by id or server name; with `live`, what the iDRAC and
    /// the gateway VM say.
    pub async fn get(&self, reference: &str, live: bool) -> Result<api::BmsAssignment, ApiError> {
        let row = self.row(reference).await?;
        self.describe(&row, live).await
    }

    /// The site's servers with their state, filtered.
    pub async fn list(&self, state: &str, tag: &str) -> Result<Vec<api::BmsServer>, ApiError> {
        if !matches!(state, "" | "any" | "free" | "assigned") {
            return Err(ApiError::invalid(format!(
                "state {state:?} is not \"free\", \"assigned\" or \"any\""
            ))
            .field("state"));
        }
        let assigned: BTreeMap<String, String> = self
            .store
            .bms_assignments()
            .await?
            .into_iter()
            .map(|r| (r.bms, r.project_id))
            .collect();
        let quarantined: BTreeMap<String, String> =
            self.store.bms_quarantine().await?.into_iter().collect();
        let servers = self
            .store
            .bms_inventory()
            .await?
            .into_iter()
            .filter(|s| tag.is_empty() || s.tags.iter().any(|t| t == tag))
            .map(|s| {
                let project_id = assigned.get(&s.name).cloned().unwrap_or_default();
                let server_state = if !project_id.is_empty() {
                    "assigned"
                } else if quarantined.contains_key(&s.name) {
                    "quarantined"
                } else {
                    "free"
                };
                api::BmsServer {
                    state: server_state.into(),
                    project_id,
                    name: s.name,
                    service_tag: s.service_tag,
                    model: s.model.unwrap_or_default(),
                    vlan: s.vlan,
                    tags: s.tags,
                    macs: s.macs,
                }
            })
            .filter(|s| matches!(state, "" | "any") || s.state == state)
            .collect();
        Ok(servers)
    }
}

#[async_trait::async_trait]
impl LongObject for Servers {
    async fn converge(&self, id: &str) -> Result<(), ApiError> {
        Servers::converge(self, id).await
    }

    async fn remove(&self, id: &str) -> Result<String, ApiError> {
        self.release(id).await
    }
}

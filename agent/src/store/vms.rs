//! Project VMs and their VM ids: the row and the id are taken in one
//! transaction and freed together. (project, name) is the natural key.

use super::operations::{enqueue, ObjectKind, OpKind};
use super::stored_status;
use giif_proto::status::Status;
use serde::{Deserialize, Serialize};

use super::requests::{record, replay};
use super::vmids::{allocate_vmid, VmidChoice, VmidOwner};
use super::{now_rfc3339, Store};
use crate::error::ApiError;

/// Cloud-init settings of a VM, as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmCloudInitDoc {
    pub user: String,
    pub ssh_keys: Vec<String>,
    /// "dhcp" or "192.168.212.X/24".
    pub ip: String,
}

/// The desired configuration of a VM, as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmDoc {
    pub template: Option<String>,
    pub iso: Option<String>,
    pub cores: u32,
    pub memory_mb: u64,
    pub disk_gb: u64,
    /// Whether the VM should run.
    pub power_on: bool,
    pub cloud_init: Option<VmCloudInitDoc>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmRow {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub node: String,
    pub vmid: u32,
    pub doc: VmDoc,
    pub status: Status,
    pub last_error: Option<String>,
}

type Row = (
    String,
    String,
    String,
    String,
    i64,
    String,
    String,
    Option<String>,
);
const COLUMNS: &str = "id, project_id, name, node, vmid, spec, status, last_error";

fn from_row(row: Row) -> VmRow {
    let (id, project_id, name, node, vmid, spec, status, last_error) = row;
    VmRow {
        id,
        project_id,
        name,
        node,
        vmid: vmid as u32,
        doc: serde_json::from_str(&spec).unwrap_or_default(),
        status: stored_status(&status),
        last_error,
    }
}

/// Names compare without case: `Web` and `web` are one VM.
fn name_key(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// What a VM create asks the store to allocate.
pub struct VmAllocation<'a> {
    pub project_id: &'a str,
    pub name: &'a str,
    /// A node the caller asked for, else `None`.
    pub node: Option<&'a str>,
    /// The nodes the agent may choose from.
    pub nodes: &'a [String],
    pub doc: &'a VmDoc,
    /// Where its VM id may come from.
    pub vmids: VmidChoice,
}

impl Store {
    /// Takes a row and a VM id for a new VM, or returns the project's VM of
    /// that name (its spec updated), which is how an interrupted create is
    /// found again.
    pub async fn allocate_vm(
        &self,
        request_id: &str,
        wanted: &VmAllocation<'_>,
    ) -> Result<VmRow, ApiError> {
        let mut tx = self.begin_write().await?;
        if let Some(id) = replay::<giif_proto::agent::Vm>(&mut tx, request_id, "CreateVm")
            .await?
            .map(|v| v.id)
        {
            let row: Option<Row> =
                sqlx::query_as(&format!("SELECT {COLUMNS} FROM vms WHERE id = $1"))
                    .bind(&id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some(row) = row {
                return Ok(from_row(row));
            }
        }
        let spec =
            serde_json::to_string(wanted.doc).map_err(|e| ApiError::internal(e.to_string()))?;
        let existing: Option<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM vms WHERE project_id = $1 AND name_key = $2"
        ))
        .bind(wanted.project_id)
        .bind(name_key(wanted.name))
        .fetch_optional(&mut *tx)
        .await?;
        let row = if let Some(row) = existing {
            let row = from_row(row);
            if let Some(node) = wanted.node.filter(|n| *n != row.node) {
                return Err(ApiError::already_exists(format!(
                    "the project already has a VM {:?} ({}) on node {}, not {node}",
                    row.name, row.id, row.node
                ))
                .field("spec.node")
                .subject(&row.id)
                .hint("Import it, or give the new VM another name."));
            }
            let demand = super::quotas::vm_demand(Some(&row.doc), wanted.doc);
            super::quotas::enforce_on_project(self, &mut tx, wanted.project_id, demand).await?;
            sqlx::query("UPDATE vms SET spec = $1, updated_at = $2 WHERE id = $3")
                .bind(&spec)
                .bind(now_rfc3339())
                .bind(&row.id)
                .execute(&mut *tx)
                .await?;
            VmRow {
                doc: wanted.doc.clone(),
                ..row
            }
        } else {
            let demand = super::quotas::vm_demand(None, wanted.doc);
            super::quotas::enforce_on_project(self, &mut tx, wanted.project_id, demand).await?;
            self.insert_vm(&mut tx, wanted, &spec).await?
        };
        let answer = giif_proto::agent::Vm {
            id: row.id.clone(),
            ..Default::default()
        };
        record(&mut tx, request_id, "CreateVm", &answer).await?;
        enqueue(
            &mut tx,
            ObjectKind::Vm,
            &row.id,
            OpKind::Converge,
            request_id,
        )
        .await?;
        tx.commit().await?;
        Ok(row)
    }

    async fn insert_vm(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        wanted: &VmAllocation<'_>,
        spec: &str,
    ) -> Result<VmRow, ApiError> {
        let node = match wanted.node {
            Some(node) => {
                if !wanted.nodes.iter().any(|n| n == node) {
                    return Err(ApiError::invalid(format!(
                        "{node:?} is not a Proxmox node of this site; the nodes are {:?}",
                        wanted.nodes
                    ))
                    .field("spec.node")
                    .hint("Leave node out to let the agent choose one."));
                }
                node.to_string()
            }
            None => least_loaded(tx, wanted.nodes).await?,
        };
        let id = format!("vm-{}", uuid::Uuid::new_v4().simple());
        let now = now_rfc3339();
        let vmid = allocate_vmid(tx, wanted.vmids, VmidOwner::Vm, &id).await?;
        sqlx::query(
            "INSERT INTO vms (id, project_id, name, name_key, node, vmid, spec, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'allocated', $8, $9)",
        )
        .bind(&id)
        .bind(wanted.project_id)
        .bind(wanted.name)
        .bind(name_key(wanted.name))
        .bind(&node)
        .bind(i64::from(vmid))
        .bind(spec)
        .bind(&now)
        .bind(&now)
        .execute(&mut **tx)
        .await?;
        tracing::info!(vm = %id, project = wanted.project_id, node = %node, vmid, "VM allocated");
        Ok(VmRow {
            id,
            project_id: wanted.project_id.to_string(),
            name: wanted.name.to_string(),
            node,
            vmid,
            doc: wanted.doc.clone(),
            status: Status::Allocated,
            last_error: None,
        })
    }

    pub async fn vm(&self, id: &str) -> Result<Option<VmRow>, ApiError> {
        let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM vms WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(from_row))
    }

    pub async fn vm_by_name(
        &self,
        project_id: &str,
        name: &str,
    ) -> Result<Option<VmRow>, ApiError> {
        let row: Option<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM vms WHERE project_id = $1 AND name_key = $2"
        ))
        .bind(project_id)
        .bind(name_key(name))
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(from_row))
    }

    pub async fn set_vm_status(
        &self,
        id: &str,
        status: Status,
        last_error: Option<&str>,
    ) -> Result<(), ApiError> {
        self.set_operation_status("vms", id, status, last_error)
            .await
    }

    /// Records a new desired spec under `request_id`.
    pub async fn update_vm_doc(
        &self,
        request_id: &str,
        id: &str,
        doc: &VmDoc,
    ) -> Result<(), ApiError> {
        let mut tx = self.begin_write().await?;
        if replay::<giif_proto::agent::Vm>(&mut tx, request_id, "UpdateVm")
            .await?
            .is_some()
        {
            return Ok(());
        }
        let before: Option<(String, String)> =
            sqlx::query_as("SELECT project_id, spec FROM vms WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some((project_id, before)) = before {
            let before: VmDoc = serde_json::from_str(&before).unwrap_or_default();
            let demand = super::quotas::vm_demand(Some(&before), doc);
            super::quotas::enforce_on_project(self, &mut tx, &project_id, demand).await?;
        }
        let spec = serde_json::to_string(doc).map_err(|e| ApiError::internal(e.to_string()))?;
        let updated = sqlx::query("UPDATE vms SET spec = $1, updated_at = $2 WHERE id = $3")
            .bind(spec)
            .bind(now_rfc3339())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if updated.rows_affected() == 0 {
            return Err(ApiError::not_found(format!("no VM has id {id:?}")).subject(id));
        }
        let answer = giif_proto::agent::Vm {
            id: id.to_string(),
            ..Default::default()
        };
        record(&mut tx, request_id, "UpdateVm", &answer).await?;
        enqueue(&mut tx, ObjectKind::Vm, id, OpKind::Converge, request_id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets the VM and frees its VM id.
    pub async fn delete_vm_row(&self, id: &str) -> Result<bool, ApiError> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query("DELETE FROM vms WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM vmid_allocations WHERE owner_kind = 'vm' AND owner_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(deleted.rows_affected() > 0)
    }
}

/// The node with the fewest VMs (ties: the first listed).
async fn least_loaded(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    nodes: &[String],
) -> Result<String, ApiError> {
    let mut best: Option<(i64, &String)> = None;
    for node in nodes {
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM vms WHERE node = $1")
            .bind(node)
            .fetch_one(&mut **tx)
            .await?;
        if best.is_none_or(|(n, _)| count < n) {
            best = Some((count, node));
        }
    }
    best.map(|(_, n)| n.clone()).ok_or_else(|| {
        ApiError::precondition("the site inventory has no Proxmox node")
            .hint("Add nodes to [proxmox] in the site file.")
    })
}

//! Gateways and the allocations they hold: a PAGW slot and a VM id, taken
//! in the same transaction as the gateway row and freed with it.

use super::operations::{enqueue, ObjectKind, OpKind};
use super::stored_status;
use giif_proto::status::Status;
use serde::{Deserialize, Serialize};

use super::requests::{record, replay};
use super::vmids::{allocate_vmid, VmidChoice, VmidOwner};
use super::{now_rfc3339, Store};
use crate::error::ApiError;

/// The desired configuration of a gateway, as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayDoc {
    pub requested_ip: Option<String>,
    pub dhcp_first: String,
    pub dhcp_last: String,
    pub dns_servers: Vec<String>,
    pub wireguard: bool,
    /// (name, public key, address).
    pub peers: Vec<(String, String, String)>,
    pub pptp: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayRow {
    pub id: String,
    pub project_id: String,
    pub slot_ip: String,
    pub vmid: u32,
    pub node: String,
    pub doc: GatewayDoc,
    pub status: Status,
    pub last_error: Option<String>,
    pub wireguard_public_key: Option<String>,
}

type Row = (
    String,
    String,
    String,
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);
const COLUMNS: &str =
    "id, project_id, slot_ip, vmid, node, spec, status, last_error, wireguard_public_key";

fn from_row(row: Row) -> GatewayRow {
    let (id, project_id, slot_ip, vmid, node, spec, status, last_error, wireguard_public_key) = row;
    GatewayRow {
        id,
        project_id,
        slot_ip,
        vmid: vmid as u32,
        node,
        doc: serde_json::from_str(&spec).unwrap_or_default(),
        status: stored_status(&status),
        last_error,
        wireguard_public_key,
    }
}

/// What a gateway create found: a new allocation, or the project's gateway.
pub enum Allocated {
    New(GatewayRow),
    Existing(GatewayRow),
}

/// A slot the allocation may choose from: its public IP and its node.
pub struct SlotChoice {
    pub public_ip: String,
    pub node: String,
    pub default_project: bool,
}

impl Store {
    /// Takes a slot and a VM id for the project's gateway, or returns the
    /// gateway the project already has (its spec updated to `doc`).
    pub async fn allocate_gateway(
        &self,
        request_id: &str,
        project_id: &str,
        doc: &GatewayDoc,
        slots: &[SlotChoice],
        vmids: VmidChoice,
    ) -> Result<Allocated, ApiError> {
        let mut tx = self.begin_write().await?;
        if let Some(id) = replay::<giif_proto::agent::Gateway>(&mut tx, request_id, "CreateGateway")
            .await?
            .map(|g| g.id)
        {
            let row: Option<Row> =
                sqlx::query_as(&format!("SELECT {COLUMNS} FROM gateways WHERE id = $1"))
                    .bind(&id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some(row) = row {
                return Ok(Allocated::Existing(from_row(row)));
            }
        }
        let spec = serde_json::to_string(doc).map_err(|e| ApiError::internal(e.to_string()))?;
        let existing: Option<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM gateways WHERE project_id = $1"
        ))
        .bind(project_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = existing {
            let row = from_row(row);
            if let Some(wanted) = &doc.requested_ip {
                if wanted != &row.slot_ip {
                    return Err(ApiError::already_exists(format!(
                        "project {project_id} already has a gateway ({}) on {}, not {wanted}",
                        row.id, row.slot_ip
                    ))
                    .field("spec.public_ip")
                    .subject(&row.id)
                    .hint(format!("A project has one gateway. Import it (`terraform import <address> {}`) or destroy it first.", row.id)));
                }
            }
            sqlx::query("UPDATE gateways SET spec = $1, updated_at = $2 WHERE id = $3")
                .bind(&spec)
                .bind(now_rfc3339())
                .bind(&row.id)
                .execute(&mut *tx)
                .await?;
            let adopted = GatewayRow {
                doc: doc.clone(),
                ..row
            };
            record(
                &mut tx,
                request_id,
                "CreateGateway",
                &giif_proto::agent::Gateway {
                    id: adopted.id.clone(),
                    ..Default::default()
                },
            )
            .await?;
            enqueue(
                &mut tx,
                ObjectKind::Gateway,
                &adopted.id,
                OpKind::Converge,
                request_id,
            )
            .await?;
            tx.commit().await?;
            return Ok(Allocated::Existing(adopted));
        }
        let taken: Vec<(String,)> = sqlx::query_as("SELECT slot_ip FROM gateways")
            .fetch_all(&mut *tx)
            .await?;
        let taken: Vec<String> = taken.into_iter().map(|(ip,)| ip).collect();
        let slot = match &doc.requested_ip {
            Some(wanted) => {
                let slot = slots.iter().find(|s| &s.public_ip == wanted).ok_or_else(|| {
                    ApiError::invalid(format!("{wanted} is not a PAGW slot of this site"))
                        .field("spec.public_ip")
                        .hint("Leave public_ip out to take any free slot, or pick one that `giif-agent inventory list` shows.")
                })?;
                if taken.contains(wanted) {
                    return Err(ApiError::already_exists(format!("the PAGW slot {wanted} is taken by another project's gateway"))
                        .field("spec.public_ip")
                        .subject(wanted)
                        .hint("Leave public_ip out to take any free slot."));
                }
                slot
            }
            None => slots
                .iter()
                .find(|s| !s.default_project && !taken.contains(&s.public_ip))
                .ok_or_else(|| {
                    ApiError::pool_exhausted(format!("every PAGW slot is taken ({} slots)", slots.len()))
                        .subject("pagw-slots")
                        .hint("Destroy a gateway you no longer need, or add [[pagw_slots]] to the site inventory and run `giif-agent inventory import <file>`.")
                })?,
        };
        let id = format!("gw-{}", uuid::Uuid::new_v4().simple());
        let now = now_rfc3339();
        let vmid = allocate_vmid(&mut tx, vmids, VmidOwner::Gateway, &id).await?;
        sqlx::query(
            "INSERT INTO gateways (id, project_id, slot_ip, vmid, node, spec, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'allocated', $7, $8)",
        )
        .bind(&id)
        .bind(project_id)
        .bind(&slot.public_ip)
        .bind(i64::from(vmid))
        .bind(&slot.node)
        .bind(&spec)
        .bind(&now)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        record(
            &mut tx,
            request_id,
            "CreateGateway",
            &giif_proto::agent::Gateway {
                id: id.clone(),
                ..Default::default()
            },
        )
        .await?;
        enqueue(
            &mut tx,
            ObjectKind::Gateway,
            &id,
            OpKind::Converge,
            request_id,
        )
        .await?;
        tx.commit().await?;
        tracing::info!(gateway = %id, project = project_id, slot = %slot.public_ip, vmid, "gateway allocated");
        Ok(Allocated::New(GatewayRow {
            id,
            project_id: project_id.to_string(),
            slot_ip: slot.public_ip.clone(),
            vmid,
            node: slot.node.clone(),
            doc: doc.clone(),
            status: Status::Allocated,
            last_error: None,
            wireguard_public_key: None,
        }))
    }

    pub async fn gateway(&self, id: &str) -> Result<Option<GatewayRow>, ApiError> {
        let row: Option<Row> =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM gateways WHERE id = $1"))
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(from_row))
    }

    /// The gateway in the slot with public IP `slot_ip`, if any.
    pub async fn gateway_in_slot(&self, slot_ip: &str) -> Result<Option<GatewayRow>, ApiError> {
        let row: Option<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM gateways WHERE slot_ip = $1"
        ))
        .bind(slot_ip)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(from_row))
    }

    pub async fn gateway_of_project(
        &self,
        project_id: &str,
    ) -> Result<Option<GatewayRow>, ApiError> {
        let row: Option<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM gateways WHERE project_id = $1"
        ))
        .bind(project_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(from_row))
    }

    pub async fn set_gateway_status(
        &self,
        id: &str,
        status: Status,
        last_error: Option<&str>,
    ) -> Result<(), ApiError> {
        self.set_operation_status("gateways", id, status, last_error)
            .await
    }

    pub async fn set_gateway_ready(
        &self,
        id: &str,
        wireguard_public_key: Option<&str>,
    ) -> Result<(), ApiError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE gateways SET status = 'ready', last_error = NULL, wireguard_public_key = $1, updated_at = $2 WHERE id = $3")
            .bind(wireguard_public_key)
            .bind(now_rfc3339())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a new desired spec under `request_id`; `Ok(false)` when this
    /// request was applied before.
    pub async fn update_gateway_doc(
        &self,
        request_id: &str,
        id: &str,
        doc: &GatewayDoc,
    ) -> Result<bool, ApiError> {
        let mut tx = self.begin_write().await?;
        if replay::<giif_proto::agent::Gateway>(&mut tx, request_id, "UpdateGateway")
            .await?
            .is_some()
        {
            return Ok(false);
        }
        let spec = serde_json::to_string(doc).map_err(|e| ApiError::internal(e.to_string()))?;
        let updated = sqlx::query("UPDATE gateways SET spec = $1, updated_at = $2 WHERE id = $3")
            .bind(spec)
            .bind(now_rfc3339())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if updated.rows_affected() == 0 {
            return Err(ApiError::not_found(format!("no gateway has id {id:?}")).subject(id));
        }
        record(
            &mut tx,
            request_id,
            "UpdateGateway",
            &giif_proto::agent::Gateway {
                id: id.to_string(),
                ..Default::default()
            },
        )
        .await?;
        enqueue(
            &mut tx,
            ObjectKind::Gateway,
            id,
            OpKind::Converge,
            request_id,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Forgets the gateway and frees its slot and VM id.
    pub async fn delete_gateway_row(&self, id: &str) -> Result<bool, ApiError> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query("DELETE FROM gateways WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM vmid_allocations WHERE owner_kind = 'gateway' AND owner_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(deleted.rows_affected() > 0)
    }

    pub async fn gateway_count_of_project(&self, project_id: &str) -> Result<i64, ApiError> {
        let (count,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM gateways WHERE project_id = $1")
                .bind(project_id)
                .fetch_one(self.pool())
                .await?;
        Ok(count)
    }
}

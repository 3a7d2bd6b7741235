//! Server assignments: the claim (the primary key on the server's name is
//! what stops double assignment), the NIC it holds, and the quarantine of
//! servers whose release failed.

use super::operations::{enqueue, ObjectKind, OpKind};
use super::stored_status;
use giif_proto::status::Status;
use serde::{Deserialize, Serialize};

use super::requests::{record, replay};
use super::{now_rfc3339, Store};
use crate::error::ApiError;

/// What happens to the server when it leaves its project.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseDoc {
    pub power_off: bool,
    pub eject_media: bool,
    /// "none" or "bmc".
    pub reset: String,
    /// Erase the disks before the server returns to the pool.
    #[serde(default)]
    pub erase: bool,
}

impl Default for ReleaseDoc {
    fn default() -> Self {
        Self {
            power_off: true,
            eject_media: true,
            reset: "none".into(),
            erase: false,
        }
    }
}

/// The desired assignment, as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BmsDoc {
    /// "on" or "off"; `None` leaves the power alone.
    pub power_state: Option<String>,
    pub boot_iso: Option<String>,
    #[serde(default)]
    pub release: ReleaseDoc,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BmsRow {
    pub bms: String,
    pub id: String,
    pub project_id: String,
    pub pagw_nic: Option<u32>,
    /// The gateway whose VM holds `pagw_nic`.
    pub pagw_id: Option<String>,
    pub doc: BmsDoc,
    pub status: Status,
    pub last_error: Option<String>,
}

type Row = (
    String,
    String,
    String,
    Option<i64>,
    Option<String>,
    String,
    String,
    Option<String>,
);
const COLUMNS: &str = "bms, id, project_id, pagw_nic, pagw_id, spec, status, last_error";

fn from_row(row: Row) -> BmsRow {
    let (bms, id, project_id, nic, pagw_id, spec, status, last_error) = row;
    BmsRow {
        bms,
        id,
        project_id,
        pagw_nic: nic.map(|n| n as u32),
        pagw_id,
        doc: serde_json::from_str(&spec).unwrap_or_default(),
        status: stored_status(&status),
        last_error,
    }
}

fn to_json(doc: &BmsDoc) -> Result<String, ApiError> {
    serde_json::to_string(doc).map_err(|e| ApiError::internal(e.to_string()))
}

const CREATE: &str = "CreateBmsAssignment";

impl Store {
    /// Claims `bms` for the project, or adopts the assignment the server
    /// already has in that project (its spec updated to `doc`).
    pub async fn claim_bms(
        &self,
        request_id: &str,
        project_id: &str,
        bms: &str,
        doc: &BmsDoc,
    ) -> Result<BmsRow, ApiError> {
        let mut tx = self.begin_write().await?;
        let spec = to_json(doc)?;
        if let Some(seen) =
            replay::<giif_proto::agent::BmsAssignment>(&mut tx, request_id, CREATE).await?
        {
            let row: Option<Row> = sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM bms_assignments WHERE id = $1"
            ))
            .bind(&seen.id)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = row {
                return Ok(from_row(row));
            }
        }
        let quarantined: Option<(String, String)> =
            sqlx::query_as("SELECT reason, since FROM bms_quarantine WHERE bms = $1")
                .bind(bms)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some((reason, since)) = quarantined {
            return Err(ApiError::precondition(format!(
                "server {bms} is quarantined since {since}: {reason}"
            ))
            .field("spec.bms")
            .subject(bms)
            .hint("An operator must check the server, then run `giif-agent inventory release <server>`; pick another server meanwhile."));
        }
        let existing: Option<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM bms_assignments WHERE bms = $1"
        ))
        .bind(bms)
        .fetch_optional(&mut *tx)
        .await?;
        let now = now_rfc3339();
        let row = match existing.map(from_row) {
            Some(row) if row.project_id != project_id => {
                // Which project holds it is not every caller's to know;
                // operators see it in the inventory.
                return Err(ApiError::already_exists(format!(
                    "server {bms} is assigned to another project"
                ))
                .field("spec.bms")
                .subject(&row.id)
                .hint("Pick a free server (data source giif_bms_inventory with state = \"free\"), or release it from that project first."));
            }
            Some(row) => {
                sqlx::query("UPDATE bms_assignments SET spec = $1, updated_at = $2 WHERE bms = $3")
                    .bind(&spec)
                    .bind(&now)
                    .bind(bms)
                    .execute(&mut *tx)
                    .await?;
                BmsRow {
                    doc: doc.clone(),
                    ..row
                }
            }
            None => {
                let one = crate::tenancy::Usage {
                    servers: 1,
                    ..Default::default()
                };
                super::quotas::enforce_on_project(self, &mut tx, project_id, one).await?;
                let id = format!("bms-{}", uuid::Uuid::new_v4().simple());
                sqlx::query(
                    "INSERT INTO bms_assignments (bms, id, project_id, spec, status, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, 'claimed', $5, $6)",
                )
                .bind(bms)
                .bind(&id)
                .bind(project_id)
                .bind(&spec)
                .bind(&now)
                .bind(&now)
                .execute(&mut *tx)
                .await?;
                tracing::info!(assignment = %id, bms, project = project_id, "server claimed");
                BmsRow {
                    bms: bms.to_string(),
                    id,
                    project_id: project_id.to_string(),
                    pagw_nic: None,
                    pagw_id: None,
                    doc: doc.clone(),
                    status: Status::Claimed,
                    last_error: None,
                }
            }
        };
        record(
            &mut tx,
            request_id,
            CREATE,
            &giif_proto::agent::BmsAssignment {
                id: row.id.clone(),
                ..Default::default()
            },
        )
        .await?;
        enqueue(
            &mut tx,
            ObjectKind::Server,
            &row.id,
            OpKind::Converge,
            request_id,
        )
        .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// An assignment by its id or its server's name.
    pub async fn bms_assignment(&self, reference: &str) -> Result<Option<BmsRow>, ApiError> {
        let row: Option<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM bms_assignments WHERE id = $1 OR bms = $1"
        ))
        .bind(reference)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(from_row))
    }

    pub async fn bms_assignments(&self) -> Result<Vec<BmsRow>, ApiError> {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM bms_assignments ORDER BY bms"
        ))
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(from_row).collect())
    }

    /// Records a new desired spec and project; `Ok(false)` when this request
    /// was applied before.
    pub async fn update_bms_assignment(
        &self,
        request_id: &str,
        id: &str,
        project_id: &str,
        doc: &BmsDoc,
    ) -> Result<bool, ApiError> {
        let mut tx = self.begin_write().await?;
        let method = "UpdateBmsAssignment";
        if replay::<giif_proto::agent::BmsAssignment>(&mut tx, request_id, method)
            .await?
            .is_some()
        {
            return Ok(false);
        }
        let current: Option<(String,)> =
            sqlx::query_as("SELECT project_id FROM bms_assignments WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        if current.is_some_and(|(current,)| current != project_id) {
            let one = crate::tenancy::Usage {
                servers: 1,
                ..Default::default()
            };
            super::quotas::enforce_on_project(self, &mut tx, project_id, one).await?;
        }
        let updated = sqlx::query(
            "UPDATE bms_assignments SET spec = $1, project_id = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(to_json(doc)?)
        .bind(project_id)
        .bind(now_rfc3339())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(
                ApiError::not_found(format!("no server assignment has id {id:?}")).subject(id),
            );
        }
        let answer = giif_proto::agent::BmsAssignment {
            id: id.to_string(),
            ..Default::default()
        };
        record(&mut tx, request_id, method, &answer).await?;
        enqueue(
            &mut tx,
            ObjectKind::Server,
            id,
            OpKind::Converge,
            request_id,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Reserves NIC slot `slot` of gateway `gateway` for the assignment
    /// before it is plugged; `false` when another assignment holds it (a
    /// unique key, so two replicas cannot both take it).
    pub async fn reserve_bms_nic(
        &self,
        id: &str,
        gateway: &str,
        slot: u32,
    ) -> Result<bool, ApiError> {
        let mut tx = self.begin_write().await?;
        let reserved = sqlx::query(
            "UPDATE bms_assignments SET pagw_id = $1, pagw_nic = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(gateway)
        .bind(i64::from(slot))
        .bind(now_rfc3339())
        .bind(id)
        .execute(&mut *tx)
        .await;
        match reserved {
            Ok(_) => {
                tx.commit().await?;
                Ok(true)
            }
            Err(error) if super::is_unique_violation(&error) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// The NIC slots of gateway `gateway` that assignments other than `id`
    /// hold.
    pub async fn reserved_bms_nics(&self, gateway: &str, id: &str) -> Result<Vec<u32>, ApiError> {
        let rows: Vec<(i64,)> = sqlx::query_as(
            "SELECT pagw_nic FROM bms_assignments WHERE pagw_id = $1 AND id <> $2 AND pagw_nic IS NOT NULL",
        )
        .bind(gateway)
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(slot,)| slot as u32).collect())
    }

    /// Where the server's NIC is plugged now (`None`: nowhere).
    pub async fn set_bms_nic(
        &self,
        id: &str,
        plugged: Option<(&str, u32)>,
    ) -> Result<(), ApiError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE bms_assignments SET pagw_id = $1, pagw_nic = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(plugged.map(|(gw, _)| gw.to_string()))
        .bind(plugged.map(|(_, nic)| i64::from(nic)))
        .bind(now_rfc3339())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn set_bms_status(
        &self,
        id: &str,
        status: Status,
        last_error: Option<&str>,
    ) -> Result<(), ApiError> {
        self.set_operation_status("bms_assignments", id, status, last_error)
            .await
    }

    /// Frees the server, or with `quarantine` keeps it out of the pool with
    /// the reason, in the same transaction.
    pub async fn end_bms_assignment(
        &self,
        id: &str,
        bms: &str,
        quarantine: Option<&str>,
    ) -> Result<(), ApiError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM bms_assignments WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if let Some(reason) = quarantine {
            sqlx::query("DELETE FROM bms_quarantine WHERE bms = $1")
                .bind(bms)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO bms_quarantine (bms, reason, since) VALUES ($1, $2, $3)")
                .bind(bms)
                .bind(reason)
                .bind(now_rfc3339())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Takes a server out of quarantine, after an operator checked it: it
    /// is free again. False if it was not quarantined.
    pub async fn release_quarantine(&self, bms: &str) -> Result<bool, ApiError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM bms_quarantine WHERE bms = $1")
            .bind(bms)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        tx.commit().await?;
        if done {
            tracing::info!(bms, "server taken out of quarantine by an operator");
        }
        Ok(done)
    }

    /// Quarantined servers and why.
    pub async fn bms_quarantine(&self) -> Result<Vec<(String, String)>, ApiError> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT bms, reason FROM bms_quarantine ORDER BY bms")
                .fetch_all(self.pool())
                .await?;
        Ok(rows)
    }
}

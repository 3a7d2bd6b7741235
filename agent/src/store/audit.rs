//! The audit trail: one row per change a principal asked for, and the
//! device actions it caused. Rows are only ever inserted; pruning by age is
//! the one deletion.

use super::{now_rfc3339, Store};
use crate::error::ApiError;

/// One audited call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditRecord {
    pub principal: String,
    pub serial: String,
    pub rpc: String,
    /// The object's id, or its name when the call made nothing.
    pub object: String,
    pub project_id: String,
    pub request_id: String,
    /// "ok", or "refused: ..." / "failed: ..." with the error's message.
    pub outcome: String,
}

/// One device action an audited call caused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceAction {
    pub at: String,
    pub device: String,
    pub action: String,
    pub result: String,
}

/// A filter for `giif-agent audit`.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub project_id: Option<String>,
    pub principal: Option<String>,
    /// RFC 3339 or a date: records at or after it.
    pub since: Option<String>,
}

impl Store {
    /// Appends a record; its id, for the device actions that follow.
    pub async fn append_audit(&self, record: &AuditRecord) -> Result<i64, ApiError> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO audit_log (at, principal, serial, rpc, object, project_id, request_id, outcome) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(now_rfc3339())
        .bind(&record.principal)
        .bind(&record.serial)
        .bind(&record.rpc)
        .bind(&record.object)
        .bind(&record.project_id)
        .bind(&record.request_id)
        .bind(&record.outcome)
        .fetch_one(self.pool())
        .await?;
        Ok(id)
    }

    pub async fn append_device_actions(
        &self,
        audit_id: i64,
        actions: &[DeviceAction],
    ) -> Result<(), ApiError> {
        for action in actions {
            sqlx::query(
                "INSERT INTO audit_device_actions (audit_id, at, device, action, result) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(audit_id)
            .bind(&action.at)
            .bind(&action.device)
            .bind(&action.action)
            .bind(&action.result)
            .execute(self.pool())
            .await?;
        }
        Ok(())
    }

    /// Records matching `filter`, oldest first, each with its device actions.
    pub async fn audit_records(
        &self,
        filter: &AuditFilter,
    ) -> Result<Vec<(String, AuditRecord, Vec<DeviceAction>)>, ApiError> {
        type Row = (
            i64,
            String,
            String,
            String,
            String,
            String,
            String,
            String,
            String,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, at, principal, serial, rpc, object, project_id, request_id, outcome FROM audit_log \
             WHERE ($1 = '' OR project_id = $1) AND ($2 = '' OR principal = $2) AND at >= $3 ORDER BY id",
        )
        .bind(filter.project_id.clone().unwrap_or_default())
        .bind(filter.principal.clone().unwrap_or_default())
        .bind(filter.since.clone().unwrap_or_default())
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, at, principal, serial, rpc, object, project_id, request_id, outcome) in rows {
            let actions: Vec<(String, String, String, String)> = sqlx::query_as(
                "SELECT at, device, action, result FROM audit_device_actions WHERE audit_id = $1 ORDER BY id",
            )
            .bind(id)
            .fetch_all(self.pool())
            .await?;
            out.push((
                at,
                AuditRecord {
                    principal,
                    serial,
                    rpc,
                    object,
                    project_id,
                    request_id,
                    outcome,
                },
                actions
                    .into_iter()
                    .map(|(at, device, action, result)| DeviceAction {
                        at,
                        device,
                        action,
                        result,
                    })
                    .collect(),
            ));
        }
        Ok(out)
    }

    /// Deletes audit records older than `days`, with their device actions.
    pub async fn prune_audit(&self, days: u32) -> Result<u64, ApiError> {
        let cutoff = super::rfc3339_days_ago(i64::from(days));
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "DELETE FROM audit_device_actions WHERE audit_id IN (SELECT id FROM audit_log WHERE at < $1)",
        )
        .bind(&cutoff)
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query("DELETE FROM audit_log WHERE at < $1")
            .bind(&cutoff)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}

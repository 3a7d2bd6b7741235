//! Floating IPs: allocated from the inventory's pool in one transaction,
//! unique by address.

use std::net::Ipv4Addr;

use super::requests::{record, replay};
use super::{now_rfc3339, Store};
use crate::error::ApiError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FloatingRow {
    pub id: String,
    pub address: String,
    pub project_id: String,
    pub target_ip: Option<String>,
}

type Row = (String, String, String, Option<String>);
const COLUMNS: &str = "id, address, project_id, target_ip";

fn from_row((id, address, project_id, target_ip): Row) -> FloatingRow {
    FloatingRow {
        id,
        address,
        project_id,
        target_ip,
    }
}

impl Store {
    /// Takes `requested` (or the lowest free address of `pool`) for the project.
    pub async fn allocate_floating_ip(
        &self,
        request_id: &str,
        project_id: &str,
        requested: Option<Ipv4Addr>,
        target_ip: Option<&str>,
        pool: &[Ipv4Addr],
    ) -> Result<FloatingRow, ApiError> {
        let mut tx = self.begin_write().await?;
        if let Some(done) =
            replay::<giif_proto::agent::FloatingIp>(&mut tx, request_id, "CreateFloatingIp").await?
        {
            let row: Option<Row> =
                sqlx::query_as(&format!("SELECT {COLUMNS} FROM floating_ips WHERE id = $1"))
                    .bind(&done.id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some(row) = row {
                return Ok(from_row(row));
            }
        }
        // A project's floating IP for a target is its natural key: a create
        // for the same (project, target) without a specific address finds an
        // earlier one whose create the caller lost track of, instead of
        // taking a second address.
        if let (None, Some(target)) = (requested, target_ip) {
            let existing: Option<Row> = sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM floating_ips WHERE project_id = $1 AND target_ip = $2"
            ))
            .bind(project_id)
            .bind(target)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = existing {
                return Ok(from_row(row));
            }
        }
        let taken: Vec<(String, String)> =
            sqlx::query_as("SELECT address, project_id FROM floating_ips")
                .fetch_all(&mut *tx)
                .await?;
        let address = match requested {
            Some(wanted) => {
                if !pool.contains(&wanted) {
                    return Err(ApiError::invalid(format!("{wanted} is not in the site's floating IP pool"))
                        .field("spec.address")
                        .hint("Leave address out to get any free one, or pick one of the pool's addresses (`giif-agent inventory list`)."));
                }
                if taken.iter().any(|(a, _)| a == &wanted.to_string()) {
                    // Which project holds it is not the caller's to know.
                    return Err(ApiError::already_exists(format!("the floating IP {wanted} is held by a project"))
                        .field("spec.address")
                        .subject(wanted.to_string())
                        .hint("Leave address out to get any free one."));
                }
                wanted
            }
            None => *pool
                .iter()
                .find(|a| !taken.iter().any(|(t, _)| t == &a.to_string()))
                .ok_or_else(|| {
                    ApiError::pool_exhausted(format!("the floating IP pool is exhausted: all {} addresses are held", pool.len()))
                        .subject("floating-ips")
                        .hint("Release floating IPs you no longer need, or add addresses to [floating_ips] in the site inventory and run `giif-agent inventory import <file>`.")
                })?,
        };
        let one = crate::tenancy::Usage {
            floating_ips: 1,
            ..Default::default()
        };
        super::quotas::enforce_on_project(self, &mut tx, project_id, one).await?;
        let id = format!("fip-{}", uuid::Uuid::new_v4().simple());
        let now = now_rfc3339();
        sqlx::query("INSERT INTO floating_ips (address, id, project_id, target_ip, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(address.to_string())
            .bind(&id)
            .bind(project_id)
            .bind(target_ip)
            .bind(&now)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        record(
            &mut tx,
            request_id,
            "CreateFloatingIp",
            &giif_proto::agent::FloatingIp {
                id: id.clone(),
                ..Default::default()
            },
        )
        .await?;
        tx.commit().await?;
        Ok(FloatingRow {
            id,
            address: address.to_string(),
            project_id: project_id.to_string(),
            target_ip: target_ip.map(str::to_string),
        })
    }

    /// A floating IP by id or address.
    pub async fn floating_ip(&self, reference: &str) -> Result<Option<FloatingRow>, ApiError> {
        let row: Option<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM floating_ips WHERE id = $1 OR address = $1"
        ))
        .bind(reference)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(from_row))
    }

    pub async fn set_floating_target(
        &self,
        id: &str,
        target_ip: Option<&str>,
    ) -> Result<(), ApiError> {
        let mut tx = self.begin_write().await?;
        let done =
            sqlx::query("UPDATE floating_ips SET target_ip = $1, updated_at = $2 WHERE id = $3")
                .bind(target_ip)
                .bind(now_rfc3339())
                .bind(id)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 0 {
            return Err(ApiError::not_found(format!("no floating IP has id {id:?}")).subject(id));
        }
        tx.commit().await?;
        Ok(())
    }

    /// The gateway confirmed the floating IP's rules are gone: its address
    /// returns to the pool.
    pub async fn finish_floating_release(&self, id: &str) -> Result<(), ApiError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM floating_ips WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

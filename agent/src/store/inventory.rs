//! The inventory as the store keeps it: for now, the project VLAN pool.

use sqlx::{Any, Transaction};

use super::Store;
use crate::error::ApiError;

/// A VLAN pool as the site file declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VlanPoolSpec {
    pub name: String,
    pub first: u32,
    pub last: u32,
    pub reserved: Vec<u32>,
}

impl VlanPoolSpec {
    pub fn contains(&self, vlan: u32) -> bool {
        (self.first..=self.last).contains(&vlan) && !self.reserved.contains(&vlan)
    }
    pub fn size(&self) -> u32 {
        (self.first..=self.last)
            .filter(|v| !self.reserved.contains(v))
            .count() as u32
    }
}

#[derive(Clone, Debug)]
pub struct PoolUsage {
    pub spec: VlanPoolSpec,
    pub allocated: u32,
}

pub(super) const PROJECT_POOL_PURPOSE: &str = "project";

pub(super) fn pool_from_row(row: (String, i64, i64, String)) -> VlanPoolSpec {
    let (name, first, last, reserved) = row;
    VlanPoolSpec {
        name,
        first: first as u32,
        last: last as u32,
        reserved: serde_json::from_str(&reserved).unwrap_or_default(),
    }
}

impl Store {
    /// Replaces the project VLAN pool in one transaction.
    pub async fn import_project_vlan_pool(&self, pool: &VlanPoolSpec) -> Result<(), ApiError> {
        let mut tx = self.begin_write().await?;
        replace_project_pool(&mut tx, pool).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn vlan_pools(&self) -> Result<Vec<PoolUsage>, ApiError> {
        let rows: Vec<(String, i64, i64, String)> = sqlx::query_as(
            "SELECT name, first_vlan, last_vlan, reserved FROM vlan_pools ORDER BY name",
        )
        .fetch_all(self.pool())
        .await?;
        let mut pools = Vec::new();
        for row in rows {
            let spec = pool_from_row(row);
            let (allocated,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM vlan_allocations WHERE pool = $1")
                    .bind(&spec.name)
                    .fetch_one(self.pool())
                    .await?;
            pools.push(PoolUsage {
                spec,
                allocated: allocated as u32,
            });
        }
        Ok(pools)
    }
}

/// Replaces the project VLAN pool. Refuses a pool that would strand VLANs
/// already allocated, naming them.
pub(super) async fn replace_project_pool(
    tx: &mut Transaction<'static, Any>,
    pool: &VlanPoolSpec,
) -> Result<(), ApiError> {
    let allocated: Vec<(i64, String)> =
        sqlx::query_as("SELECT vlan, owner_id FROM vlan_allocations WHERE owner_kind = 'project'")
            .fetch_all(&mut **tx)
            .await?;
    let stranded: Vec<String> = allocated
        .iter()
        .filter(|(vlan, _)| !pool.contains(*vlan as u32))
        .map(|(vlan, owner)| format!("{vlan} (project {owner})"))
        .collect();
    if !stranded.is_empty() {
        return Err(ApiError::precondition(format!(
            "the new project VLAN pool leaves out VLANs in use: {}",
            stranded.join(", ")
        ))
        .field("project_vlans")
        .hint(
            "Keep those VLANs in the range and out of `reserved`, or destroy those projects first.",
        ));
    }
    let reserved = serde_json::to_string(&pool.reserved).unwrap_or_else(|_| "[]".into());
    let updated = sqlx::query(
        "UPDATE vlan_pools SET first_vlan = $1, last_vlan = $2, reserved = $3 WHERE name = $4",
    )
    .bind(i64::from(pool.first))
    .bind(i64::from(pool.last))
    .bind(&reserved)
    .bind(&pool.name)
    .execute(&mut **tx)
    .await?;
    if updated.rows_affected() == 0 {
        sqlx::query(
            "INSERT INTO vlan_pools (name, purpose, first_vlan, last_vlan, reserved) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&pool.name)
        .bind(PROJECT_POOL_PURPOSE)
        .bind(i64::from(pool.first))
        .bind(i64::from(pool.last))
        .bind(&reserved)
        .execute(&mut **tx)
        .await?;
    }
    // Allocations point at their pool by name; a renamed pool takes them.
    sqlx::query("UPDATE vlan_allocations SET pool = $1 WHERE owner_kind = 'project'")
        .bind(&pool.name)
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE projects SET vlan_pool = $1")
        .bind(&pool.name)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM vlan_pools WHERE purpose = $1 AND name <> $2")
        .bind(PROJECT_POOL_PURPOSE)
        .bind(&pool.name)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Store {
    /// Every pool with how many of its items are allocated and how many it
    /// has: `(pool, used, size)`, for the metrics.
    pub async fn pool_usage_summary(&self) -> Result<Vec<(String, i64, i64)>, ApiError> {
        let mut pools: Vec<(String, i64, i64)> = self
            .vlan_pools()
            .await?
            .into_iter()
            .map(|pool| {
                let size = i64::from(pool.spec.size());
                (
                    format!("vlan:{}", pool.spec.name),
                    i64::from(pool.allocated),
                    size,
                )
            })
            .collect();
        let count = |table: &'static str| async move {
            let (count,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(self.pool())
                .await?;
            Ok::<i64, ApiError>(count)
        };
        let slots = self.pagw_slot_inventory().await?.len() as i64;
        pools.push(("pagw_slots".into(), count("gateways").await?, slots));
        let addresses = self
            .floating_ip_inventory()
            .await?
            .expand()
            .map(|pool| pool.len() as i64)
            .unwrap_or_default();
        pools.push((
            "floating_ips".into(),
            count("floating_ips").await?,
            addresses,
        ));
        Ok(pools)
    }
}

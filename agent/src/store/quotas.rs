//! Quotas per principal, and what the projects they own hold. The check
//! runs inside the allocating write transaction: writes are serialized, so
//! two parallel creations see each other's rows.

use sqlx::{Any, Transaction};

use super::principals::role_in;
use super::vms::VmDoc;
use super::Store;
use crate::error::ApiError;
use crate::tenancy::quota::{check, Quota, Usage};
use crate::tenancy::Role;

/// The owner of a project as quotas see it: its spec's owner, else its creator.
const OWNER: &str = "COALESCE(p.owner, p.created_by)";

impl Store {
    /// Sets (replacing) the quota of `name`; unset limits take the default.
    pub async fn set_quota(&self, name: &str, quota: &Quota) -> Result<bool, ApiError> {
        let mut tx = self.begin_write().await?;
        if role_in(&mut tx, name).await?.is_none() {
            return Ok(false);
        }
        sqlx::query("DELETE FROM quotas WHERE principal = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        let limit = |value: Option<u64>| value.map(|v| v as i64);
        sqlx::query(
            "INSERT INTO quotas (principal, projects, vms, vcpus, memory_gb, servers, floating_ips) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(name)
        .bind(limit(quota.projects))
        .bind(limit(quota.vms))
        .bind(limit(quota.vcpus))
        .bind(limit(quota.memory_gb))
        .bind(limit(quota.servers))
        .bind(limit(quota.floating_ips))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The quota of `name` as set (without defaults) and its usage.
    pub async fn quota_and_usage(&self, name: &str) -> Result<(Quota, Usage), ApiError> {
        let mut tx = self.pool().begin().await?;
        let quota = quota_of(&mut tx, name).await?;
        let usage = usage_of(&mut tx, name).await?;
        Ok((quota, usage))
    }

    /// The default quota for users, from agent.toml; `None` leaves users
    /// unlimited.
    pub fn with_default_quota(mut self, quota: Quota) -> Self {
        self.default_quota = quota;
        self
    }
}

/// Refuses `demand` on `project_id` when its owner's quota would be passed.
/// Projects owned by an operator, or by a name that is no principal (made
/// by an operator for someone without a certificate), are not limited.
pub(super) async fn enforce_on_project(
    store: &Store,
    tx: &mut Transaction<'static, Any>,
    project_id: &str,
    demand: Usage,
) -> Result<(), ApiError> {
    let owner: Option<(Option<String>,)> =
        sqlx::query_as(&format!("SELECT {OWNER} FROM projects p WHERE p.id = $1"))
            .bind(project_id)
            .fetch_optional(&mut **tx)
            .await?;
    match owner.and_then(|(owner,)| owner) {
        Some(owner) => enforce_on_owner(store, tx, &owner, demand).await,
        None => Ok(()),
    }
}

pub(super) async fn enforce_on_owner(
    store: &Store,
    tx: &mut Transaction<'static, Any>,
    owner: &str,
    demand: Usage,
) -> Result<(), ApiError> {
    if role_in(tx, owner).await? != Some(Role::User) {
        return Ok(());
    }
    let quota = quota_of(tx, owner).await?.or(store.default_quota);
    let usage = usage_of(tx, owner).await?;
    check(owner, &quota, usage, demand)
}

async fn quota_of(tx: &mut Transaction<'static, Any>, name: &str) -> Result<Quota, ApiError> {
    type Row = (
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT projects, vms, vcpus, memory_gb, servers, floating_ips FROM quotas WHERE principal = $1",
    )
    .bind(name)
    .fetch_optional(&mut **tx)
    .await?;
    let limit = |value: Option<i64>| value.map(|v| v.max(0) as u64);
    Ok(row
        .map(
            |(projects, vms, vcpus, memory_gb, servers, floating_ips)| Quota {
                projects: limit(projects),
                vms: limit(vms),
                vcpus: limit(vcpus),
                memory_gb: limit(memory_gb),
                servers: limit(servers),
                floating_ips: limit(floating_ips),
            },
        )
        .unwrap_or_default())
}

async fn usage_of(tx: &mut Transaction<'static, Any>, owner: &str) -> Result<Usage, ApiError> {
    let count = |table: &str| {
        format!("SELECT COUNT(*) FROM {table} t JOIN projects p ON p.id = t.project_id WHERE {OWNER} = $1")
    };
    let (projects,): (i64,) = sqlx::query_as(&format!(
        "SELECT COUNT(*) FROM projects p WHERE {OWNER} = $1"
    ))
    .bind(owner)
    .fetch_one(&mut **tx)
    .await?;
    let (servers,): (i64,) = sqlx::query_as(&count("bms_assignments"))
        .bind(owner)
        .fetch_one(&mut **tx)
        .await?;
    let (floating_ips,): (i64,) = sqlx::query_as(&count("floating_ips"))
        .bind(owner)
        .fetch_one(&mut **tx)
        .await?;
    let vms: Vec<(String,)> = sqlx::query_as(&format!(
        "SELECT t.spec FROM vms t JOIN projects p ON p.id = t.project_id WHERE {OWNER} = $1"
    ))
    .bind(owner)
    .fetch_all(&mut **tx)
    .await?;
    let mut usage = Usage {
        projects: projects as u64,
        servers: servers as u64,
        floating_ips: floating_ips as u64,
        vms: vms.len() as u64,
        ..Usage::default()
    };
    for (spec,) in vms {
        let doc: VmDoc = serde_json::from_str(&spec).unwrap_or_default();
        usage.vcpus += u64::from(doc.cores);
        usage.memory_mb += doc.memory_mb;
    }
    Ok(usage)
}

/// What a VM adds when it becomes `doc` (from `before`, if it existed).
pub fn vm_demand(before: Option<&VmDoc>, doc: &VmDoc) -> Usage {
    let (cores, memory) = before.map_or((0, 0), |b| (b.cores, b.memory_mb));
    Usage {
        vms: u64::from(before.is_none()),
        vcpus: u64::from(doc.cores.saturating_sub(cores)),
        memory_mb: doc.memory_mb.saturating_sub(memory),
        ..Usage::default()
    }
}

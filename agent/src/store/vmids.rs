//! Proxmox VM ids: one ledger (`vmid_allocations`) for VMs and gateways, the
//! ids found holding someone else's VM, and the objects whose VM was made
//! before the agent marked its VMs.

use sqlx::{Any, Transaction};

use super::Store;
use crate::error::ApiError;

/// Who holds VM ids: the table of the objects and their kind in the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmidOwner {
    Vm,
    Gateway,
}

impl VmidOwner {
    fn kind(self) -> &'static str {
        match self {
            VmidOwner::Vm => "vm",
            VmidOwner::Gateway => "gateway",
        }
    }

    fn table(self) -> &'static str {
        match self {
            VmidOwner::Vm => "vms",
            VmidOwner::Gateway => "gateways",
        }
    }
}

/// A VM id found holding a VM the agent did not make: kept in the ledger so
/// it is never chosen again.
const FOREIGN: &str = "foreign";

/// Where a new VM id may come from: `from` up, to `to` when the site file
/// gives a range (`[proxmox] vmids`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmidChoice {
    pub from: u32,
    pub to: Option<u32>,
}

impl VmidChoice {
    /// The site's range, else Proxmox's next free id up.
    pub fn new(range: Option<[u32; 2]>, next_free: u32) -> Self {
        match range {
            Some([first, last]) => Self {
                from: first,
                to: Some(last),
            },
            None => Self {
                from: next_free,
                to: None,
            },
        }
    }
}

/// Takes the lowest VM id of `choice` (and at least 100, Proxmox's first)
/// that the ledger does not hold, for `owner_id`.
pub(super) async fn allocate_vmid(
    tx: &mut Transaction<'static, Any>,
    choice: VmidChoice,
    owner: VmidOwner,
    owner_id: &str,
) -> Result<u32, ApiError> {
    let used: Vec<(i64,)> = sqlx::query_as("SELECT vmid FROM vmid_allocations WHERE vmid >= $1")
        .bind(i64::from(choice.from))
        .fetch_all(&mut **tx)
        .await?;
    let used: std::collections::BTreeSet<u32> = used.into_iter().map(|(v,)| v as u32).collect();
    let last = choice.to.unwrap_or(999_999_999);
    let vmid = (choice.from.max(100)..=last)
        .find(|v| !used.contains(v))
        .ok_or_else(|| {
            ApiError::pool_exhausted(format!(
                "every VM id of giif's range {}-{last} is taken",
                choice.from
            ))
            .subject("vmids")
            .hint("Widen [proxmox] vmids in the site inventory and run `giif-agent inventory import <file>`, or destroy VMs you no longer need.")
        })?;
    sqlx::query("INSERT INTO vmid_allocations (vmid, owner_kind, owner_id) VALUES ($1, $2, $3)")
        .bind(i64::from(vmid))
        .bind(owner.kind())
        .bind(owner_id)
        .execute(&mut **tx)
        .await?;
    Ok(vmid)
}

impl Store {
    /// The VM id `taken` of `owner_id` holds a VM the agent did not make:
    /// keeps that id out of every later choice and gives the object the
    /// next free one.
    pub async fn relocate_vmid(
        &self,
        owner: VmidOwner,
        owner_id: &str,
        taken: u32,
    ) -> Result<u32, ApiError> {
        let range = self.proxmox_inventory().await?.and_then(|pve| pve.vmids);
        let choice = VmidChoice {
            from: taken + 1,
            to: range.map(|[_, last]| last),
        };
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE vmid_allocations SET owner_kind = $1 WHERE vmid = $2 AND owner_kind = $3 AND owner_id = $4",
        )
        .bind(FOREIGN)
        .bind(i64::from(taken))
        .bind(owner.kind())
        .bind(owner_id)
        .execute(&mut *tx)
        .await?;
        let vmid = allocate_vmid(&mut tx, choice, owner, owner_id).await?;
        sqlx::query(&format!(
            "UPDATE {} SET vmid = $1 WHERE id = $2",
            owner.table()
        ))
        .bind(i64::from(vmid))
        .bind(owner_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::warn!(
            object = owner_id,
            taken,
            vmid,
            "a VM giif did not make holds the VM id; moved to another id and left it alone"
        );
        Ok(vmid)
    }

    /// Whether `object_id`'s VM was made before the agent marked its VMs.
    pub async fn made_before_marks(&self, object_id: &str) -> Result<bool, ApiError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT object_id FROM made_before_marks WHERE object_id = $1")
                .bind(object_id)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.is_some())
    }

    /// `object_id`'s VM carries its mark now.
    pub async fn forget_made_before_marks(&self, object_id: &str) -> Result<(), ApiError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM made_before_marks WHERE object_id = $1")
            .bind(object_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// How many VM ids giif's VMs and gateways hold (ids of others' VMs not
    /// counted), for tests and checks.
    pub async fn vmid_allocation_count(&self) -> Result<i64, ApiError> {
        let (count,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM vmid_allocations WHERE owner_kind <> $1")
                .bind(FOREIGN)
                .fetch_one(self.pool())
                .await?;
        Ok(count)
    }
}

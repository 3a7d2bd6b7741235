//! The operations journal: one row per object with a long operation, its
//! state, the step reached, and the lease of the replica running it.
//!
//! Leases are fenced: taking one raises `fence`, and every later write of
//! the runner names the fence it took, so a replica whose lease passed to
//! another writes nothing more.

use std::fmt;
use std::str::FromStr;

use sqlx::{Any, Transaction};

use giif_proto::status::Status;

use super::{now_rfc3339, Store};
use crate::error::ApiError;

/// The kinds of object that have long operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectKind {
    Gateway,
    Vm,
    Server,
    FloatingIp,
}

/// What an operation does to its object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// Brings the object to its recorded spec (create and update).
    Converge,
    /// Removes the object from the devices, then from the store.
    Delete,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpState {
    Queued,
    Running,
    Done,
    Failed,
    /// Given up by an operator: never resumed.
    Abandoned,
}

macro_rules! text_enum {
    ($type:ty, $what:literal, $($variant:ident = $text:literal),*) => {
        impl $type {
            pub const ALL: &'static [$type] = &[$(<$type>::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $(<$type>::$variant => $text),* }
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $type {
            type Err = ApiError;

            fn from_str(text: &str) -> Result<Self, ApiError> {
                match text {
                    $($text => Ok(<$type>::$variant),)*
                    other => Err(ApiError::internal(format!(
                        "the store holds {other:?}, which is not {}",
                        $what
                    ))),
                }
            }
        }
    };
}

text_enum!(
    ObjectKind,
    "an object kind",
    Gateway = "gateway",
    Vm = "vm",
    Server = "server",
    FloatingIp = "floating_ip"
);
text_enum!(
    OpKind,
    "an operation kind",
    Converge = "converge",
    Delete = "delete"
);
text_enum!(
    OpState,
    "an operation state",
    Queued = "queued",
    Running = "running",
    Done = "done",
    Failed = "failed",
    Abandoned = "abandoned"
);

impl ObjectKind {
    /// The kind as the audit trail names its operations (`ResumeVm`, ...).
    pub fn rpc_suffix(self) -> &'static str {
        match self {
            ObjectKind::Gateway => "Gateway",
            ObjectKind::Vm => "Vm",
            ObjectKind::Server => "BmsAssignment",
            ObjectKind::FloatingIp => "FloatingIp",
        }
    }
}

impl OpState {
    /// Whether the operation still has work to do.
    pub fn unfinished(self) -> bool {
        matches!(self, OpState::Queued | OpState::Running)
    }
}

/// One journal row.
#[derive(Clone, Debug)]
pub struct OperationRow {
    pub kind: ObjectKind,
    pub object_id: String,
    pub op: OpKind,
    pub state: OpState,
    pub step: String,
    pub generation: i64,
    pub attempts: i64,
    /// The last failure, as recorded.
    pub error: Option<ApiError>,
    pub retry_at_ms: Option<i64>,
    pub note: String,
    pub holder: Option<String>,
    pub lease_until_ms: Option<i64>,
    pub fence: i64,
    pub request_id: String,
    pub created_at: String,
    pub updated_at: String,
}

/// A lease taken: the fence the runner's writes must name, and which
/// generation of the operation it runs.
#[derive(Clone, Copy, Debug)]
pub struct Lease {
    pub fence: i64,
    pub generation: i64,
    pub op: OpKind,
    /// Runs so far, this one included.
    pub attempts: i64,
}

/// How a run ended, seen from the journal.
#[derive(Debug, PartialEq, Eq)]
pub enum Finished {
    /// Recorded as done (or failed).
    Recorded,
    /// A newer request raised the generation while it ran: run again.
    Again,
    /// Another replica holds the lease now: stop.
    LeaseLost,
}

type Row = (
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    Option<String>,
    Option<i64>,
    String,
    Option<String>,
    Option<i64>,
    i64,
    String,
    String,
    String,
);

const COLUMNS: &str = "object_kind, object_id, op, state, step, generation, attempts, error, retry_at, note, holder, lease_until, fence, request_id, created_at, updated_at";

fn from_row(row: Row) -> Result<OperationRow, ApiError> {
    let (kind, object_id, op, state, step, generation, attempts, error, retry_at_ms, note) = (
        row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8, row.9,
    );
    Ok(OperationRow {
        kind: kind.parse()?,
        object_id,
        op: op.parse()?,
        state: state.parse()?,
        step,
        generation,
        attempts,
        error: error.as_deref().map(ApiError::from_json),
        retry_at_ms,
        note,
        holder: row.10,
        lease_until_ms: row.11,
        fence: row.12,
        request_id: row.13,
        created_at: row.14,
        updated_at: row.15,
    })
}

/// Milliseconds since the epoch, the journal's clock.
pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Journals `op` on the object inside the transaction that records the
/// change, so a change is never stored without the operation that brings
/// it about. A queued or running delete is not replaced by a converge.
pub async fn enqueue(
    tx: &mut Transaction<'static, Any>,
    kind: ObjectKind,
    id: &str,
    op: OpKind,
    request_id: &str,
) -> Result<(), ApiError> {
    let now = now_rfc3339();
    sqlx::query(
        "INSERT INTO operations (object_kind, object_id, op, state, request_id, created_at, updated_at) \
         VALUES ($1, $2, $3, 'queued', $4, $5, $5) \
         ON CONFLICT (object_kind, object_id) DO UPDATE SET \
           op = CASE WHEN operations.op = 'delete' AND operations.state IN ('queued', 'running') \
                     THEN 'delete' ELSE excluded.op END, \
           state = CASE WHEN operations.state = 'running' THEN 'running' ELSE 'queued' END, \
           generation = operations.generation + 1, attempts = 0, error = NULL, retry_at = NULL, \
           note = '', request_id = excluded.request_id, updated_at = excluded.updated_at",
    )
    .bind(kind.as_str())
    .bind(id)
    .bind(op.as_str())
    .bind(request_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    pub async fn operation(
        &self,
        kind: ObjectKind,
        id: &str,
    ) -> Result<Option<OperationRow>, ApiError> {
        let row: Option<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM operations WHERE object_kind = $1 AND object_id = $2"
        ))
        .bind(kind.as_str())
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.map(from_row).transpose()
    }

    /// The journal, newest first; only unfinished and failed operations
    /// unless `all`.
    pub async fn operations(&self, all: bool) -> Result<Vec<OperationRow>, ApiError> {
        let filter = if all {
            ""
        } else {
            "WHERE state IN ('queued', 'running', 'failed')"
        };
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM operations {filter} ORDER BY updated_at DESC, object_id"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(from_row).collect()
    }

    /// Operations a replica may run now: unfinished ones whose lease is
    /// free, passed, or its own; failures whose retry time came.
    pub async fn runnable_operations(
        &self,
        replica: &str,
    ) -> Result<Vec<(ObjectKind, String)>, ApiError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT object_kind, object_id FROM operations \
             WHERE (state IN ('queued', 'running') \
                    AND (holder IS NULL OR holder = $1 OR lease_until < $2)) \
                OR (state = 'failed' AND retry_at IS NOT NULL AND retry_at < $2) \
             ORDER BY updated_at",
        )
        .bind(replica)
        .bind(now_ms())
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|(kind, id)| Ok((kind.parse()?, id)))
            .collect()
    }

    /// Takes the object's lease for `replica` when the operation is
    /// runnable and no other replica holds a live lease; raises the fence.
    pub async fn take_lease(
        &self,
        kind: ObjectKind,
        id: &str,
        replica: &str,
        lease_ms: i64,
    ) -> Result<Option<Lease>, ApiError> {
        let mut tx = self.begin_write().await?;
        let now = now_ms();
        let taken = sqlx::query(
            "UPDATE operations SET holder = $1, lease_until = $2, fence = fence + 1, \
               state = 'running', attempts = attempts + 1, retry_at = NULL, updated_at = $3 \
             WHERE object_kind = $4 AND object_id = $5 \
               AND (state IN ('queued', 'running') OR (state = 'failed' AND retry_at < $6)) \
               AND (holder IS NULL OR holder = $1 OR lease_until < $6)",
        )
        .bind(replica)
        .bind(now + lease_ms)
        .bind(now_rfc3339())
        .bind(kind.as_str())
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if taken.rows_affected() == 0 {
            return Ok(None);
        }
        let (fence, generation, op, attempts): (i64, i64, String, i64) = sqlx::query_as(
            "SELECT fence, generation, op, attempts FROM operations WHERE object_kind = $1 AND object_id = $2",
        )
        .bind(kind.as_str())
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(Lease {
            fence,
            generation,
            op: op.parse()?,
            attempts,
        }))
    }

    /// Records the step reached and extends the lease; `false` when the
    /// lease is no longer this runner's.
    pub async fn renew_lease(
        &self,
        kind: ObjectKind,
        id: &str,
        replica: &str,
        fence: i64,
        step: Option<&str>,
        lease_ms: i64,
    ) -> Result<bool, ApiError> {
        let mut tx = self.begin_write().await?;
        let renewed = sqlx::query(
            "UPDATE operations SET lease_until = $1, step = COALESCE($2, step), updated_at = $3 \
             WHERE object_kind = $4 AND object_id = $5 AND holder = $6 AND fence = $7 AND state = 'running'",
        )
        .bind(now_ms() + lease_ms)
        .bind(step)
        .bind(now_rfc3339())
        .bind(kind.as_str())
        .bind(id)
        .bind(replica)
        .bind(fence)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(renewed.rows_affected() == 1)
    }

    /// Ends a run: done with `note`, or failed with `error` (retried after
    /// `retry_at_ms` when given). A newer generation queues the operation
    /// again instead.
    pub async fn finish_operation(
        &self,
        kind: ObjectKind,
        id: &str,
        replica: &str,
        lease: Lease,
        outcome: Result<&str, (&ApiError, Option<i64>)>,
    ) -> Result<Finished, ApiError> {
        let mut tx = self.begin_write().await?;
        let current: Option<(i64, Option<String>, i64)> = sqlx::query_as(
            "SELECT fence, holder, generation FROM operations WHERE object_kind = $1 AND object_id = $2",
        )
        .bind(kind.as_str())
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((fence, holder, generation)) = current else {
            return Ok(Finished::LeaseLost);
        };
        if fence != lease.fence || holder.as_deref() != Some(replica) {
            return Ok(Finished::LeaseLost);
        }
        let newer = generation != lease.generation;
        let (state, note, error, retry_at) = match (&outcome, newer) {
            (_, true) => (OpState::Queued, "", None, None),
            (Ok(note), false) => (OpState::Done, *note, None, None),
            (Err((error, retry_at)), false) => {
                (OpState::Failed, "", Some(error.to_json()), *retry_at)
            }
        };
        sqlx::query(
            "UPDATE operations SET state = $1, note = $2, error = $3, retry_at = $4, \
               step = CASE WHEN $1 = 'done' THEN 'done' ELSE step END, \
               holder = NULL, lease_until = NULL, updated_at = $5 \
             WHERE object_kind = $6 AND object_id = $7",
        )
        .bind(state.as_str())
        .bind(note)
        .bind(error)
        .bind(retry_at)
        .bind(now_rfc3339())
        .bind(kind.as_str())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(if newer {
            Finished::Again
        } else {
            Finished::Recorded
        })
    }

    /// An operator's retry (`Queued`, attempts reset) or abandon of an
    /// operation that is not running under a live lease. `false` when there
    /// is no such operation or it is running.
    pub async fn set_operation_state(
        &self,
        kind: ObjectKind,
        id: &str,
        state: OpState,
    ) -> Result<bool, ApiError> {
        let mut tx = self.begin_write().await?;
        let changed = sqlx::query(
            "UPDATE operations SET state = $1, attempts = 0, retry_at = NULL, holder = NULL, \
               lease_until = NULL, updated_at = $2 \
             WHERE object_kind = $3 AND object_id = $4 \
               AND NOT (state = 'running' AND lease_until >= $5)",
        )
        .bind(state.as_str())
        .bind(now_rfc3339())
        .bind(kind.as_str())
        .bind(id)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(changed.rows_affected() == 1)
    }

    /// Operations that failed for good, or run under a lease that passed
    /// more than a minute ago (no replica took them over).
    pub async fn stuck_operation_count(&self) -> Result<i64, ApiError> {
        let (count,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM operations WHERE (state = 'failed' AND retry_at IS NULL) \
               OR (state IN ('queued', 'running') AND lease_until < $1)",
        )
        .bind(now_ms() - 60_000)
        .fetch_one(self.pool())
        .await?;
        Ok(count)
    }

    /// Takes or renews the lease of the site-wide chore `task` for
    /// `replica`: `true` when this replica may do it now.
    pub async fn hold_task(
        &self,
        task: &str,
        replica: &str,
        lease_ms: i64,
    ) -> Result<bool, ApiError> {
        let mut tx = self.begin_write().await?;
        let now = now_ms();
        let held = sqlx::query(
            "INSERT INTO task_leases (name, holder, lease_until) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until \
             WHERE task_leases.holder = excluded.holder OR task_leases.lease_until < $4",
        )
        .bind(task)
        .bind(replica)
        .bind(now + lease_ms)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(held.rows_affected() == 1)
    }

    /// Forgets finished operations older than `days`.
    pub async fn prune_operations(&self, days: i64) -> Result<u64, ApiError> {
        let cutoff = super::rfc3339_days_ago(days);
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "DELETE FROM operations WHERE state IN ('done', 'abandoned') AND updated_at < $1",
        )
        .bind(cutoff)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// Records on the object why its operation failed: a failed converge
    /// leaves it `failed`, a failed delete or release leaves it as it was
    /// (still being removed), both with the error. A floating IP has no
    /// status; its journal row says it all.
    pub async fn record_operation_failure(
        &self,
        kind: ObjectKind,
        id: &str,
        op: OpKind,
        message: &str,
    ) -> Result<(), ApiError> {
        let (table, removing) = match kind {
            ObjectKind::Gateway => ("gateways", Status::Deleting),
            ObjectKind::Vm => ("vms", Status::Deleting),
            ObjectKind::Server => ("bms_assignments", Status::Releasing),
            ObjectKind::FloatingIp => return Ok(()),
        };
        let status = match op {
            OpKind::Converge => Status::Failed,
            OpKind::Delete => removing,
        };
        self.set_operation_status(table, id, status, Some(message))
            .await
    }

    /// Marks the object as being removed and journals its delete, in one
    /// transaction. `false` when the object is gone.
    pub async fn begin_removal(
        &self,
        kind: ObjectKind,
        id: &str,
        request_id: &str,
    ) -> Result<bool, ApiError> {
        let mut tx = self.begin_write().await?;
        let now = now_rfc3339();
        let marked = match kind {
            ObjectKind::FloatingIp => sqlx::query(
                "UPDATE floating_ips SET releasing_since = COALESCE(releasing_since, $1) WHERE id = $2",
            ),
            ObjectKind::Gateway => {
                sqlx::query("UPDATE gateways SET status = 'deleting', updated_at = $1 WHERE id = $2")
            }
            ObjectKind::Vm => {
                sqlx::query("UPDATE vms SET status = 'deleting', updated_at = $1 WHERE id = $2")
            }
            ObjectKind::Server => sqlx::query(
                "UPDATE bms_assignments SET status = 'releasing', updated_at = $1 WHERE id = $2",
            ),
        }
        .bind(&now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if marked.rows_affected() == 0 {
            return Ok(false);
        }
        enqueue(&mut tx, kind, id, OpKind::Delete, request_id).await?;
        tx.commit().await?;
        Ok(true)
    }
}

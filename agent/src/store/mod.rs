//! The agent's store: sqlx with migrations, SQLite in one file by default,
//! PostgreSQL when the configuration gives a `postgres://` URL.
//!
//! Every write runs in a transaction from [`Store::begin_write`], and write
//! transactions run one at a time: on SQLite through `BEGIN IMMEDIATE` (a
//! deferred transaction that later writes fails with "database is locked"),
//! on PostgreSQL through a transaction-scoped advisory lock, which also
//! holds across several agent replicas. Allocation then reads a stable view;
//! unique keys remain the last line of defence.

pub mod audit;
mod bms;
mod devices;
mod floating_ips;
mod gateways;
mod host_keys;
mod inventory;
mod listing;
mod migrations;
pub mod operations;
mod principals;
mod project_resources;
mod projects;
mod quotas;
pub mod requests;
mod vmids;
mod vms;

pub use bms::{BmsDoc, BmsRow, ReleaseDoc};
pub use floating_ips::FloatingRow;
pub use gateways::{Allocated, GatewayDoc, GatewayRow, SlotChoice};
pub use inventory::{PoolUsage, VlanPoolSpec};
pub use principals::{CertificateRow, CertificateStanding};
pub use quotas::vm_demand;
pub use vmids::{VmidChoice, VmidOwner};
pub use vms::{VmAllocation, VmCloudInitDoc, VmDoc, VmRow};

use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;
use sqlx::{Any, Transaction};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store URL {0:?} is neither sqlite:// nor postgres://")]
    UnsupportedUrl(String),
    #[error("cannot open the store at {url}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("cannot open the store: {0}")]
    UnreadableFile(#[from] crate::db_files::UnreadableFile),
    #[error("cannot migrate the store: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// The PostgreSQL advisory lock that serializes the agent's writes ("giif").
pub const WRITE_LOCK_KEY: i64 = 0x6769_6966;

/// How long a write waits for that lock: as long as SQLite's busy timeout.
const WRITE_LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Users' quota where an operator set none (agent.toml).
    default_quota: crate::tenancy::Quota,
    /// How long a write waits for the write lock before it fails as busy
    /// (PostgreSQL; SQLite has its busy timeout).
    write_lock_timeout: std::time::Duration,
}

impl Store {
    /// Opens (creating a SQLite file if needed) and migrates the store.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(redact(url)));
        };
        crate::db_files::check_files(url)?;
        let open_err = |source| StoreError::Open {
            url: redact(url),
            source,
        };
        let pool = match backend {
            Backend::Sqlite => {
                let url = if url.contains('?') {
                    url.to_string()
                } else {
                    format!("{url}?mode=rwc")
                };
                AnyPoolOptions::new()
                    .max_connections(8)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            use sqlx::Executor;
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                                 PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;",
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await
                    .map_err(open_err)?
            }
            Backend::Postgres => AnyPoolOptions::new()
                .max_connections(16)
                .connect(url)
                .await
                .map_err(open_err)?,
        };
        migrations::migrator(backend).await?.run(&pool).await?;
        Ok(Self {
            pool,
            backend,
            default_quota: crate::tenancy::Quota::default(),
            write_lock_timeout: WRITE_LOCK_TIMEOUT,
        })
    }

    /// The same store with writes waiting at most `timeout` for the lock.
    pub fn with_write_lock_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.write_lock_timeout = timeout;
        self
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Whether the store answers a query.
    pub async fn ping(&self) -> Result<(), crate::error::ApiError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Records how far a long operation on an object got. `table` is one of
    /// the operation tables (gateways, vms, bms_assignments), never input.
    async fn set_operation_status(
        &self,
        table: &'static str,
        id: &str,
        status: giif_proto::status::Status,
        last_error: Option<&str>,
    ) -> Result<(), crate::error::ApiError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(&format!(
            "UPDATE {table} SET status = $1, last_error = $2, updated_at = $3 WHERE id = $4"
        ))
        .bind(status.as_str())
        .bind(last_error)
        .bind(now_rfc3339())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn begin_write(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                // A stuck writer (or a replica holding the lock) makes this
                // write fail as busy, not wait for ever.
                sqlx::query("SELECT set_config('lock_timeout', $1, true)")
                    .bind(format!("{}ms", self.write_lock_timeout.as_millis()))
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(WRITE_LOCK_KEY)
                    .execute(&mut *tx)
                    .await?;
                Ok(tx)
            }
        }
    }
}

/// A status as the store holds it. The agent writes only known ones; a
/// value it does not know (a newer agent's, after a downgrade) reads as
/// failed, so nothing treats the object as ready.
pub(crate) fn stored_status(text: &str) -> giif_proto::status::Status {
    giif_proto::status::Status::parse(text).unwrap_or_else(|| {
        tracing::warn!(status = text, "the store holds an unknown status");
        giif_proto::status::Status::Failed
    })
}

/// A store URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    let masked = match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    };
    // A password can also come as a query parameter.
    match masked.split_once('?') {
        Some((base, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                    _ => pair.to_string(),
                })
                .collect();
            format!("{base}?{}", query.join("&"))
        }
        None => masked,
    }
}

/// True for a unique-constraint violation, which under concurrency means
/// "someone else took it first": retry or report a conflict.
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => {
            db.is_unique_violation()
                || matches!(
                    db.code().as_deref(),
                    Some("2067") | Some("1555") | Some("23505")
                )
        }
        _ => false,
    }
}

/// The moment `days` ago, as the store writes times: the cutoff of the
/// records it prunes.
pub(crate) fn rfc3339_days_ago(days: i64) -> String {
    (time::OffsetDateTime::now_utc() - time::Duration::days(days))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://giif:s3cret@db:5432/giif"),
            "postgres://giif:***@db:5432/giif"
        );
        assert_eq!(
            redact("sqlite:///var/lib/giif/agent.db"),
            "sqlite:///var/lib/giif/agent.db"
        );
        assert_eq!(
            redact("postgres://giif@db/giif?sslmode=verify-full&password=s3cret"),
            "postgres://giif@db/giif?sslmode=verify-full&password=***"
        );
        assert_eq!(
            redact("mongodb://giif:s3cret@db/giif?Password=x"),
            "mongodb://giif:***@db/giif?Password=***"
        );
    }
}

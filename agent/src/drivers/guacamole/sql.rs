//! The two SQL dialects of Guacamole's schema, and the locks that keep the
//! agent's writes from racing across replicas.
//!
//! Queries are written with `?` placeholders and numbered for PostgreSQL.
//! Enum columns (group type, permission, entity type) are only ever compared
//! with or given literals: PostgreSQL has its own enum types for them and
//! refuses text parameters there.

use sqlx::any::AnyPoolOptions;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool};

use crate::drivers::error::DriverError;

pub const TARGET: &str = "guacamole";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    MySql,
    Postgres,
}

impl Dialect {
    /// The dialect of a database URL, or why it is not one Guacamole uses.
    pub fn of_url(url: &str) -> Result<Self, String> {
        let scheme = url.split("://").next().unwrap_or_default();
        match scheme {
            "mysql" | "mariadb" => Ok(Self::MySql),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            _ => Err(format!(
                "a Guacamole database URL starts with mysql://, mariadb://, postgres:// or postgresql://, not {scheme:?}://"
            )),
        }
    }

    /// The data source name Guacamole's web app uses in client links.
    pub fn data_source(self) -> &'static str {
        match self {
            Self::MySql => "mysql",
            Self::Postgres => "postgresql",
        }
    }

    /// Why `text` cannot be stored: MySQL's `utf8` (3-byte) tables refuse
    /// 4-byte characters such as emoji.
    pub fn text_problem(self, what: &str, text: &str) -> Option<String> {
        (self == Self::MySql && text.chars().any(|c| c.len_utf8() > 3)).then(|| {
            format!(
                "{what} has characters Guacamole's MySQL/MariaDB tables cannot store (such as emoji); use others"
            )
        })
    }

    /// `sql` with its `?` placeholders in this dialect.
    pub fn sql(self, sql: &str) -> String {
        match self {
            Self::MySql => sql.to_string(),
            Self::Postgres => {
                let mut out = String::with_capacity(sql.len() + 8);
                let mut n = 0;
                for c in sql.chars() {
                    if c == '?' {
                        n += 1;
                        out.push('$');
                        out.push_str(&n.to_string());
                    } else {
                        out.push(c);
                    }
                }
                out
            }
        }
    }
}

/// `?, ?, …`: `n` placeholders, for `IN (…)`.
pub fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Opens a pool lazily: the agent starts even when Guacamole's database is
/// down, and console steps fail transiently until it is back.
pub fn pool(url: &str) -> Result<AnyPool, DriverError> {
    sqlx::any::install_default_drivers();
    crate::db_files::check_files(url)
        .map_err(|e| DriverError::permanent(TARGET, "open the database", e.to_string()))?;
    AnyPoolOptions::new()
        // Writers wait for the write lock on a connection of their own, so
        // the pool leaves room for readers beside a queue of writers.
        .max_connections(16)
        .acquire_timeout(std::time::Duration::from_secs(30))
        .connect_lazy(url)
        .map_err(|e| {
            DriverError::permanent(TARGET, "open the database", redact(&e.to_string(), url))
        })
}

/// A database failure, classified; the URL (and its password) never shows.
pub fn classify(action: &str, error: sqlx::Error) -> DriverError {
    let text = error.to_string();
    if rejected_certificate(&error) {
        // The server's certificate is not the one the URL trusts: retrying
        // cannot help until the operator fixes the CA or the server.
        return DriverError::permanent(TARGET, action, text);
    }
    match &error {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => DriverError::transient(TARGET, action, text),
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // MySQL's own error numbers: deadlock, lock wait timeout,
            // duplicate key.
            let mysql_number = db
                .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                .map(|e| e.number());
            // Serialization failure, deadlock, lock timeout (PostgreSQL),
            // and a unique key another writer filled first: the name is
            // checked again when the transaction runs again (see
            // `GuacamoleDb::write`).
            if matches!(code.as_ref(), "40001" | "40P01" | "55P03" | "23505")
                || matches!(mysql_number, Some(1213 | 1205 | 1062))
            {
                DriverError::transient(TARGET, action, text)
            } else {
                DriverError::permanent(TARGET, action, text)
            }
        }
        _ => DriverError::permanent(TARGET, action, text),
    }
}

fn rejected_certificate(error: &sqlx::Error) -> bool {
    let rustls_error = match error {
        sqlx::Error::Io(io) => io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()),
        sqlx::Error::Tls(tls) => tls.downcast_ref::<rustls::Error>(),
        _ => None,
    };
    matches!(
        rustls_error,
        Some(rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented)
    )
}

fn redact(text: &str, url: &str) -> String {
    text.replace(url, "<the database URL>")
}

/// What a write transaction locks besides the rows it changes: names at
/// Guacamole's root (the one place the schema's unique keys do not guard),
/// or one agent object's owner mark (so two agents never both create it).
/// Names inside a group are guarded by the schema's own unique key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LockKey {
    RootNames,
    Owner(String),
}

impl LockKey {
    /// `pg_advisory_xact_lock` takes a number: "giif" in ASCII for the
    /// root, a hash of the owner mark for the others.
    fn number(&self) -> i64 {
        match self {
            LockKey::RootNames => ROOT_LOCK_NUMBER,
            LockKey::Owner(owner) => {
                use sha2::Digest;
                let digest = sha2::Sha256::digest(format!("giif-owner\0{owner}").as_bytes());
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(&digest[..8]);
                i64::from_be_bytes(bytes)
            }
        }
    }

    /// MySQL's lock names are at most 64 characters.
    fn name(&self) -> String {
        match self {
            LockKey::RootNames => ROOT_LOCK_NAME.to_string(),
            LockKey::Owner(_) => format!("{ROOT_LOCK_NAME}/{:016x}", self.number()),
        }
    }
}

/// The root's lock: the same for every agent writing this database, and
/// the one lock earlier agents took for every write.
const ROOT_LOCK_NAME: &str = "giif-agent-guacamole";
const ROOT_LOCK_NUMBER: i64 = 0x6769_6966;

/// A connection inside a write transaction, holding its [`LockKey`]s.
/// Dropped without [`Locked::commit`] (an error, a cancelled task), the
/// connection is closed rather than returned to the pool, so the database
/// rolls back and releases the locks itself.
pub struct Locked {
    conn: Option<PoolConnection<Any>>,
    pub dialect: Dialect,
    /// MySQL's named locks outlive the transaction: released at the end.
    named: Vec<String>,
}

impl Locked {
    /// Begins a transaction (read committed, so every statement sees the
    /// latest commits) and takes `keys`, always in the same order, so two
    /// writers never wait for each other in a circle.
    pub async fn acquire(
        pool: &AnyPool,
        dialect: Dialect,
        keys: &[LockKey],
    ) -> Result<Self, DriverError> {
        const ACTION: &str = "take the write lock";
        let conn = pool.acquire().await.map_err(|e| classify(ACTION, e))?;
        let mut locked = Self {
            conn: Some(conn),
            dialect,
            named: Vec::new(),
        };
        let mut keys = keys.to_vec();
        keys.sort();
        keys.dedup();
        // The keys are the agent's own numbers and hex names, written into
        // the statement so that beginning and locking take one round trip.
        match dialect {
            Dialect::Postgres => {
                // A stuck holder makes waiters fail (and retry), not hang.
                let mut sql =
                    "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL lock_timeout = '30s'"
                        .to_string();
                if !keys.is_empty() {
                    let locks: Vec<String> = keys
                        .iter()
                        .map(|key| format!("pg_advisory_xact_lock({})", key.number()))
                        .collect();
                    // Evaluated left to right: in the keys' order.
                    sql.push_str(&format!("; SELECT {}", locks.join(", ")));
                }
                locked.execute_raw(&sql).await?;
            }
            Dialect::MySql => {
                if !keys.is_empty() {
                    let names: Vec<String> = keys.iter().map(LockKey::name).collect();
                    // Held ones are released at the end even if one timed out.
                    locked.named = names.clone();
                    let calls: Vec<String> = names
                        .iter()
                        .map(|name| format!("GET_LOCK('{name}', 30)"))
                        .collect();
                    let row = sqlx::query(&format!("SELECT {}", calls.join(", ")))
                        .fetch_one(&mut **locked.conn()?)
                        .await
                        .map_err(|e| classify(ACTION, e))?;
                    for column in 0..names.len() {
                        let got: Option<i64> =
                            sqlx::Row::try_get(&row, column).map_err(|e| classify(ACTION, e))?;
                        if got != Some(1) {
                            return Err(DriverError::transient(
                                TARGET,
                                ACTION,
                                "another agent held the Guacamole write lock for 30 s",
                            ));
                        }
                    }
                }
                locked
                    .execute_raw("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                    .await?;
                locked.execute_raw("START TRANSACTION").await?;
            }
        }
        Ok(locked)
    }

    pub fn conn(&mut self) -> Result<&mut PoolConnection<Any>, DriverError> {
        self.conn
            .as_mut()
            .ok_or_else(|| DriverError::permanent(TARGET, "write", "the connection is closed"))
    }

    async fn execute_raw(&mut self, sql: &str) -> Result<(), DriverError> {
        use sqlx::Executor;
        // No arguments: sent as plain text, as transaction control must be.
        (&mut **self.conn()?)
            .execute(sql)
            .await
            .map(|_| ())
            .map_err(|e| classify(sql, e))
    }

    pub async fn commit(mut self) -> Result<(), DriverError> {
        self.execute_raw("COMMIT").await?;
        for name in std::mem::take(&mut self.named) {
            sqlx::query("SELECT RELEASE_LOCK(?)")
                .bind(name)
                .execute(&mut **self.conn()?)
                .await
                .map_err(|e| classify("release the write lock", e))?;
        }
        // Committed and unlocked: the connection may serve others again.
        self.conn.take();
        Ok(())
    }
}

impl Drop for Locked {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // Closing the session rolls back and drops the lock.
            drop(conn.detach());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_placeholders_are_numbered_in_order() {
        assert_eq!(
            Dialect::Postgres.sql("SELECT a FROM t WHERE b = ? AND c = ?"),
            "SELECT a FROM t WHERE b = $1 AND c = $2"
        );
        assert_eq!(Dialect::MySql.sql("b = ?"), "b = ?");
    }

    #[test]
    fn urls_choose_the_dialect() {
        assert_eq!(Dialect::of_url("mysql://u:p@h/db"), Ok(Dialect::MySql));
        assert_eq!(
            Dialect::of_url("postgresql://u@h/db"),
            Ok(Dialect::Postgres)
        );
        assert!(Dialect::of_url("sqlite://x").is_err());
    }
}

//! The two SQL dialects of Guacamole's schema, and the write lock that
//! serializes the agent's changes across replicas.
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
            // MySQL's own error numbers: deadlock, lock wait timeout.
            let mysql_number = db
                .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                .map(|e| e.number());
            // Serialization failure, deadlock, lock timeout (PostgreSQL).
            if matches!(code.as_ref(), "40001" | "40P01" | "55P03")
                || matches!(mysql_number, Some(1213 | 1205))
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

/// A connection holding the agent's write lock inside a transaction.
/// Dropped without [`Locked::commit`] (an error, a cancelled task), the
/// connection is closed rather than returned to the pool, so the database
/// rolls back and releases the lock itself.
pub struct Locked {
    conn: Option<PoolConnection<Any>>,
    pub dialect: Dialect,
}

/// The lock's name: the same for every agent writing this database.
const LOCK_NAME: &str = "giif-agent-guacamole";
/// `pg_advisory_xact_lock` takes a number: "giif" in ASCII.
const LOCK_KEY: i64 = 0x6769_6966;

impl Locked {
    pub async fn acquire(pool: &AnyPool, dialect: Dialect) -> Result<Self, DriverError> {
        const ACTION: &str = "take the write lock";
        let conn = pool.acquire().await.map_err(|e| classify(ACTION, e))?;
        let mut locked = Self {
            conn: Some(conn),
            dialect,
        };
        match dialect {
            Dialect::Postgres => {
                // Read committed, so name checks see the previous holder's
                // commit; a stuck holder makes waiters fail (and retry), not hang.
                locked
                    .execute_raw("BEGIN ISOLATION LEVEL READ COMMITTED")
                    .await?;
                locked.execute_raw("SET LOCAL lock_timeout = '30s'").await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(LOCK_KEY)
                    .execute(&mut **locked.conn()?)
                    .await
                    .map_err(|e| classify(ACTION, e))?;
            }
            Dialect::MySql => {
                let (got,): (Option<i64>,) = sqlx::query_as("SELECT GET_LOCK(?, 30)")
                    .bind(LOCK_NAME)
                    .fetch_one(&mut **locked.conn()?)
                    .await
                    .map_err(|e| classify(ACTION, e))?;
                if got != Some(1) {
                    return Err(DriverError::transient(
                        TARGET,
                        ACTION,
                        "another agent held the Guacamole write lock for 30 s",
                    ));
                }
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

    pub async fn commit(self) -> Result<(), DriverError> {
        self.end("COMMIT").await
    }

    /// Ends without changes, keeping the connection for others.
    pub async fn rollback(self) -> Result<(), DriverError> {
        self.end("ROLLBACK").await
    }

    async fn end(mut self, how: &str) -> Result<(), DriverError> {
        self.execute_raw(how).await?;
        if self.dialect == Dialect::MySql {
            sqlx::query("SELECT RELEASE_LOCK(?)")
                .bind(LOCK_NAME)
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

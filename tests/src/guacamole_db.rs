//! Throwaway Guacamole databases for the tests of the agent's Guacamole
//! driver: a real MariaDB or PostgreSQL server on loopback, in a temporary
//! directory, with a database `guacamole_db` loaded with a Guacamole JDBC
//! schema through the CLI client (as an operator loads it), and a
//! non-superuser account for the agent holding the privileges Guacamole's
//! documentation tells operators to grant.
//!
//! Starting is fast (some 0.1 to 0.3 s): the first `start()` on a machine
//! builds a template data directory per flavor, server version and schema
//! (behind a file lock); every `start()` copies it and starts a server on
//! the copy. Everything lives in /dev/shm when it has room, else in the
//! temp dir.

mod mariadb;
mod postgres;
mod scratch;
mod template;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The database every flavor creates, as Guacamole's documentation names it.
const DATABASE: &str = "guacamole_db";
/// The agent's account: a login with SELECT/INSERT/UPDATE/DELETE only.
const AGENT_USER: &str = "giif";
const AGENT_PASSWORD: &str = "giif-guacamole-test";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuacFlavor {
    MariaDb,
    Postgres,
}

impl GuacFlavor {
    pub const ALL: [GuacFlavor; 2] = [GuacFlavor::MariaDb, GuacFlavor::Postgres];

    pub fn name(self) -> &'static str {
        match self {
            GuacFlavor::MariaDb => "mariadb",
            GuacFlavor::Postgres => "postgres",
        }
    }

    /// The schema subdirectory Guacamole ships for this flavor.
    fn schema_subdir(self) -> &'static str {
        match self {
            GuacFlavor::MariaDb => "mysql",
            GuacFlavor::Postgres => "postgresql",
        }
    }
}

/// A running server with a loaded `guacamole_db`; stopped on drop.
pub struct GuacamoleDb {
    pub flavor: GuacFlavor,
    server: Server,
}

enum Server {
    MariaDb(mariadb::MariaDb),
    Postgres(postgres::Postgres),
}

impl GuacamoleDb {
    /// A fresh server with a database loaded with the schema of
    /// [`schema_dir`].
    pub fn start(flavor: GuacFlavor) -> Self {
        Self::start_with_schema(flavor, &schema_dir())
    }

    /// The same with the schema of another directory (laid out like
    /// [`schema_dir`]'s).
    pub fn start_with_schema(flavor: GuacFlavor, dir: &Path) -> Self {
        let files = schema_files(flavor, dir);
        let server = match flavor {
            GuacFlavor::MariaDb => Server::MariaDb(mariadb::MariaDb::start(&files, None)),
            GuacFlavor::Postgres => Server::Postgres(postgres::Postgres::start(&files)),
        };
        Self { flavor, server }
    }

    /// A MariaDB server that takes TCP clients over TLS only, with the
    /// given certificate and key, and the schema of [`schema_dir`].
    pub fn start_mariadb_tls_only(cert_pem: &str, key_pem: &str) -> Self {
        let files = schema_files(GuacFlavor::MariaDb, &schema_dir());
        let tls = mariadb::TlsOnly { cert_pem, key_pem };
        Self {
            flavor: GuacFlavor::MariaDb,
            server: Server::MariaDb(mariadb::MariaDb::start(&files, Some(tls))),
        }
    }

    /// The URL the agent connects with, password included, as the agent's
    /// non-superuser account.
    pub fn url(&self) -> String {
        let (scheme, port) = match &self.server {
            Server::MariaDb(s) => ("mysql", s.port()),
            Server::Postgres(s) => ("postgres", s.port()),
        };
        format!("{scheme}://{AGENT_USER}:{AGENT_PASSWORD}@127.0.0.1:{port}/{DATABASE}")
    }

    /// Runs SQL (one or more statements) as an administrator through the CLI
    /// client, in `guacamole_db`, and returns the rows of every result:
    /// tab-separated, one per line, no headers, no trailing newline, NULL as
    /// `NULL`. Booleans print as the server prints them (MariaDB `1`/`0`,
    /// PostgreSQL `t`/`f`). Panics, with the client's message, on an error.
    pub fn sql(&self, statement: &str) -> String {
        self.try_sql(statement)
            .unwrap_or_else(|e| panic!("{} rejected SQL:\n{statement}\n{e}", self.flavor.name()))
    }

    /// Adds a Guacamole user the way the web app does: an entity and a user
    /// row (with a placeholder password hash).
    pub fn add_user(&self, name: &str) {
        self.sql(&format!(
            "INSERT INTO guacamole_entity (name, type) VALUES ('{name}', 'USER');
             INSERT INTO guacamole_user (entity_id, password_hash, password_date)
             SELECT entity_id, 'x', CURRENT_TIMESTAMP FROM guacamole_entity WHERE name = '{name}' AND type = 'USER';"
        ));
    }

    /// Adds a Guacamole user group.
    pub fn add_user_group(&self, name: &str) {
        self.sql(&format!(
            "INSERT INTO guacamole_entity (name, type) VALUES ('{name}', 'USER_GROUP');
             INSERT INTO guacamole_user_group (entity_id)
             SELECT entity_id FROM guacamole_entity WHERE name = '{name}' AND type = 'USER_GROUP';"
        ));
    }

    /// The users and groups with READ on a connection group or a
    /// connection, sorted.
    pub fn readers(&self, object: Granted, id: i64) -> Vec<String> {
        let (table, column) = match object {
            Granted::Group => (
                "guacamole_connection_group_permission",
                "connection_group_id",
            ),
            Granted::Connection => ("guacamole_connection_permission", "connection_id"),
        };
        let mut names: Vec<String> = self
            .sql(&format!(
                "SELECT e.name FROM {table} p JOIN guacamole_entity e ON e.entity_id = p.entity_id \
                 WHERE p.{column} = {id} AND p.permission = 'READ'"
            ))
            .lines()
            .map(str::to_string)
            .collect();
        names.sort();
        names
    }

    /// [`Self::sql`], with the client's error message as Err.
    pub fn try_sql(&self, statement: &str) -> Result<String, String> {
        match &self.server {
            Server::MariaDb(s) => s.sql(statement),
            Server::Postgres(s) => s.sql(statement),
        }
    }
}

/// What a READ grant is on, for [`GuacamoleDb::readers`].
#[derive(Clone, Copy, Debug)]
pub enum Granted {
    Group,
    Connection,
}

/// The schema directory: `GIIF_GUACAMOLE_SCHEMA_DIR` if set (a directory
/// with mysql/ and postgresql/ subdirectories holding 001-create-schema.sql
/// and 002-create-admin-user.sql, as Guacamole's own), else the project's
/// tests/fixtures/guacamole.
pub fn schema_dir() -> PathBuf {
    match std::env::var_os("GIIF_GUACAMOLE_SCHEMA_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => project_schema_dir(),
    }
}

/// The project's own schema, tests/fixtures/guacamole, whatever the
/// environment says.
pub fn project_schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/guacamole")
}

/// The two files to load, in order.
fn schema_files(flavor: GuacFlavor, dir: &Path) -> [PathBuf; 2] {
    let sub = dir.join(flavor.schema_subdir());
    let files = ["001-create-schema.sql", "002-create-admin-user.sql"].map(|f| sub.join(f));
    for file in &files {
        assert!(
            file.is_file(),
            "{} is missing: the schema directory (GIIF_GUACAMOLE_SCHEMA_DIR, an absolute path) needs mysql/ and postgresql/ with 001-create-schema.sql and 002-create-admin-user.sql",
            file.display()
        );
    }
    files
}

/// Runs a CLI client with `input` on its stdin and returns its rows as
/// `sql()` does, or its error.
fn run_client(mut client: Command, input: &str) -> Result<String, String> {
    let mut child = client
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {:?}: {e}", client.get_program()))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_owned();
    // From another thread: the client may fill its stdout before it has
    // read all of its input.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output();
    let _ = writer.join();
    client_result(output)
}

/// Output of a CLI client as `sql()` returns it, or its error.
fn client_result(output: std::io::Result<std::process::Output>) -> Result<String, String> {
    let output = output.map_err(|e| format!("cannot run the client: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{}{}",
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout)
        ));
    }
    let mut rows = String::from_utf8_lossy(&output.stdout).into_owned();
    if rows.ends_with('\n') {
        rows.pop();
    }
    Ok(rows)
}

//! The Guacamole test databases, on both flavors: the schema loads with
//! Guacamole's default administrator, the agent's URL logs in with the
//! privileges operators grant and no more, and the connection tree's unique
//! keys behave as the driver expects (and as it must guard against).

#![allow(clippy::unwrap_used)] // test helpers may panic: that is how a test fails

use sha2::{Digest, Sha256};
use sqlx::error::ErrorKind;
use sqlx::AnyConnection;
use sqlx::{Connection, Row};

use giif_tests::guacamole_db::{GuacFlavor, GuacamoleDb};

/// Every table of Guacamole's JDBC schema (1.4 to 1.6).
const TABLES: [&str; 23] = [
    "guacamole_connection",
    "guacamole_connection_attribute",
    "guacamole_connection_group",
    "guacamole_connection_group_attribute",
    "guacamole_connection_group_permission",
    "guacamole_connection_history",
    "guacamole_connection_parameter",
    "guacamole_connection_permission",
    "guacamole_entity",
    "guacamole_sharing_profile",
    "guacamole_sharing_profile_attribute",
    "guacamole_sharing_profile_parameter",
    "guacamole_sharing_profile_permission",
    "guacamole_system_permission",
    "guacamole_user",
    "guacamole_user_attribute",
    "guacamole_user_group",
    "guacamole_user_group_attribute",
    "guacamole_user_group_member",
    "guacamole_user_group_permission",
    "guacamole_user_history",
    "guacamole_user_password_history",
    "guacamole_user_permission",
];

fn schema_loads_with_guacadmin(flavor: GuacFlavor) {
    let db = GuacamoleDb::start(flavor);
    assert_eq!(db.flavor, flavor);

    let schema = match flavor {
        GuacFlavor::MariaDb => "DATABASE()",
        GuacFlavor::Postgres => "'public'",
    };
    let tables = db.sql(&format!(
        "SELECT table_name FROM information_schema.tables \
         WHERE table_schema = {schema} ORDER BY table_name"
    ));
    assert_eq!(tables, TABLES.join("\n"));

    // Guacamole's default administrator, with every system permission it
    // ships with (ordered as the enum declares them).
    let system = db.sql(
        "SELECT p.permission FROM guacamole_system_permission p \
         JOIN guacamole_entity e ON e.entity_id = p.entity_id \
         WHERE e.name = 'guacadmin' AND e.type = 'USER' ORDER BY p.permission",
    );
    assert_eq!(
        system.lines().collect::<Vec<_>>(),
        [
            "CREATE_CONNECTION",
            "CREATE_CONNECTION_GROUP",
            "CREATE_SHARING_PROFILE",
            "CREATE_USER",
            "CREATE_USER_GROUP",
            "ADMINISTER"
        ]
    );
    let on_itself = db.sql(
        "SELECT p.permission FROM guacamole_user_permission p \
         JOIN guacamole_entity e ON e.entity_id = p.entity_id \
         JOIN guacamole_user u ON u.user_id = p.affected_user_id AND u.entity_id = e.entity_id \
         WHERE e.name = 'guacadmin' ORDER BY p.permission",
    );
    assert_eq!(on_itself, "READ\nUPDATE\nADMINISTER");

    // Its password is "guacadmin", hashed as Guacamole hashes it.
    let hex = |column: &str| match flavor {
        GuacFlavor::MariaDb => format!("HEX({column})"),
        GuacFlavor::Postgres => format!("upper(encode({column}, 'hex'))"),
    };
    let row = db.sql(&format!(
        "SELECT {}, {}, disabled, expired FROM guacamole_user u \
         JOIN guacamole_entity e ON e.entity_id = u.entity_id WHERE e.name = 'guacadmin'",
        hex("password_hash"),
        hex("password_salt")
    ));
    let fields: Vec<&str> = row.split('\t').collect();
    let (hash, salt) = (fields[0], fields[1]);
    let expected: String = Sha256::digest(format!("guacadmin{salt}"))
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    assert_eq!(hash, expected, "password hash of guacadmin");
    let not_set = match flavor {
        GuacFlavor::MariaDb => "0",
        GuacFlavor::Postgres => "f",
    };
    assert_eq!(&fields[2..], [not_set, not_set], "disabled, expired");
}

async fn connect(db: &GuacamoleDb) -> AnyConnection {
    sqlx::any::install_default_drivers();
    AnyConnection::connect(&db.url()).await.unwrap()
}

async fn agent_logs_in_with_dml_only(flavor: GuacFlavor) {
    let db = GuacamoleDb::start(flavor);
    let url = db.url();
    let scheme = match flavor {
        GuacFlavor::MariaDb => "mysql://giif:",
        GuacFlavor::Postgres => "postgres://giif:",
    };
    assert!(url.starts_with(scheme), "{url}");
    assert!(url.ends_with("/guacamole_db"), "{url}");

    let mut conn = connect(&db).await;
    let names: Vec<String> = sqlx::query("SELECT name FROM guacamole_entity")
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(names, ["guacadmin"]);

    // Insert (an id from the sequence on PostgreSQL), update, delete.
    let id = insert_group(&mut conn, flavor, "ops", None).await.unwrap();
    sqlx::query(&format!(
        "UPDATE guacamole_connection_group SET max_connections = 4 WHERE connection_group_id = {id}"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        db.sql("SELECT connection_group_name, max_connections FROM guacamole_connection_group"),
        "ops\t4"
    );
    sqlx::query(&format!(
        "DELETE FROM guacamole_connection_group WHERE connection_group_id = {id}"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        db.sql("SELECT COUNT(*) FROM guacamole_connection_group"),
        "0"
    );

    // No DDL: the agent's account is not an administrator.
    let err = sqlx::query("CREATE TABLE giif_probe (id integer)")
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert!(
        err.as_database_error().is_some(),
        "CREATE TABLE must be refused by the server: {err}"
    );
    conn.close().await.unwrap();

    // The password is checked.
    let wrong = url.replace(":giif-", ":wrong-");
    assert_ne!(wrong, url);
    assert!(AnyConnection::connect(&wrong).await.is_err());
}

async fn names_unique_under_a_parent_not_at_the_root(flavor: GuacFlavor) {
    let db = GuacamoleDb::start(flavor);
    let mut conn = connect(&db).await;

    // Two groups with the same name under the same parent: rejected.
    let parent = insert_group(&mut conn, flavor, "lab", None).await.unwrap();
    insert_group(&mut conn, flavor, "vms", Some(parent))
        .await
        .unwrap();
    let err = insert_group(&mut conn, flavor, "vms", Some(parent))
        .await
        .unwrap_err();
    assert_unique_violation(&err);
    // Two connections likewise.
    insert_connection(&mut conn, flavor, "console", Some(parent))
        .await
        .unwrap();
    let err = insert_connection(&mut conn, flavor, "console", Some(parent))
        .await
        .unwrap_err();
    assert_unique_violation(&err);

    // At the root (parent NULL) the unique key does not apply: the agent
    // must guard against duplicates itself.
    insert_group(&mut conn, flavor, "lab", None).await.unwrap();
    insert_connection(&mut conn, flavor, "console", None)
        .await
        .unwrap();
    insert_connection(&mut conn, flavor, "console", None)
        .await
        .unwrap();
    assert_eq!(
        db.sql(
            "SELECT connection_group_name, COUNT(*) FROM guacamole_connection_group \
             WHERE parent_id IS NULL GROUP BY connection_group_name"
        ),
        "lab\t2"
    );
    assert_eq!(
        db.sql("SELECT COUNT(*) FROM guacamole_connection WHERE parent_id IS NULL"),
        "2"
    );

    // Deleting a group deletes what is in it.
    sqlx::query(&format!(
        "DELETE FROM guacamole_connection_group WHERE connection_group_id = {parent}"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        db.sql(&format!(
            "SELECT COUNT(*) FROM guacamole_connection_group WHERE parent_id = {parent}"
        )),
        "0"
    );
    assert_eq!(db.sql("SELECT COUNT(*) FROM guacamole_connection"), "2");
}

fn assert_unique_violation(err: &sqlx::Error) {
    let kind = err.as_database_error().map(|e| e.kind());
    assert!(
        matches!(kind, Some(ErrorKind::UniqueViolation)),
        "expected a unique violation, got {err}"
    );
}

/// Inserts a connection group; its id. MariaDB reports the id of the row it
/// inserted; PostgreSQL returns it.
async fn insert_group(
    conn: &mut AnyConnection,
    flavor: GuacFlavor,
    name: &str,
    parent: Option<i64>,
) -> Result<i64, sqlx::Error> {
    let parent = parent.map_or("NULL".to_string(), |p| p.to_string());
    let insert = format!(
        "INSERT INTO guacamole_connection_group (connection_group_name, parent_id) \
         VALUES ('{name}', {parent})"
    );
    insert_returning_id(conn, flavor, &insert, "connection_group_id").await
}

async fn insert_connection(
    conn: &mut AnyConnection,
    flavor: GuacFlavor,
    name: &str,
    parent: Option<i64>,
) -> Result<i64, sqlx::Error> {
    let parent = parent.map_or("NULL".to_string(), |p| p.to_string());
    let insert = format!(
        "INSERT INTO guacamole_connection (connection_name, parent_id, protocol) \
         VALUES ('{name}', {parent}, 'vnc')"
    );
    insert_returning_id(conn, flavor, &insert, "connection_id").await
}

async fn insert_returning_id(
    conn: &mut AnyConnection,
    flavor: GuacFlavor,
    insert: &str,
    id_column: &str,
) -> Result<i64, sqlx::Error> {
    match flavor {
        GuacFlavor::MariaDb => {
            let done = sqlx::query(insert).execute(conn).await?;
            Ok(done.last_insert_id().expect("MariaDB reports the new id"))
        }
        GuacFlavor::Postgres => {
            let row = sqlx::query(&format!("{insert} RETURNING CAST({id_column} AS bigint)"))
                .fetch_one(conn)
                .await?;
            Ok(row.get(0))
        }
    }
}

#[test]
fn mariadb_schema_loads_with_guacadmin() {
    schema_loads_with_guacadmin(GuacFlavor::MariaDb);
}

#[test]
fn postgres_schema_loads_with_guacadmin() {
    schema_loads_with_guacadmin(GuacFlavor::Postgres);
}

#[tokio::test]
async fn mariadb_agent_logs_in_with_dml_only() {
    agent_logs_in_with_dml_only(GuacFlavor::MariaDb).await;
}

#[tokio::test]
async fn postgres_agent_logs_in_with_dml_only() {
    agent_logs_in_with_dml_only(GuacFlavor::Postgres).await;
}

#[tokio::test]
async fn mariadb_names_unique_under_a_parent_not_at_the_root() {
    names_unique_under_a_parent_not_at_the_root(GuacFlavor::MariaDb).await;
}

#[tokio::test]
async fn postgres_names_unique_under_a_parent_not_at_the_root() {
    names_unique_under_a_parent_not_at_the_root(GuacFlavor::Postgres).await;
}

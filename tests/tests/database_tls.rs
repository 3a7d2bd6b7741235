//! The agent's databases over TLS: PostgreSQL and MariaDB servers that
//! accept only TLS connections, with a certificate from a CA of our own.
//! With `sslmode=verify-full` (PostgreSQL) or `ssl-mode=VERIFY_IDENTITY`
//! (MariaDB) and that CA the store and Guacamole's database work; with
//! another CA the agent refuses the server and says why; without TLS the
//! server refuses the agent.

#![allow(clippy::unwrap_used)] // test helpers may panic: that is how a test fails

use giif_agent::drivers::console::ConsoleRegistry;
use giif_agent::drivers::error::ErrorClass;
use giif_agent::drivers::guacamole::GuacamoleDb;
use giif_agent::pki::{generate_ca, issue_server_cert, CaHandle};
use giif_agent::store::Store;
use giif_proto::agent as api;
use giif_tests::guacamole_db::project_schema_dir;
use giif_tests::postgres::TestPostgres;

fn ca_file(dir: &std::path::Path, name: &str) -> (CaHandle, String) {
    let ca = CaHandle::from_certified(generate_ca(name).unwrap());
    let path = dir.join(format!("{name}.pem"));
    std::fs::write(&path, ca.cert_pem()).unwrap();
    (ca, path.display().to_string())
}

/// Our database CA and another one, as files, and a server certificate
/// from ours valid for 127.0.0.1, where the test servers listen.
struct Certificates {
    _dir: tempfile::TempDir,
    ca_path: String,
    other_ca_path: String,
    server_cert_pem: String,
    server_key_pem: String,
}

impl Certificates {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (ca, ca_path) = ca_file(dir.path(), "database-ca");
        let (_, other_ca_path) = ca_file(dir.path(), "someone-else");
        let server = issue_server_cert(&ca, &[]).unwrap();
        Self {
            _dir: dir,
            ca_path,
            other_ca_path,
            server_cert_pem: server.cert.pem(),
            server_key_pem: server.key_pair.serialize_pem(),
        }
    }
}

/// The agent refuses a Guacamole database whose certificate the URL's CA
/// did not sign, saying why, and does not retry.
async fn assert_untrusted_guacamole_refused(url: &str) {
    let untrusted = GuacamoleDb::new(url, "https://guacamole.test").unwrap();
    let err = untrusted
        .root_group("projects", "Projects")
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("invalid peer certificate"),
        "{err}"
    );
    assert_eq!(
        err.class,
        ErrorClass::Permanent,
        "retrying cannot make an untrusted server trusted"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn store_and_guacamole_over_verified_tls() {
    let certs = Certificates::new();
    let (ca_path, other_ca_path) = (&certs.ca_path, &certs.other_ca_path);
    let pg = TestPostgres::start_tls_only(&certs.server_cert_pem, &certs.server_key_pem);
    let verified = |url: String, ca: &str| format!("{url}?sslmode=verify-full&sslrootcert={ca}");

    // The store: opens, migrates and keeps a project, all over TLS.
    let store_url = pg.database("store");
    let store = Store::open(&verified(store_url.clone(), ca_path))
        .await
        .unwrap();
    store
        .import_project_vlan_pool(&giif_agent::store::VlanPoolSpec {
            name: "tls-pool".into(),
            first: 10,
            last: 20,
            reserved: vec![],
        })
        .await
        .unwrap();
    let project = store
        .create_project(
            "r1",
            &api::ProjectSpec {
                name: "encrypted".into(),
                ..Default::default()
            },
            "operator",
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .projects_by_ids(std::slice::from_ref(&project.id))
            .await
            .unwrap(),
        vec![project]
    );

    // A server whose certificate another CA signed is refused, with a reason.
    let refused = Store::open(&verified(store_url.clone(), other_ca_path))
        .await
        .err()
        .expect("a server the CA did not sign is refused");
    assert!(
        refused.to_string().contains("invalid peer certificate"),
        "{refused}"
    );

    // Without TLS the server turns the agent away.
    let plain = Store::open(&format!("{store_url}?sslmode=disable"))
        .await
        .err()
        .expect("the server takes only TLS");
    assert!(plain.to_string().contains("pg_hba.conf"), "{plain}");

    // Guacamole's database: the schema loaded and the agent's tree made
    // over TLS.
    let guac_url = verified(pg.database("guacamole"), ca_path);
    let schema = project_schema_dir().join("postgresql");
    let loader = sqlx::PgPool::connect(&guac_url).await.unwrap();
    for file in ["001-create-schema.sql", "002-create-admin-user.sql"] {
        let script = std::fs::read_to_string(schema.join(file)).unwrap();
        sqlx::raw_sql(&script).execute(&loader).await.unwrap();
    }
    let guacamole = GuacamoleDb::new(&guac_url, "https://guacamole.test").unwrap();
    let root = guacamole.root_group("projects", "Projects").await.unwrap();
    assert_eq!(
        guacamole.root_group("projects", "Projects").await.unwrap(),
        root
    );

    assert_untrusted_guacamole_refused(&verified(pg.database("guacamole2"), other_ca_path)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn guacamole_on_mariadb_over_verified_tls() {
    let certs = Certificates::new();
    let db = giif_tests::guacamole_db::GuacamoleDb::start_mariadb_tls_only(
        &certs.server_cert_pem,
        &certs.server_key_pem,
    );
    let verified = |ca: &str| format!("{}?ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}", db.url());

    // As docs/operations.md tells operators: the agent makes its tree over
    // TLS, checking the server's certificate against the CA (and its name:
    // VERIFY_IDENTITY; a wrong name is not tried here).
    let guacamole = GuacamoleDb::new(&verified(&certs.ca_path), "https://guacamole.test").unwrap();
    let root = guacamole.root_group("projects", "Projects").await.unwrap();
    assert_eq!(
        db.sql(&format!(
            "SELECT connection_group_name FROM guacamole_connection_group WHERE connection_group_id = {root}"
        )),
        "Projects"
    );

    // A server another CA signed is refused for good, saying why.
    assert_untrusted_guacamole_refused(&verified(&certs.other_ca_path)).await;

    // Without TLS the server turns the agent away (MariaDB says only
    // "Access denied"), while the same account gets in over TLS.
    let with_mode = |mode: &str| {
        GuacamoleDb::new(
            &format!("{}?ssl-mode={mode}", db.url()),
            "https://guacamole.test",
        )
        .unwrap()
    };
    let err = with_mode("DISABLED")
        .root_group("projects", "Projects")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Access denied"), "{err}");
    assert_eq!(
        with_mode("REQUIRED")
            .root_group("projects", "Projects")
            .await
            .unwrap(),
        root
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_ca_file_is_named_before_connecting() {
    let missing = "/nonexistent/giif/db-ca.pem";
    let err = Store::open(&format!(
        "postgres://giif:secret@127.0.0.1:1/store?sslmode=verify-full&sslrootcert={missing}"
    ))
    .await
    .err()
    .expect("refused");
    let text = err.to_string();
    assert!(
        text.contains("sslrootcert names /nonexistent/giif/db-ca.pem"),
        "{text}"
    );
    assert!(!text.contains("secret"), "{text}");

    let err = GuacamoleDb::new(
        &format!("mysql://giif:secret@127.0.0.1:1/guacamole_db?ssl-mode=VERIFY_IDENTITY&ssl-ca={missing}"),
        "https://guacamole.test",
    )
    .err()
    .expect("refused");
    assert_eq!(
        err.class,
        ErrorClass::Permanent,
        "retrying cannot make the file appear"
    );
    assert!(
        err.to_string()
            .contains("ssl-ca names /nonexistent/giif/db-ca.pem"),
        "{err}"
    );
    assert!(!err.to_string().contains("secret"), "{err}");
}

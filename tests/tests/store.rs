//! The agent's store on SQLite and on a real PostgreSQL server: the same
//! suite, because operators may run either.

#![allow(clippy::unwrap_used)] // test helpers may panic: that is how a test fails

use std::collections::BTreeSet;
use std::sync::Arc;

use giif_agent::store::{Store, VlanPoolSpec};
use giif_proto::agent as api;
use giif_proto::agent::error_detail::Reason;
use giif_tests::postgres::TestPostgres;
use sqlx::Connection;

fn spec(name: &str) -> api::ProjectSpec {
    api::ProjectSpec {
        name: name.to_string(),
        ..Default::default()
    }
}

fn pool(first: u32, last: u32, reserved: Vec<u32>) -> VlanPoolSpec {
    VlanPoolSpec {
        name: "segments".into(),
        first,
        last,
        reserved,
    }
}

async fn suite(store: Store) {
    // Without a pool there is nothing to allocate from.
    let err = store
        .create_project("r0", &spec("early"), "operator")
        .await
        .unwrap_err();
    assert_eq!(err.reason, Reason::PreconditionFailed);
    assert!(err.hint.contains("inventory import"), "{}", err.hint);

    store
        .import_project_vlan_pool(&pool(10, 12, vec![11]))
        .await
        .unwrap();

    // A create, and the same request again: one project, the same answer.
    let alpha = store
        .create_project("r1", &spec("Alpha"), "operator")
        .await
        .unwrap();
    assert_eq!(alpha.vlan, 10);
    let again = store
        .create_project("r1", &spec("Alpha"), "operator")
        .await
        .unwrap();
    assert_eq!(again, alpha);
    assert_eq!(store.list_projects().await.unwrap().len(), 1);

    // Many by id in one query: the ones that exist.
    let found = store
        .projects_by_ids(&[alpha.id.clone(), "prj-none".into()])
        .await
        .unwrap();
    assert_eq!(found, vec![alpha.clone()]);
    assert!(store.projects_by_ids(&[]).await.unwrap().is_empty());

    // Names are unique regardless of case; the error says how to import.
    let err = store
        .create_project("r2", &spec("alpha"), "operator")
        .await
        .unwrap_err();
    assert_eq!(err.reason, Reason::AlreadyExists);
    assert_eq!(err.field, "spec.name");
    assert!(err.hint.contains(&alpha.id), "{}", err.hint);

    // The reserved VLAN is skipped; then the pool is exhausted, by name.
    let beta = store
        .create_project("r3", &spec("beta"), "operator")
        .await
        .unwrap();
    assert_eq!(beta.vlan, 12);
    let err = store
        .create_project("r4", &spec("gamma"), "operator")
        .await
        .unwrap_err();
    assert_eq!(err.reason, Reason::PoolExhausted);
    assert_eq!(err.subject, "segments");

    // Updates change what they may; a rename is refused.
    let mut changed = spec("Alpha");
    changed.description = Some("now described".into());
    changed.members = vec![api::ProjectMember {
        user: "ada".into(),
        role: "manager".into(),
    }];
    let updated = store
        .update_project("r5", &alpha.id, &changed)
        .await
        .unwrap();
    assert_eq!(updated.vlan, 10);
    assert_eq!(
        store.project_by_id(&alpha.id).await.unwrap().spec,
        Some(changed)
    );
    let err = store
        .update_project("r6", &alpha.id, &spec("renamed"))
        .await
        .unwrap_err();
    assert_eq!(err.reason, Reason::InvalidArgument);
    assert_eq!(store.project_by_name("ALPHA").await.unwrap().id, alpha.id);

    // A pool that would strand allocated VLANs is refused and changes nothing.
    let err = store
        .import_project_vlan_pool(&pool(11, 11, vec![]))
        .await
        .unwrap_err();
    assert_eq!(err.reason, Reason::PreconditionFailed);
    assert!(err.message.contains("10 (project"), "{}", err.message);
    assert_eq!(
        store.vlan_pools().await.unwrap()[0].spec,
        pool(10, 12, vec![11])
    );

    // Deleting frees the VLAN; deleting again is harmless.
    assert!(store.delete_project("r7", &alpha.id).await.unwrap());
    assert!(!store.delete_project("r8", &alpha.id).await.unwrap());
    assert!(
        store.delete_project("r7", &alpha.id).await.unwrap(),
        "a replayed delete answers as the first did"
    );
    let gamma = store
        .create_project("r9", &spec("gamma"), "operator")
        .await
        .unwrap();
    assert_eq!(gamma.vlan, 10);
    store.delete_project("r10", &gamma.id).await.unwrap();
    store.delete_project("r11", &beta.id).await.unwrap();

    // Forty concurrent creates get forty distinct VLANs; the next one finds the pool full.
    store
        .import_project_vlan_pool(&pool(100, 139, vec![]))
        .await
        .unwrap();
    let store = Arc::new(store);
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .create_project(&format!("c{i}"), &spec(&format!("p{i}")), "operator")
                    .await
            })
        })
        .collect();
    let mut vlans = BTreeSet::new();
    for task in tasks {
        vlans.insert(task.await.unwrap().unwrap().vlan);
    }
    assert_eq!(vlans.len(), 40);
    assert_eq!(vlans.iter().min(), Some(&100));
    assert_eq!(vlans.iter().max(), Some(&139));
    let err = store
        .create_project("c40", &spec("p40"), "operator")
        .await
        .unwrap_err();
    assert_eq!(err.reason, Reason::PoolExhausted);
    assert_eq!(store.vlan_pools().await.unwrap()[0].allocated, 40);
}

#[tokio::test(flavor = "multi_thread")]
async fn store_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("agent.db").display());
    suite(Store::open(&url).await.unwrap()).await;
    // Opening again runs no migration twice and keeps the data.
    let reopened = Store::open(&url).await.unwrap();
    assert_eq!(reopened.list_projects().await.unwrap().len(), 40);
}

#[tokio::test(flavor = "multi_thread")]
async fn store_on_postgres() {
    let server = TestPostgres::start();
    let url = server.database("giif_store");
    suite(Store::open(&url).await.unwrap()).await;
    let reopened = Store::open(&url).await.unwrap();
    assert_eq!(reopened.backend().name(), "postgres");
    assert_eq!(reopened.list_projects().await.unwrap().len(), 40);

    // A site-wide chore is held by one replica at a time; it passes on
    // when its holder stops renewing.
    let other = Store::open(&url).await.unwrap();
    assert!(reopened.hold_task("chore", "a", 60_000).await.unwrap());
    assert!(!other.hold_task("chore", "b", 60_000).await.unwrap());
    assert!(
        reopened.hold_task("chore", "a", 50).await.unwrap(),
        "renewed"
    );
    tokio::time::sleep(std::time::Duration::from_millis(80)).await;
    assert!(
        other.hold_task("chore", "b", 60_000).await.unwrap(),
        "taken over"
    );
    assert!(!reopened.hold_task("chore", "a", 60_000).await.unwrap());

    // A writer that holds the write lock (a stuck replica, say) makes a
    // write fail as busy after the lock timeout, not hang.
    let patient = reopened.with_write_lock_timeout(std::time::Duration::from_millis(300));
    let mut holder = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(giif_agent::store::WRITE_LOCK_KEY)
        .execute(&mut holder)
        .await
        .unwrap();
    let busy = patient
        .create_project("busy", &spec("busy"), "operator")
        .await
        .unwrap_err();
    assert_eq!(busy.reason, Reason::Transient, "{busy:?}");
    assert!(busy.message.contains("busy"), "{}", busy.message);
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(giif_agent::store::WRITE_LOCK_KEY)
        .execute(&mut holder)
        .await
        .unwrap();
    // Once the lock is free, writes go through again.
    patient.prune_request_log(7).await.unwrap();
}

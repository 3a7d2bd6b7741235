//! A console write that started from an old version of a project (a
//! background converge that read it before a member was removed) must not
//! undo the change: the agent reads the project again after each
//! write to Guacamole and writes again when it changed. Against a real
//! store and a real Guacamole database (PostgreSQL), in process, so the
//! "old version" is exact rather than a matter of timing.

#![allow(clippy::unwrap_used)] // test helpers may panic: that is how a test fails

use giif_agent::consoles::{ConsoleState, Consoles};
use giif_agent::drivers::retry::RetryPolicy;
use giif_agent::site_cache::SiteCache;
use giif_agent::store::Store;
use giif_proto::agent as api;
use giif_tests::guacamole_db::{Granted, GuacFlavor, GuacamoleDb};

fn spec(name: &str, members: &[&str]) -> api::ProjectSpec {
    api::ProjectSpec {
        name: name.into(),
        members: members
            .iter()
            .map(|user| api::ProjectMember {
                user: (*user).into(),
                role: "member".into(),
            })
            .collect(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_from_an_old_version_of_the_project_does_not_undo_a_change() {
    let guacamole = GuacamoleDb::start(GuacFlavor::Postgres);
    guacamole.add_user("alice");
    guacamole.add_user("bob");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("guacamole-db-url"), guacamole.url()).unwrap();
    let site = "[project_vlans]\nname = \"pool\"\nfirst = 10\nlast = 20\n\n\
                [guacamole]\ndatabase_url = { file = \"guacamole-db-url\" }\n\
                public_url = \"https://console.test/guacamole\"\n";
    let inventory = giif_agent::inventory::parse("site.toml", site, dir.path()).unwrap();
    let store_url = format!("sqlite://{}", dir.path().join("agent.db").display());
    let store = Store::open(&store_url).await.unwrap();
    store.import_inventory(&inventory).await.unwrap();
    let consoles = Consoles::new(
        store.clone(),
        SiteCache::new(store.clone(), RetryPolicy::default()),
    );

    // Version 1: "alpha" with alice and bob, and its groups.
    let old = store
        .create_project("create", &spec("alpha", &["alice", "bob"]), "operator")
        .await
        .unwrap();
    let ConsoleState::Present { id: group, .. } = consoles.ensure_project(&old).await else {
        panic!("the project's group was not made");
    };
    assert_eq!(guacamole.readers(Granted::Group, group), ["alice", "bob"]);

    // Version 2, committed and written: bob removed.
    let new = store
        .update_project("update", &old.id, &spec("alpha", &["alice"]))
        .await
        .unwrap();
    consoles.ensure_project(&new).await;
    assert_eq!(guacamole.readers(Granted::Group, group), ["alice"]);

    // A late write from version 1 (as a converge that read the project
    // before the update would make) ends with version 2 in Guacamole.
    consoles.ensure_project(&old).await;
    assert_eq!(
        guacamole.readers(Granted::Group, group),
        ["alice"],
        "bob's removal was undone"
    );
}

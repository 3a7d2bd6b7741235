//! The Guacamole driver against real MariaDB and PostgreSQL servers loaded
//! with a Guacamole schema (the project's, or `GIIF_GUACAMOLE_SCHEMA_DIR`'s).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use giif_agent::credentials::Secret;
use giif_agent::drivers::console::{
    ConnectionSpec, ConsoleRegistry, DependentUpdate, Grants, GroupTree, ObjectId, ObjectKind,
    ObjectRef, OwnedGroup, Parent, Principals,
};
use giif_agent::drivers::guacamole::GuacamoleDb;
use giif_tests::guacamole_db::{Granted, GuacFlavor, GuacamoleDb as TestDb};

const PUBLIC: &str = "https://console.example.org/guacamole";

fn driver(db: &TestDb) -> GuacamoleDb {
    GuacamoleDb::new(&db.url(), PUBLIC).unwrap()
}

/// A database with `users`, the driver, and one VNC connection `c` of its
/// own in a group `G`: what the grant tests start from.
async fn one_connection(flavor: GuacFlavor, users: &[&str]) -> (TestDb, GuacamoleDb, ObjectId) {
    let db = TestDb::start(flavor);
    for user in users {
        db.add_user(user);
    }
    let guac = driver(&db);
    let group = guac.ensure_group("g", Parent::Root, "G").await.unwrap();
    let id = guac
        .ensure_connection("c", group, &vnc("c", "h"), true)
        .await
        .unwrap();
    (db, guac, id)
}

fn vnc(name: &str, host: &str) -> ConnectionSpec {
    ConnectionSpec {
        name: name.into(),
        protocol: "vnc".into(),
        parameters: BTreeMap::from([
            ("hostname".into(), host.into()),
            ("port".into(), "5901".into()),
        ]),
        secrets: BTreeMap::from([("password".into(), Secret::new("s3cret!"))]),
        guacd: None,
        resource: Some("vm-1".into()),
        follows_resource_secret: false,
        placement: None,
    }
}

fn users(names: &[&str]) -> Principals {
    Principals {
        users: names.iter().map(|n| n.to_string()).collect(),
        groups: Default::default(),
    }
}

fn count(db: &TestDb, sql: &str) -> i64 {
    db.sql(sql).trim().parse().unwrap()
}

macro_rules! both_flavors {
    ($($name:ident),* $(,)?) => {
        mod mariadb {
            $(#[tokio::test] async fn $name() { super::$name(super::GuacFlavor::MariaDb).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name(super::GuacFlavor::Postgres).await })*
        }
    };
}

both_flavors!(
    the_tree_is_made_once_and_names_are_guarded,
    connections_keep_secrets_write_only,
    grants_follow_their_sources_and_spare_administrators,
    objects_the_agent_did_not_create_are_never_touched,
    concurrent_creates_in_one_parent_all_land,
    a_grant_an_administrator_gave_first_is_never_revoked,
    a_deleted_user_does_not_block_other_grants,
    hundreds_of_members_fit,
    connections_following_a_resource_follow_its_password,
    trees_made_at_once_keep_names_unique_and_every_grant,
);

async fn a_grant_an_administrator_gave_first_is_never_revoked(flavor: GuacFlavor) {
    let (db, guac, id) = one_connection(flavor, &["carol"]).await;
    db.sql(&format!(
        "INSERT INTO guacamole_connection_permission (entity_id, connection_id, permission) \
         SELECT entity_id, {id}, 'READ' FROM guacamole_entity WHERE name = 'carol'"
    ));
    let object = ObjectRef::connection(id);
    guac.set_grants(object, "members", &users(&["carol"]))
        .await
        .unwrap();
    guac.set_grants(object, "members", &users(&[]))
        .await
        .unwrap();
    assert_eq!(
        db.readers(Granted::Connection, id),
        ["carol"],
        "the administrator's grant stays"
    );
    // Case matters: Guacamole's user is "carol", not "Carol".
    let err = guac
        .set_grants(object, "members", &users(&["Carol"]))
        .await
        .unwrap_err();
    assert!(err.message.contains("no user \"Carol\""), "{err}");
}

async fn a_deleted_user_does_not_block_other_grants(flavor: GuacFlavor) {
    let (db, guac, id) = one_connection(flavor, &["alice", "bob"]).await;
    let object = ObjectRef::connection(id);
    guac.set_grants(object, "connection", &users(&["bob"]))
        .await
        .unwrap();
    db.sql("DELETE FROM guacamole_entity WHERE name = 'bob'");
    guac.set_grants(object, "members", &users(&["alice"]))
        .await
        .unwrap();
    guac.set_grants(object, "connection", &users(&[]))
        .await
        .unwrap();
    assert_eq!(db.readers(Granted::Connection, id), ["alice"]);
}

async fn hundreds_of_members_fit(flavor: GuacFlavor) {
    let db = TestDb::start(flavor);
    let names: Vec<String> = (0..300)
        .map(|i| format!("student.{i:03}@physics.university.example.org"))
        .collect();
    let mut inserts = String::new();
    for name in &names {
        inserts.push_str(&format!(
            "INSERT INTO guacamole_entity (name, type) VALUES ('{name}', 'USER');"
        ));
    }
    db.sql(&inserts);
    let guac = driver(&db);
    let group = guac.ensure_group("g", Parent::Root, "G").await.unwrap();
    let object = ObjectRef::group(group);
    let everyone = Principals {
        users: names.iter().cloned().collect(),
        groups: Default::default(),
    };
    guac.set_grants(object, "members", &everyone).await.unwrap();
    assert_eq!(
        count(&db, &format!("SELECT COUNT(*) FROM guacamole_connection_group_permission WHERE connection_group_id = {group}")),
        300
    );
    guac.set_grants(object, "members", &users(&[]))
        .await
        .unwrap();
    assert_eq!(
        count(&db, &format!("SELECT COUNT(*) FROM guacamole_connection_group_permission WHERE connection_group_id = {group}")),
        0
    );
}

async fn connections_following_a_resource_follow_its_password(flavor: GuacFlavor) {
    let db = TestDb::start(flavor);
    let guac = driver(&db);
    let group = guac.ensure_group("g", Parent::Root, "G").await.unwrap();
    let mut follows = vnc("follows", "idrac1");
    follows.resource = Some("bms-1".into());
    follows.follows_resource_secret = true;
    let mut own = vnc("own password", "idrac1");
    own.resource = Some("bms-1".into());
    let a = guac
        .ensure_connection("connection/a", group, &follows, true)
        .await
        .unwrap();
    let b = guac
        .ensure_connection("connection/b", group, &own, true)
        .await
        .unwrap();
    let console = guac
        .ensure_connection(
            "bms/1/console",
            group,
            &{
                let mut c = vnc("console", "idrac1");
                c.resource = Some("bms-1".into());
                c
            },
            true,
        )
        .await
        .unwrap();
    let password = |id: i64| {
        db.sql(&format!(
            "SELECT parameter_value FROM guacamole_connection_parameter WHERE connection_id = {id} AND parameter_name = 'password'"
        ))
    };
    let updated = guac
        .update_dependents("bms-1", &DependentUpdate::Password(Secret::new("n3wpass")))
        .await
        .unwrap();
    assert_eq!(updated, 1);
    assert_eq!(password(a), "n3wpass");
    assert_eq!(password(b), "s3cret!", "a password of its own stays");
    assert_eq!(
        password(console),
        "s3cret!",
        "the agent's own console is not an explicit connection"
    );
    // Released: explicit connections to it can no longer reach it.
    assert_eq!(
        guac.update_dependents("bms-1", &DependentUpdate::Disable)
            .await
            .unwrap(),
        2
    );
    for id in [a, b] {
        assert_eq!(password(id), "");
        let live = guac.connection(id).await.unwrap().unwrap();
        assert!(!live.parameters.contains_key("hostname"));
    }
}

async fn the_tree_is_made_once_and_names_are_guarded(flavor: GuacFlavor) {
    let db = TestDb::start(flavor);
    let guac = driver(&db);
    let root = guac.root_group("projects", "Projects").await.unwrap();
    assert_eq!(guac.root_group("projects", "Projects").await.unwrap(), root);
    let lab = guac
        .ensure_group("project/p1", Parent::Group(root), "lab")
        .await
        .unwrap();
    let resources = guac
        .ensure_group("project/p1/resources", Parent::Group(lab), "Resources")
        .await
        .unwrap();
    // Idempotent: the same owner gets the same group.
    assert_eq!(
        guac.ensure_group("project/p1", Parent::Group(root), "lab")
            .await
            .unwrap(),
        lab
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM guacamole_connection_group"),
        3
    );
    let live = guac.group(resources).await.unwrap().unwrap();
    assert_eq!(
        (live.name.as_str(), live.parent, live.owner.as_deref()),
        (
            "Resources",
            Parent::Group(lab),
            Some("project/p1/resources")
        )
    );
    // Another project may not take the name in the same parent...
    let clash = guac
        .ensure_group("project/p2", Parent::Group(root), "lab")
        .await
        .unwrap_err();
    assert!(clash.message.contains("already exists"), "{clash}");
    // ...nor at the root, where the database itself would allow it.
    let root_clash = guac
        .ensure_group("other", Parent::Root, "Projects")
        .await
        .unwrap_err();
    assert!(
        root_clash.message.contains("already exists"),
        "{root_clash}"
    );
    // Renaming and moving go through the owner.
    let other_root = guac
        .ensure_group("scratch", Parent::Root, "Scratch")
        .await
        .unwrap();
    guac.ensure_group("project/p1", Parent::Group(other_root), "lab2")
        .await
        .unwrap();
    let moved = guac.group(lab).await.unwrap().unwrap();
    assert_eq!(
        (moved.name.as_str(), moved.parent),
        ("lab2", Parent::Group(other_root))
    );
    // Deleting the project's group takes the agent's subgroups with it.
    assert!(guac.delete_owned("project/p1").await.unwrap());
    assert!(guac.group(resources).await.unwrap().is_none());
    assert!(!guac.delete_owned("project/p1").await.unwrap());
}

async fn connections_keep_secrets_write_only(flavor: GuacFlavor) {
    let db = TestDb::start(flavor);
    let guac = driver(&db);
    let group = guac.ensure_group("g", Parent::Root, "G").await.unwrap();
    let id = guac
        .ensure_connection("vm/1", group, &vnc("web", "10.0.0.5"), false)
        .await
        .unwrap();
    let stored = db.sql(&format!(
        "SELECT parameter_value FROM guacamole_connection_parameter WHERE connection_id = {id} AND parameter_name = 'password'"
    ));
    assert_eq!(
        stored.trim(),
        "s3cret!",
        "a new connection gets its secrets"
    );
    let live = guac.connection(id).await.unwrap().unwrap();
    assert_eq!(live.protocol, "vnc");
    assert_eq!(
        live.parameters.get("hostname").map(String::as_str),
        Some("10.0.0.5")
    );
    assert!(
        !live.parameters.contains_key("password"),
        "secrets are never read back"
    );
    assert_eq!(live.resource.as_deref(), Some("vm-1"));
    assert_eq!(
        guac.client_url(ObjectRef::connection(id)),
        format!(
            "{PUBLIC}/#/client/{}",
            base64_of(&format!(
                "{id}\0c\0{}",
                match flavor {
                    GuacFlavor::MariaDb => "mysql",
                    GuacFlavor::Postgres => "postgresql",
                }
            ))
        )
    );
    // An update without write_secrets keeps the password; parameters follow the spec.
    let mut changed = vnc("web-renamed", "10.0.0.6");
    changed.secrets.clear();
    changed.parameters.insert("color-depth".into(), "16".into());
    assert_eq!(
        guac.ensure_connection("vm/1", group, &changed, false)
            .await
            .unwrap(),
        id
    );
    let live = guac.connection(id).await.unwrap().unwrap();
    assert_eq!(live.name, "web-renamed");
    assert_eq!(
        live.parameters.get("color-depth").map(String::as_str),
        Some("16")
    );
    assert!(db.sql(&format!(
        "SELECT parameter_value FROM guacamole_connection_parameter WHERE connection_id = {id} AND parameter_name = 'password'"
    )).contains("s3cret!"));
    // With write_secrets and no password, the password goes.
    guac.ensure_connection("vm/1", group, &changed, true)
        .await
        .unwrap();
    assert_eq!(
        count(&db, &format!("SELECT COUNT(*) FROM guacamole_connection_parameter WHERE connection_id = {id} AND parameter_name = 'password'")),
        0
    );
    assert_eq!(guac.secret("vm/1", "password").await.unwrap(), None);
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

async fn grants_follow_their_sources_and_spare_administrators(flavor: GuacFlavor) {
    let (db, guac, id) = one_connection(flavor, &["alice", "bob", "carol"]).await;
    let object = ObjectRef::connection(id);
    let missing = guac.missing(&users(&["alice", "zed"])).await.unwrap();
    assert_eq!(
        missing.users.into_iter().collect::<Vec<_>>(),
        vec!["zed".to_string()]
    );
    guac.set_grants(object, "members", &users(&["alice", "bob"]))
        .await
        .unwrap();
    guac.set_grants(object, "connection", &users(&["bob"]))
        .await
        .unwrap();
    // An administrator grants carol READ in the web app.
    db.sql(&format!(
        "INSERT INTO guacamole_connection_permission (entity_id, connection_id, permission) \
         SELECT entity_id, {id}, 'READ' FROM guacamole_entity WHERE name = 'carol'"
    ));
    assert_eq!(
        db.readers(Granted::Connection, id),
        ["alice", "bob", "carol"]
    );
    // bob leaves the members but keeps READ through the connection's own list.
    guac.set_grants(object, "members", &users(&["alice"]))
        .await
        .unwrap();
    assert_eq!(
        db.readers(Granted::Connection, id),
        ["alice", "bob", "carol"]
    );
    guac.set_grants(object, "connection", &users(&[]))
        .await
        .unwrap();
    assert_eq!(
        db.readers(Granted::Connection, id),
        ["alice", "carol"],
        "carol's grant is the administrator's"
    );
    let live = guac.connection(id).await.unwrap().unwrap();
    assert_eq!(live.grants.get("members"), Some(&users(&["alice"])));
    // A user that does not exist is refused by name.
    let err = guac
        .set_grants(object, "members", &users(&["alice", "zed"]))
        .await
        .unwrap_err();
    assert!(err.message.contains("\"zed\""), "{err}");
    // Removing the grant out of band shows in the live read.
    db.sql(&format!(
        "DELETE FROM guacamole_connection_permission WHERE connection_id = {id} AND entity_id = \
         (SELECT entity_id FROM guacamole_entity WHERE name = 'alice')"
    ));
    let live = guac.connection(id).await.unwrap().unwrap();
    assert_eq!(live.grants.get("members"), Some(&users(&[])));
}

async fn objects_the_agent_did_not_create_are_never_touched(flavor: GuacFlavor) {
    let db = TestDb::start(flavor);
    // An operator's own tree: a root "Projects" group and a connection.
    db.sql("INSERT INTO guacamole_connection_group (connection_group_name, type) VALUES ('Projects', 'ORGANIZATIONAL')");
    let theirs: i64 = db
        .sql("SELECT connection_group_id FROM guacamole_connection_group WHERE connection_group_name = 'Projects'")
        .trim()
        .parse()
        .unwrap();
    let guac = driver(&db);
    // The agent adopts it as a parent but does not mark or change it.
    assert_eq!(
        guac.root_group("projects", "Projects").await.unwrap(),
        theirs
    );
    assert_eq!(guac.group(theirs).await.unwrap().unwrap().owner, None);
    let lab = guac
        .ensure_group("project/p1", Parent::Group(theirs), "lab")
        .await
        .unwrap();
    db.sql(&format!(
        "INSERT INTO guacamole_connection (connection_name, parent_id, protocol) VALUES ('hand-made', {lab}, 'ssh')"
    ));
    let hand_made: i64 = db
        .sql("SELECT connection_id FROM guacamole_connection WHERE connection_name = 'hand-made'")
        .trim()
        .parse()
        .unwrap();
    // Its name is taken; the agent will not adopt or overwrite it.
    let err = guac
        .ensure_connection("vm/9", lab, &vnc("hand-made", "h"), true)
        .await
        .unwrap_err();
    assert!(err.message.contains("did not create"), "{err}");
    // Grants on it are refused.
    assert!(guac
        .set_grants(ObjectRef::connection(hand_made), "members", &users(&[]))
        .await
        .is_err());
    // A group holding it is not deleted.
    let err = guac.delete_owned("project/p1").await.unwrap_err();
    assert!(err.message.contains("hand-made"), "{err}");
    assert!(guac.connection(hand_made).await.unwrap().is_some());
    let subtree = guac.owned_subtree(lab).await.unwrap();
    assert_eq!(subtree, vec![ObjectRef::group(lab)]);
    assert!(subtree.iter().all(|o| o.kind == ObjectKind::Group));
}

async fn concurrent_creates_in_one_parent_all_land(flavor: GuacFlavor) {
    let db = TestDb::start(flavor);
    let guac = Arc::new(driver(&db));
    let root = guac.root_group("projects", "Projects").await.unwrap();
    // Twenty connections at once, and the same owner twice per name.
    let mut tasks = Vec::new();
    for i in 0..20 {
        for _ in 0..2 {
            let guac = guac.clone();
            tasks.push(tokio::spawn(async move {
                guac.ensure_connection(
                    &format!("vm/{i}"),
                    root,
                    &vnc(&format!("vm-{i}"), "h"),
                    true,
                )
                .await
            }));
        }
    }
    // And the same root group from many callers.
    let mut roots = Vec::new();
    for _ in 0..10 {
        let guac = guac.clone();
        roots.push(tokio::spawn(async move {
            guac.root_group("projects", "Projects").await
        }));
    }
    let mut ids = std::collections::BTreeSet::new();
    for task in tasks {
        ids.insert(task.await.unwrap().unwrap());
    }
    for task in roots {
        assert_eq!(task.await.unwrap().unwrap(), root);
    }
    assert_eq!(
        count(
            &db,
            &format!("SELECT COUNT(*) FROM guacamole_connection WHERE parent_id = {root}")
        ),
        20
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM guacamole_connection_group WHERE connection_group_name = 'Projects'"),
        1
    );
    // One connection per owner, however often it was asked for.
    assert_eq!(ids.len(), 20);
}

fn project_tree(root: ObjectId, owner: &str, name: &str) -> GroupTree {
    let group = |owner: String, name: &str| OwnedGroup {
        owner,
        name: name.into(),
    };
    GroupTree {
        parent: Parent::Group(root),
        top: group(owner.into(), name),
        children: vec![
            group(format!("{owner}/resources"), "Resources"),
            group(format!("{owner}/toolbox"), "Project Toolbox"),
        ],
    }
}

/// Each tree is one transaction locking only its own owners, so trees are
/// made side by side; what the one database-wide lock used to guarantee
/// must still hold: one group per name in a parent (the loser told who
/// holds it), one tree per owner, and no grant record lost when another
/// source grants on the same object at the same moment.
async fn trees_made_at_once_keep_names_unique_and_every_grant(flavor: GuacFlavor) {
    let db = TestDb::start(flavor);
    for user in ["alice", "bob"] {
        db.add_user(user);
    }
    let guac = Arc::new(driver(&db));
    let root = guac.root_group("projects", "Projects").await.unwrap();
    let members = users(&["alice"]);
    let mut tasks = Vec::new();
    // Twelve projects at once, each asked for twice; and project x2 and an
    // intruder both want the name "lab-2".
    for i in 0..12 {
        for owner in [format!("project/{i}"), format!("project/{i}")] {
            let (guac, members) = (guac.clone(), members.clone());
            tasks.push(tokio::spawn(async move {
                let tree = project_tree(root, &owner, &format!("lab-{i}"));
                let grants = Grants {
                    source: "members",
                    wanted: &members,
                };
                guac.ensure_tree(&tree, Some(grants)).await
            }));
        }
    }
    let intruder = {
        let guac = guac.clone();
        tokio::spawn(async move {
            guac.ensure_tree(&project_tree(root, "project/intruder", "lab-2"), None)
                .await
        })
    };
    let mut trees = std::collections::BTreeSet::new();
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(ids) => {
                assert_eq!(ids.len(), 3);
                trees.insert(ids);
            }
            Err(err) => {
                assert!(err.message.contains("already exists"), "{err}");
                refused += 1;
            }
        }
    }
    let intruded = intruder.await.unwrap();
    // Either the intruder or project 2 (both of its calls) lost the name.
    match &intruded {
        Ok(_) => assert_eq!((trees.len(), refused), (11, 2)),
        Err(err) => {
            assert!(err.message.contains("already exists in Projects"), "{err}");
            assert_eq!((trees.len(), refused), (12, 0));
        }
    }
    assert_eq!(
        count(
            &db,
            &format!("SELECT COUNT(*) FROM guacamole_connection_group WHERE parent_id = {root}")
        ),
        12,
        "one group per name under Projects"
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM guacamole_connection_group WHERE connection_group_name = 'Resources'"
        ),
        12,
        "one tree per owner"
    );

    // Two sources grant alice READ on the same groups at once, many times
    // over: her record must name both, so one source's revoke leaves the
    // other's grant in place.
    let ids: Vec<ObjectId> = trees.iter().flatten().copied().collect();
    let mut tasks = Vec::new();
    for round in 0..4 {
        for (source, who) in [
            ("members", &["alice", "bob"][..]),
            ("connection", &["alice"]),
        ] {
            let guac = guac.clone();
            let ids = ids.clone();
            tasks.push(tokio::spawn(async move {
                for id in ids {
                    let wanted = users(who);
                    guac.set_grants(ObjectRef::group(id), source, &wanted)
                        .await
                        .unwrap_or_else(|e| panic!("round {round}, {source}: {e}"));
                }
            }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    for id in &ids {
        assert_eq!(db.readers(Granted::Group, *id), ["alice", "bob"]);
        guac.set_grants(ObjectRef::group(*id), "members", &users(&[]))
            .await
            .unwrap();
        assert_eq!(
            db.readers(Granted::Group, *id),
            ["alice"],
            "group {id}: the other source's grant survived"
        );
    }
}

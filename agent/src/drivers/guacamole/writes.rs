//! The bodies of the registry's write transactions, each run by
//! `in_transaction!` with the locks it needs: what to find, check and
//! write, on the transaction's connection.

use super::is_secret;
use super::objects::{tables, Db, FOLLOWS, OWNER, PLACEMENT, RESOURCE};
use super::sql::{LockKey, TARGET};
use crate::drivers::console::{
    ConnectionSpec, DependentUpdate, Grants, GroupTree, ObjectId, ObjectKind, ObjectRef, Parent,
    Principals,
};
use crate::drivers::error::DriverError;

/// The path of a group, such as `Projects/alpha/Resources`.
async fn path(db: &mut Db<'_>, parent: Parent) -> Result<String, DriverError> {
    let mut names = Vec::new();
    let mut at = parent;
    while let Parent::Group(id) = at {
        match db.name_and_parent(ObjectKind::Group, id).await? {
            Some((name, up)) if names.len() < 32 => {
                names.push(name);
                at = up;
            }
            _ => break,
        }
    }
    names.reverse();
    Ok(if names.is_empty() {
        "Guacamole's root".to_string()
    } else {
        names.join("/")
    })
}

/// The error for a name already taken in `parent` by object `other`.
async fn name_taken(
    db: &mut Db<'_>,
    kind: ObjectKind,
    other: ObjectId,
    parent: Parent,
    name: &str,
) -> Result<DriverError, DriverError> {
    let noun = tables(kind).noun;
    let place = path(db, parent).await?;
    let owner = db.attributes(kind, other).await?.remove(OWNER);
    let whose = match owner {
        Some(owner) if owner.starts_with("connection/") => format!(
            "it is a giif_guacamole_connection (id {other}): import it with \
             `terraform import <address> {other}` or give this one another name"
        ),
        Some(owner) => format!("giif made it for {owner}; give this one another name"),
        None => {
            "the agent did not create it: rename or remove it in Guacamole, or choose another name"
                .to_string()
        }
    };
    Ok(DriverError::permanent(
        TARGET,
        format!("create {noun} {name:?}"),
        format!("a {noun} named {name:?} already exists in {place}; {whose}"),
    ))
}

/// Makes the name/parent of an owned object match, refusing a clash.
async fn place(
    db: &mut Db<'_>,
    kind: ObjectKind,
    id: ObjectId,
    parent: Parent,
    name: &str,
) -> Result<(), DriverError> {
    if let Some(problem) = db.dialect.text_problem("the name", name) {
        return Err(DriverError::permanent(TARGET, "name an object", problem));
    }
    if let Some(other) = db.by_name(kind, parent, name).await? {
        if other != id {
            return Err(name_taken(db, kind, other, parent, name).await?);
        }
    }
    Ok(())
}

/// The body of [`ConsoleRegistry::ensure_connection`].
pub(super) async fn ensure_connection_in(
    db: &mut Db<'_>,
    owner: &str,
    parent: ObjectId,
    spec: &ConnectionSpec,
    write_secrets: bool,
) -> Result<ObjectId, DriverError> {
    let in_group = Parent::Group(parent);
    let guacd = spec.guacd.as_ref();
    for (name, value) in &spec.parameters {
        if let Some(problem) = db.dialect.text_problem(&format!("parameter {name}"), value) {
            return Err(DriverError::permanent(
                TARGET,
                "write a connection",
                problem,
            ));
        }
    }
    for (name, value) in &spec.secrets {
        if let Some(problem) = db.dialect.text_problem(name, value.expose()) {
            return Err(DriverError::permanent(
                TARGET,
                "write a connection",
                problem,
            ));
        }
    }
    let (id, new) = match db
        .by_attribute(ObjectKind::Connection, OWNER, owner)
        .await?
    {
        Some(id) => {
            db.lock_row(ObjectKind::Connection, id).await?;
            place(db, ObjectKind::Connection, id, in_group, &spec.name).await?;
            db.update_connection(id, parent, &spec.name, &spec.protocol, guacd)
                .await?;
            (id, false)
        }
        None => {
            place(db, ObjectKind::Connection, 0, in_group, &spec.name).await?;
            let id = db
                .insert_connection(parent, &spec.name, &spec.protocol, guacd)
                .await?;
            (id, true)
        }
    };
    let current = db.parameters(id).await?;
    let dropped: Vec<&str> = current
        .keys()
        .filter(|name| {
            if is_secret(name) {
                (write_secrets || new) && !spec.secrets.contains_key(*name)
            } else {
                !spec.parameters.contains_key(*name)
            }
        })
        .map(String::as_str)
        .collect();
    let changed: Vec<(&str, &str)> = spec
        .parameters
        .iter()
        .filter(|(name, value)| current.get(*name) != Some(value))
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    db.delete_parameters(id, &dropped).await?;
    db.set_parameters(id, &changed).await?;
    if write_secrets || new {
        let secrets: Vec<(&str, &str)> = spec
            .secrets
            .iter()
            .map(|(name, value)| (name.as_str(), value.expose()))
            .collect();
        // The database's message could quote the value.
        db.set_parameters(id, &secrets).await.map_err(|e| {
            let names: Vec<&str> = secrets.iter().map(|(name, _)| *name).collect();
            DriverError::new(
                e.class,
                TARGET,
                "write a secret",
                format!("Guacamole's database refused the {}", names.join(" or ")),
            )
        })?;
    }
    let mut marks = vec![
        (RESOURCE.to_string(), spec.resource.clone()),
        (
            FOLLOWS.to_string(),
            spec.follows_resource_secret.then(|| "1".to_string()),
        ),
        (PLACEMENT.to_string(), spec.placement.clone()),
    ];
    if new {
        marks.push((OWNER.to_string(), Some(owner.to_string())));
        db.add_attributes(ObjectKind::Connection, id, &marks)
            .await?;
    } else {
        db.set_attributes(ObjectKind::Connection, id, &marks)
            .await?;
    }
    Ok(id)
}

/// The body of [`ConsoleRegistry::update_dependents`].
pub(super) async fn update_dependents_in(
    db: &mut Db<'_>,
    resource: &str,
    update: &DependentUpdate,
) -> Result<usize, DriverError> {
    let mut updated = 0;
    for id in db
        .all_by_attribute(ObjectKind::Connection, RESOURCE, resource)
        .await?
    {
        if !db.lock_row(ObjectKind::Connection, id).await? {
            continue;
        }
        let attributes = db.attributes(ObjectKind::Connection, id).await?;
        let explicit = attributes
            .get(OWNER)
            .is_some_and(|o| o.starts_with("connection/"));
        if !explicit {
            continue;
        }
        match update {
            DependentUpdate::Password(secret) if attributes.contains_key(FOLLOWS) => {
                db.set_parameter(id, "password", secret.expose())
                    .await
                    .map_err(|e| {
                        DriverError::new(
                            e.class,
                            TARGET,
                            "write a secret",
                            "Guacamole's database refused the password",
                        )
                    })?;
            }
            DependentUpdate::Password(_) => continue,
            DependentUpdate::Disable => {
                db.delete_parameter(id, "hostname").await?;
                db.delete_parameter(id, "password").await?;
            }
        }
        updated += 1;
    }
    Ok(updated)
}

/// The keys a write of `owner`'s group under `parent` takes.
pub(super) fn group_keys(owner: &str, parent: Parent) -> Vec<LockKey> {
    let mut keys = vec![LockKey::Owner(owner.to_string())];
    if parent == Parent::Root {
        keys.push(LockKey::RootNames);
    }
    keys
}

/// The body of [`ConsoleRegistry::ensure_tree`].
pub(super) async fn ensure_tree_in(
    db: &mut Db<'_>,
    tree: &GroupTree,
    grants: Option<Grants<'_>>,
) -> Result<Vec<ObjectId>, DriverError> {
    let (top, new) = ensure_group_in(db, &tree.top.owner, tree.parent, &tree.top.name).await?;
    let mut ids = vec![top];
    for child in &tree.children {
        let in_top = Parent::Group(top);
        ids.push(if new {
            // A group made just now is empty: nothing to find or clash with.
            create_group_in(db, &child.owner, in_top, &child.name).await?
        } else {
            ensure_group_in(db, &child.owner, in_top, &child.name)
                .await?
                .0
        });
    }
    if let Some(grants) = grants {
        if new {
            // A group made just now holds only its children, made with it:
            // no grants or records to read first.
            for id in &ids {
                db.set_grants(ObjectRef::group(*id), grants.source, grants.wanted, None)
                    .await?;
            }
        } else {
            for object in owned_subtree_in(db, top).await? {
                grants_in(db, object, grants.source, grants.wanted).await?;
            }
        }
    }
    Ok(ids)
}

/// The body of [`ConsoleRegistry::root_group`].
pub(super) async fn root_group_in(
    db: &mut Db<'_>,
    owner: &str,
    name: &str,
) -> Result<ObjectId, DriverError> {
    Ok(
        match db.by_attribute(ObjectKind::Group, OWNER, owner).await? {
            Some(id) => id,
            None => match db.by_name(ObjectKind::Group, Parent::Root, name).await? {
                // An operator's own group: used as a parent, never changed.
                Some(id) => id,
                None => create_group_in(db, owner, Parent::Root, name).await?,
            },
        },
    )
}

/// The body of [`ConsoleRegistry::ensure_group`]: the group's id, and
/// whether it was made just now.
pub(super) async fn ensure_group_in(
    db: &mut Db<'_>,
    owner: &str,
    parent: Parent,
    name: &str,
) -> Result<(ObjectId, bool), DriverError> {
    Ok(
        match db.by_attribute(ObjectKind::Group, OWNER, owner).await? {
            Some(id) => {
                if db.name_and_parent(ObjectKind::Group, id).await?
                    != Some((name.to_string(), parent))
                {
                    place(db, ObjectKind::Group, id, parent, name).await?;
                    db.update_group(id, parent, name).await?;
                }
                (id, false)
            }
            None => {
                // 0 is no object's id: any holder of the name clashes.
                place(db, ObjectKind::Group, 0, parent, name).await?;
                (create_group_in(db, owner, parent, name).await?, true)
            }
        },
    )
}

/// Makes `owner`'s group, its name already checked.
async fn create_group_in(
    db: &mut Db<'_>,
    owner: &str,
    parent: Parent,
    name: &str,
) -> Result<ObjectId, DriverError> {
    let id = db.insert_group(parent, name).await?;
    let mark = [(OWNER.to_string(), Some(owner.to_string()))];
    db.add_attributes(ObjectKind::Group, id, &mark).await?;
    Ok(id)
}

/// The body of [`ConsoleRegistry::set_grants`], the object's row locked
/// so that two sources' grants on it never overwrite each other's records.
pub(super) async fn grants_in(
    db: &mut Db<'_>,
    object: ObjectRef,
    source: &str,
    wanted: &Principals,
) -> Result<(), DriverError> {
    let noun = tables(object.kind).noun;
    if !db.lock_row(object.kind, object.id).await? {
        return Err(DriverError::not_found(
            TARGET,
            "set READ grants",
            format!("{noun} {} no longer exists", object.id),
        ));
    }
    let attributes = db.attributes(object.kind, object.id).await?;
    if !attributes.contains_key(OWNER) {
        return Err(DriverError::permanent(
            TARGET,
            "set READ grants",
            format!("the agent did not create {noun} {}", object.id),
        ));
    }
    db.set_grants(object, source, wanted, Some(&attributes))
        .await
}

/// Every object the agent made under group `root`, `root` included.
pub(super) async fn owned_subtree_in(
    db: &mut Db<'_>,
    root: ObjectId,
) -> Result<Vec<ObjectRef>, DriverError> {
    let mut found = Vec::new();
    let mut pending = vec![root];
    if db.name_and_parent(ObjectKind::Group, root).await?.is_none() {
        return Ok(found);
    }
    found.push(ObjectRef::group(root));
    while let Some(group) = pending.pop() {
        for (kind, id, _) in db.children(group).await? {
            if db.attributes(kind, id).await?.contains_key(OWNER) {
                found.push(ObjectRef { kind, id });
                if kind == ObjectKind::Group {
                    pending.push(id);
                }
            }
        }
    }
    Ok(found)
}

/// The body of [`ConsoleRegistry::delete_owned`].
pub(super) async fn delete_owned_in(db: &mut Db<'_>, owner: &str) -> Result<bool, DriverError> {
    let found = match db.by_attribute(ObjectKind::Group, OWNER, owner).await? {
        Some(id) => Some(ObjectRef::group(id)),
        None => db
            .by_attribute(ObjectKind::Connection, OWNER, owner)
            .await?
            .map(ObjectRef::connection),
    };
    let Some(object) = found else {
        return Ok(false);
    };
    let foreign = match object.kind {
        ObjectKind::Group => foreign_descendants(db, object.id).await?,
        ObjectKind::Connection => sharing_profiles(db, object.id).await?,
    };
    if !foreign.is_empty() {
        return Err(DriverError::permanent(
            TARGET,
            "delete",
            format!(
                "{} {} holds objects the agent did not create ({}); move or delete \
                 them in Guacamole first",
                tables(object.kind).noun,
                object.id,
                foreign.join(", ")
            ),
        ));
    }
    db.delete(object.kind, object.id).await?;
    Ok(true)
}

/// Names of the objects under `group` (at any depth) without the agent's
/// owner mark.
async fn foreign_descendants(db: &mut Db<'_>, group: ObjectId) -> Result<Vec<String>, DriverError> {
    let mut foreign = Vec::new();
    let mut pending = vec![group];
    while let Some(group) = pending.pop() {
        for (kind, id, name) in db.children(group).await? {
            if db.attributes(kind, id).await?.contains_key(OWNER) {
                if kind == ObjectKind::Group {
                    pending.push(id);
                }
                if kind == ObjectKind::Connection {
                    foreign.extend(sharing_profiles(db, id).await?);
                }
            } else {
                foreign.push(format!("{} {name:?}", tables(kind).noun));
            }
        }
    }
    Ok(foreign)
}

/// A connection's sharing profiles, which only the web app makes.
async fn sharing_profiles(
    db: &mut Db<'_>,
    connection: ObjectId,
) -> Result<Vec<String>, DriverError> {
    Ok(db
        .sharing_profiles(connection)
        .await?
        .into_iter()
        .map(|name| format!("sharing profile {name:?}"))
        .collect())
}

//! The console registry on Guacamole's own database (its JDBC schema, 1.4
//! to 1.6, on MySQL/MariaDB or PostgreSQL), through sqlx.
//!
//! Every change runs in one transaction under a database-wide write lock
//! (an advisory lock on PostgreSQL, a named lock on MySQL), so agents
//! sharing the database never race: the schema's unique keys reject two
//! objects with one name in a group, but not two at the root, so the agent
//! checks names itself, under the lock.

mod grants;
mod objects;
mod sql;

use std::collections::BTreeMap;

use async_trait::async_trait;
use sqlx::AnyPool;

use self::objects::{tables, Db, FOLLOWS, OWNER, PLACEMENT, RESOURCE};
use self::sql::{classify, Dialect, LockKey, Locked, TARGET};
use crate::credentials::Secret;
use crate::drivers::console::{
    ConnectionSpec, ConsoleRegistry, DependentUpdate, Grants, GroupTree, LiveConnection, LiveGroup,
    ObjectId, ObjectKind, ObjectRef, OwnedGroup, Parent, Principals,
};
use crate::drivers::error::{DriverError, ErrorClass};
use crate::drivers::observe::observed as observe;

/// Runs of one write transaction that failed transiently: see
/// [`GuacamoleDb::write`].
const WRITE_ATTEMPTS: u32 = 3;

type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Parameters that hold secrets: written, never read back.
fn is_secret(name: &str) -> bool {
    giif_proto::guacamole::is_secret(name)
}

/// Runs `$work` (a future using `$db`, the transaction's [`Db`]) in one
/// transaction holding the [`LockKey`]s `$keys`, and commits it. A
/// transaction that failed transiently after taking its locks (a unique
/// key another writer filled first, a deadlock the database broke) runs
/// again at once, [`WRITE_ATTEMPTS`] times in all: the next run reads what
/// the other writer committed and decides anew. (A macro: an async closure
/// borrowing the transaction cannot be proven `Send` for `async_trait`.)
macro_rules! in_transaction {
    ($registry:expr, $keys:expr, |$db:ident| $work:expr) => {{
        let mut attempt = 1;
        loop {
            let mut locked = Locked::acquire(&$registry.pool, $registry.dialect, $keys).await?;
            let done = {
                let $db = &mut db(&mut locked)?;
                $work.await
            };
            match done {
                Ok(value) => {
                    locked.commit().await?;
                    break Ok(value);
                }
                Err(err) if err.class == ErrorClass::Transient && attempt < WRITE_ATTEMPTS => {
                    tracing::debug!(error = %err, attempt, "a Guacamole write runs again");
                    attempt += 1;
                }
                Err(err) => break Err(err),
            }
        }
    }};
}

pub struct GuacamoleDb {
    pool: AnyPool,
    dialect: Dialect,
    /// The web app, for client links (no trailing slash).
    public_url: String,
}

impl GuacamoleDb {
    /// `url` is a secret (it holds the database password); errors never
    /// repeat it.
    pub fn new(url: &str, public_url: &str) -> Result<Self, DriverError> {
        let dialect = Dialect::of_url(url)
            .map_err(|why| DriverError::permanent(TARGET, "open the database", why))?;
        Ok(Self {
            pool: sql::pool(url)?,
            dialect,
            public_url: public_url.trim_end_matches('/').to_string(),
        })
    }

    /// The ids of `tree`'s groups when all exist as wanted (one query, no
    /// lock): what a converge of an unchanged project finds.
    async fn tree_as_wanted(&self, tree: &GroupTree) -> Result<Option<Vec<ObjectId>>, DriverError> {
        let owners: Vec<String> = std::iter::once(&tree.top)
            .chain(&tree.children)
            .map(|g| g.owner.clone())
            .collect();
        let found = self.owned_groups(&owners).await?;
        let as_wanted = |group: &OwnedGroup, parent: Parent| {
            found
                .get(&group.owner)
                .filter(|live| live.name == group.name && live.parent == parent)
                .map(|live| live.id)
        };
        let Some(top) = as_wanted(&tree.top, tree.parent) else {
            return Ok(None);
        };
        let mut ids = vec![top];
        for child in &tree.children {
            match as_wanted(child, Parent::Group(top)) {
                Some(id) => ids.push(id),
                None => return Ok(None),
            }
        }
        Ok(Some(ids))
    }

    async fn read<T>(
        &self,
        action: &str,
        f: impl for<'a> FnOnce(Db<'a>) -> BoxFuture<'a, Result<T, DriverError>>,
    ) -> Result<T, DriverError> {
        let mut conn = self.pool.acquire().await.map_err(|e| classify(action, e))?;
        f(Db {
            conn: &mut conn,
            dialect: self.dialect,
        })
        .await
    }
}

fn db(locked: &mut Locked) -> Result<Db<'_>, DriverError> {
    let dialect = locked.dialect;
    Ok(Db {
        conn: &mut **locked.conn()?,
        dialect,
    })
}

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

#[async_trait]
impl ConsoleRegistry for GuacamoleDb {
    async fn ensure_group(
        &self,
        owner: &str,
        parent: Parent,
        name: &str,
    ) -> Result<ObjectId, DriverError> {
        observe(TARGET, "ensure connection group", async {
            let keys = group_keys(owner, parent);
            in_transaction!(self, &keys, |db| async {
                Ok::<_, DriverError>(ensure_group_in(db, owner, parent, name).await?.0)
            })
        })
        .await
    }

    async fn ensure_tree(
        &self,
        tree: &GroupTree,
        grants: Option<Grants<'_>>,
    ) -> Result<Vec<ObjectId>, DriverError> {
        observe(TARGET, "ensure a group tree", async {
            if grants.is_none() {
                if let Some(ids) = self.tree_as_wanted(tree).await? {
                    return Ok(ids);
                }
            }
            // The top's key covers the children: they are only ever
            // written with it.
            let keys = group_keys(&tree.top.owner, tree.parent);
            in_transaction!(self, &keys, |db| ensure_tree_in(db, tree, grants))
        })
        .await
    }

    async fn root_group(&self, owner: &str, name: &str) -> Result<ObjectId, DriverError> {
        observe(TARGET, "ensure root group", async {
            // Made once per database: every later call only reads.
            let mark = owner.to_string();
            let found = self
                .read("find the root group", move |mut db| {
                    Box::pin(async move { db.by_attribute(ObjectKind::Group, OWNER, &mark).await })
                })
                .await?;
            if let Some(id) = found {
                return Ok(id);
            }
            let keys = group_keys(owner, Parent::Root);
            in_transaction!(self, &keys, |db| root_group_in(db, owner, name))
        })
        .await
    }

    async fn ensure_connection(
        &self,
        owner: &str,
        parent: ObjectId,
        spec: &ConnectionSpec,
        write_secrets: bool,
    ) -> Result<ObjectId, DriverError> {
        observe(TARGET, "ensure connection", async {
            in_transaction!(self, &[LockKey::Owner(owner.to_string())], |db| {
                ensure_connection_in(db, owner, parent, spec, write_secrets)
            })
        })
        .await
    }

    async fn update_dependents(
        &self,
        resource: &str,
        update: &DependentUpdate,
    ) -> Result<usize, DriverError> {
        observe(TARGET, "update connections to a resource", async {
            in_transaction!(self, &[], |db| update_dependents_in(db, resource, update))
        })
        .await
    }
    async fn secret(&self, owner: &str, parameter: &str) -> Result<Option<Secret>, DriverError> {
        let (owner, parameter) = (owner.to_string(), parameter.to_string());
        self.read("read a connection secret", move |mut db| {
            Box::pin(async move {
                let Some(id) = db
                    .by_attribute(ObjectKind::Connection, OWNER, &owner)
                    .await?
                else {
                    return Ok(None);
                };
                Ok(db.parameters(id).await?.remove(&parameter).map(Secret::new))
            })
        })
        .await
    }

    async fn find_owned(&self, owner: &str) -> Result<Option<ObjectRef>, DriverError> {
        let owner = owner.to_string();
        self.read("find an object by its owner", move |mut db| {
            Box::pin(async move {
                if let Some(id) = db.by_attribute(ObjectKind::Group, OWNER, &owner).await? {
                    return Ok(Some(ObjectRef::group(id)));
                }
                Ok(db
                    .by_attribute(ObjectKind::Connection, OWNER, &owner)
                    .await?
                    .map(ObjectRef::connection))
            })
        })
        .await
    }

    async fn owned_groups(
        &self,
        owners: &[String],
    ) -> Result<BTreeMap<String, LiveGroup>, DriverError> {
        let owners = owners.to_vec();
        self.read("find groups by owner", move |mut db| {
            Box::pin(async move {
                let owners: Vec<&str> = owners.iter().map(String::as_str).collect();
                Ok(db
                    .groups_by_owner(&owners)
                    .await?
                    .into_iter()
                    .map(|(owner, (id, name, parent))| {
                        let group = LiveGroup {
                            id,
                            name,
                            parent,
                            owner: Some(owner.clone()),
                        };
                        (owner, group)
                    })
                    .collect())
            })
        })
        .await
    }

    async fn owned_connections(&self, prefix: &str) -> Result<Vec<ObjectId>, DriverError> {
        let prefix = prefix.to_string();
        self.read("list owned connections", move |mut db| {
            Box::pin(async move {
                db.all_by_attribute_prefix(ObjectKind::Connection, OWNER, &prefix)
                    .await
            })
        })
        .await
    }

    async fn connection(&self, id: ObjectId) -> Result<Option<LiveConnection>, DriverError> {
        self.read("read a connection", move |mut db| {
            Box::pin(async move {
                let Some((name, parent)) = db.name_and_parent(ObjectKind::Connection, id).await?
                else {
                    return Ok(None);
                };
                let protocol = db.protocol(id).await?.unwrap_or_default();
                let parameters: BTreeMap<String, String> = db
                    .parameters(id)
                    .await?
                    .into_iter()
                    .filter(|(name, _)| !is_secret(name))
                    .collect();
                let attributes = db.attributes(ObjectKind::Connection, id).await?;
                let readers = db.readers(ObjectRef::connection(id)).await?;
                let grants = grants::held_by_source(&grants::recorded(&attributes)?, &readers);
                Ok(Some(LiveConnection {
                    id,
                    name,
                    parent,
                    protocol,
                    parameters,
                    owner: attributes.get(OWNER).cloned(),
                    resource: attributes.get(RESOURCE).cloned(),
                    placement: attributes.get(PLACEMENT).cloned(),
                    grants,
                }))
            })
        })
        .await
    }

    async fn group(&self, id: ObjectId) -> Result<Option<LiveGroup>, DriverError> {
        self.read("read a connection group", move |mut db| {
            Box::pin(async move {
                let Some((name, parent)) = db.name_and_parent(ObjectKind::Group, id).await? else {
                    return Ok(None);
                };
                let owner = db.attributes(ObjectKind::Group, id).await?.remove(OWNER);
                Ok(Some(LiveGroup {
                    id,
                    name,
                    parent,
                    owner,
                }))
            })
        })
        .await
    }

    async fn delete_owned(&self, owner: &str) -> Result<bool, DriverError> {
        observe(TARGET, "delete", async {
            in_transaction!(self, &[LockKey::Owner(owner.to_string())], |db| {
                delete_owned_in(db, owner)
            })
        })
        .await
    }

    async fn owned_subtree(&self, root: ObjectId) -> Result<Vec<ObjectRef>, DriverError> {
        self.read("list a group", move |mut db| {
            Box::pin(async move { owned_subtree_in(&mut db, root).await })
        })
        .await
    }

    async fn set_grants(
        &self,
        object: ObjectRef,
        source: &str,
        wanted: &Principals,
    ) -> Result<(), DriverError> {
        observe(TARGET, "set READ grants", async {
            in_transaction!(self, &[], |db| grants_in(db, object, source, wanted))
        })
        .await
    }

    async fn missing(&self, wanted: &Principals) -> Result<Principals, DriverError> {
        let wanted = wanted.clone();
        self.read("look up users", move |mut db| {
            Box::pin(async move { db.missing(&wanted).await })
        })
        .await
    }

    fn client_url(&self, object: ObjectRef) -> String {
        client_url(&self.public_url, object, self.dialect)
    }
}

/// The body of [`ConsoleRegistry::ensure_connection`].
async fn ensure_connection_in(
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
async fn update_dependents_in(
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
fn group_keys(owner: &str, parent: Parent) -> Vec<LockKey> {
    let mut keys = vec![LockKey::Owner(owner.to_string())];
    if parent == Parent::Root {
        keys.push(LockKey::RootNames);
    }
    keys
}

/// The body of [`ConsoleRegistry::ensure_tree`].
async fn ensure_tree_in(
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
                db.set_grants(ObjectRef::group(*id), grants.source, grants.wanted, true)
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
async fn root_group_in(db: &mut Db<'_>, owner: &str, name: &str) -> Result<ObjectId, DriverError> {
    Ok(
        match db.by_attribute(ObjectKind::Group, OWNER, owner).await? {
            Some(id) => id,
            None => match db.by_name(ObjectKind::Group, Parent::Root, name).await? {
                // An operator's own group: used as a parent, never changed.
                Some(id) => id,
                None => {
                    let id = db.insert_group(Parent::Root, name).await?;
                    db.set_attribute(ObjectKind::Group, id, OWNER, Some(owner))
                        .await?;
                    id
                }
            },
        },
    )
}

/// The body of [`ConsoleRegistry::ensure_group`]: the group's id, and
/// whether it was made just now.
async fn ensure_group_in(
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
async fn grants_in(
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
    if !db
        .attributes(object.kind, object.id)
        .await?
        .contains_key(OWNER)
    {
        return Err(DriverError::permanent(
            TARGET,
            "set READ grants",
            format!("the agent did not create {noun} {}", object.id),
        ));
    }
    db.set_grants(object, source, wanted, false).await
}

/// Every object the agent made under group `root`, `root` included.
async fn owned_subtree_in(db: &mut Db<'_>, root: ObjectId) -> Result<Vec<ObjectRef>, DriverError> {
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
async fn delete_owned_in(db: &mut Db<'_>, owner: &str) -> Result<bool, DriverError> {
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

/// Guacamole's web app opens `#/client/<id>`, where the id is the base64
/// of the object id, its type (`c` connection, `g` group) and the data
/// source, NUL-separated.
fn client_url(public_url: &str, object: ObjectRef, dialect: Dialect) -> String {
    use base64::Engine;
    let kind = match object.kind {
        ObjectKind::Connection => 'c',
        ObjectKind::Group => 'g',
    };
    let raw = format!("{}\0{kind}\0{}", object.id, dialect.data_source());
    let token = base64::engine::general_purpose::STANDARD.encode(raw);
    format!("{public_url}/#/client/{token}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_links_name_the_object_and_the_data_source() {
        let url = client_url(
            "https://console.example.org/guacamole",
            ObjectRef::connection(42),
            Dialect::MySql,
        );
        // base64("42\0c\0mysql")
        assert_eq!(
            url,
            "https://console.example.org/guacamole/#/client/NDIAYwBteXNxbA=="
        );
        let url = client_url("https://g", ObjectRef::group(7), Dialect::Postgres);
        assert_eq!(url, "https://g/#/client/NwBnAHBvc3RncmVzcWw=");
    }
}

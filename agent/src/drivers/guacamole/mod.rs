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
use self::sql::{classify, Dialect, Locked, TARGET};
use crate::credentials::Secret;
use crate::drivers::console::{
    ConnectionSpec, ConsoleRegistry, DependentUpdate, LiveConnection, LiveGroup, ObjectId,
    ObjectKind, ObjectRef, Parent, Principals,
};
use crate::drivers::error::DriverError;
use crate::drivers::observe::observed as observe;

type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Parameters that hold secrets: written, never read back.
fn is_secret(name: &str) -> bool {
    giif_proto::guacamole::is_secret(name)
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

    async fn lock(&self) -> Result<Locked, DriverError> {
        Locked::acquire(&self.pool, self.dialect).await
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
            let mut locked = self.lock().await?;
            let mut db = db(&mut locked)?;
            let id = match db.by_attribute(ObjectKind::Group, OWNER, owner).await? {
                Some(id) => {
                    if db.name_and_parent(ObjectKind::Group, id).await?
                        != Some((name.to_string(), parent))
                    {
                        place(&mut db, ObjectKind::Group, id, parent, name).await?;
                        db.update_group(id, parent, name).await?;
                    }
                    id
                }
                None => {
                    // 0 is no object's id: any holder of the name clashes.
                    place(&mut db, ObjectKind::Group, 0, parent, name).await?;
                    let id = db.insert_group(parent, name).await?;
                    db.set_attribute(ObjectKind::Group, id, OWNER, Some(owner))
                        .await?;
                    id
                }
            };
            locked.commit().await?;
            Ok(id)
        })
        .await
    }

    async fn root_group(&self, owner: &str, name: &str) -> Result<ObjectId, DriverError> {
        observe(TARGET, "ensure root group", async {
            let mut locked = self.lock().await?;
            let mut db = db(&mut locked)?;
            let id = match db.by_attribute(ObjectKind::Group, OWNER, owner).await? {
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
            };
            locked.commit().await?;
            Ok(id)
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
            let mut locked = self.lock().await?;
            let mut db = db(&mut locked)?;
            let in_group = Parent::Group(parent);
            let guacd = spec.guacd.as_ref();
            for (name, value) in &spec.parameters {
                if let Some(problem) = db.dialect.text_problem(&format!("parameter {name}"), value)
                {
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
                    place(&mut db, ObjectKind::Connection, id, in_group, &spec.name).await?;
                    db.update_connection(id, parent, &spec.name, &spec.protocol, guacd)
                        .await?;
                    (id, false)
                }
                None => {
                    place(&mut db, ObjectKind::Connection, 0, in_group, &spec.name).await?;
                    let id = db
                        .insert_connection(parent, &spec.name, &spec.protocol, guacd)
                        .await?;
                    db.set_attribute(ObjectKind::Connection, id, OWNER, Some(owner))
                        .await?;
                    (id, true)
                }
            };
            let current = db.parameters(id).await?;
            for name in current.keys() {
                let secret = is_secret(name);
                let keep = if secret {
                    !(write_secrets || new) || spec.secrets.contains_key(name)
                } else {
                    spec.parameters.contains_key(name)
                };
                if !keep {
                    db.delete_parameter(id, name).await?;
                }
            }
            for (name, value) in &spec.parameters {
                if current.get(name) != Some(value) {
                    db.set_parameter(id, name, value).await?;
                }
            }
            if write_secrets || new {
                for (name, value) in &spec.secrets {
                    // The database's message could quote the value.
                    db.set_parameter(id, name, value.expose())
                        .await
                        .map_err(|e| {
                            DriverError::new(
                                e.class,
                                TARGET,
                                "write a secret",
                                format!("Guacamole's database refused the {name}"),
                            )
                        })?;
                }
            }
            db.set_attribute(
                ObjectKind::Connection,
                id,
                RESOURCE,
                spec.resource.as_deref(),
            )
            .await?;
            db.set_attribute(
                ObjectKind::Connection,
                id,
                FOLLOWS,
                spec.follows_resource_secret.then_some("1"),
            )
            .await?;
            db.set_attribute(
                ObjectKind::Connection,
                id,
                PLACEMENT,
                spec.placement.as_deref(),
            )
            .await?;
            locked.commit().await?;
            Ok(id)
        })
        .await
    }

    async fn update_dependents(
        &self,
        resource: &str,
        update: &DependentUpdate,
    ) -> Result<usize, DriverError> {
        observe(TARGET, "update connections to a resource", async {
            let mut locked = self.lock().await?;
            let mut db = db(&mut locked)?;
            let mut updated = 0;
            for id in db
                .all_by_attribute(ObjectKind::Connection, RESOURCE, resource)
                .await?
            {
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
            locked.commit().await?;
            Ok(updated)
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
            let mut locked = self.lock().await?;
            let mut db = db(&mut locked)?;
            let found = match db.by_attribute(ObjectKind::Group, OWNER, owner).await? {
                Some(id) => Some(ObjectRef::group(id)),
                None => db
                    .by_attribute(ObjectKind::Connection, OWNER, owner)
                    .await?
                    .map(ObjectRef::connection),
            };
            let Some(object) = found else {
                locked.rollback().await?;
                return Ok(false);
            };
            {
                let foreign = match object.kind {
                    ObjectKind::Group => foreign_descendants(&mut db, object.id).await?,
                    ObjectKind::Connection => sharing_profiles(&mut db, object.id).await?,
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
            }
            db.delete(object.kind, object.id).await?;
            locked.commit().await?;
            Ok(true)
        })
        .await
    }

    async fn owned_subtree(&self, root: ObjectId) -> Result<Vec<ObjectRef>, DriverError> {
        self.read("list a group", move |mut db| {
            Box::pin(async move {
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
            })
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
            let mut locked = self.lock().await?;
            let mut db = db(&mut locked)?;
            if db.name_and_parent(object.kind, object.id).await?.is_none() {
                return Err(DriverError::not_found(
                    TARGET,
                    "set READ grants",
                    format!(
                        "{} {} no longer exists",
                        tables(object.kind).noun,
                        object.id
                    ),
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
                    format!(
                        "the agent did not create {} {}",
                        tables(object.kind).noun,
                        object.id
                    ),
                ));
            }
            db.set_grants(object, source, wanted).await?;
            locked.commit().await
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

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
mod writes;

use std::collections::BTreeMap;

use async_trait::async_trait;
use sqlx::AnyPool;

use self::objects::{Db, OWNER, PLACEMENT, RESOURCE};
use self::sql::{classify, Dialect, LockKey, Locked, TARGET};
use self::writes::{
    delete_owned_in, ensure_connection_in, ensure_group_in, ensure_tree_in, grants_in, group_keys,
    owned_subtree_in, root_group_in, update_dependents_in,
};
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

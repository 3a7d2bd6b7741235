//! READ grants on groups and connections. The agent keeps one attribute
//! row per principal it granted (`giif-grant-<hash>`), saying for which
//! sources (project membership, a connection's own users) and whether the
//! agent inserted the permission row itself. It only ever deletes a row it
//! inserted, once no source wants it: a grant an administrator gave first
//! is never revoked, and a principal deleted in Guacamole is simply dropped.

use std::collections::{BTreeMap, BTreeSet};

use sha2::Digest;

use super::objects::{tables, Db};
use super::sql::{classify, placeholders, TARGET};
use crate::drivers::console::{ObjectRef, Principals};
use crate::drivers::error::DriverError;

const PREFIX: &str = "giif-grant-";

/// Guacamole's entity types.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Entity {
    User,
    Group,
}

impl Entity {
    fn literal(self) -> &'static str {
        match self {
            Entity::User => "'USER'",
            Entity::Group => "'USER_GROUP'",
        }
    }
    fn noun(self) -> &'static str {
        match self {
            Entity::User => "user",
            Entity::Group => "user group",
        }
    }
}

/// What the agent remembers of one principal's READ on one object.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Grant {
    pub entity: Entity,
    pub name: String,
    pub sources: BTreeSet<String>,
    /// The agent inserted the permission row (else it was there before).
    pub inserted: bool,
}

fn attribute_name(entity: Entity, name: &str) -> String {
    let mut hash = sha2::Sha256::new();
    hash.update(if entity == Entity::User {
        b"u\0"
    } else {
        b"g\0"
    });
    hash.update(name.as_bytes());
    format!("{PREFIX}{}", &hex::encode(hash.finalize())[..24])
}

/// The agent's grant records among an object's attributes.
pub fn recorded(attributes: &BTreeMap<String, String>) -> Result<Vec<Grant>, DriverError> {
    attributes
        .iter()
        .filter(|(name, _)| name.starts_with(PREFIX))
        .map(|(name, value)| {
            serde_json::from_str(value).map_err(|e| {
                DriverError::permanent(
                    TARGET,
                    "read grants",
                    format!("the agent's grant record {name} is unreadable ({e}); was it edited by hand?"),
                )
            })
        })
        .collect()
}

/// Per source, the principals it granted that still hold READ.
pub fn held_by_source(grants: &[Grant], readers: &Principals) -> BTreeMap<String, Principals> {
    let mut by_source: BTreeMap<String, Principals> = BTreeMap::new();
    for grant in grants {
        let holds = match grant.entity {
            Entity::User => readers.users.contains(&grant.name),
            Entity::Group => readers.groups.contains(&grant.name),
        };
        for source in &grant.sources {
            let entry = by_source.entry(source.clone()).or_default();
            if holds {
                match grant.entity {
                    Entity::User => entry.users.insert(grant.name.clone()),
                    Entity::Group => entry.groups.insert(grant.name.clone()),
                };
            }
        }
    }
    by_source
}

fn wanted_entities(wanted: &Principals) -> BTreeSet<(Entity, String)> {
    wanted
        .users
        .iter()
        .map(|u| (Entity::User, u.clone()))
        .chain(wanted.groups.iter().map(|g| (Entity::Group, g.clone())))
        .collect()
}

impl Db<'_> {
    /// The entity ids of the principals in `wanted` that exist, spelled
    /// exactly (MySQL's collation would also match other cases and
    /// trailing spaces): one query per entity type.
    async fn entity_ids(
        &mut self,
        wanted: &BTreeSet<(Entity, String)>,
    ) -> Result<BTreeMap<(Entity, String), i64>, DriverError> {
        let mut found = BTreeMap::new();
        for entity in [Entity::User, Entity::Group] {
            let names: Vec<&str> = wanted
                .iter()
                .filter(|(e, _)| *e == entity)
                .map(|(_, name)| name.as_str())
                .collect();
            // Bounded statements: a project may have hundreds of members.
            for chunk in names.chunks(500) {
                let sql = self.dialect.sql(&format!(
                    "SELECT entity_id, name FROM guacamole_entity WHERE type = {} AND name IN ({})",
                    entity.literal(),
                    placeholders(chunk.len())
                ));
                let mut query = sqlx::query_as(&sql);
                for name in chunk {
                    query = query.bind(*name);
                }
                let rows: Vec<(i64, String)> = query
                    .fetch_all(&mut *self.conn)
                    .await
                    .map_err(|e| classify("look up users", e))?;
                for (id, name) in rows {
                    if chunk.contains(&name.as_str()) {
                        found.insert((entity, name), id);
                    }
                }
            }
        }
        Ok(found)
    }

    pub async fn missing(&mut self, wanted: &Principals) -> Result<Principals, DriverError> {
        let wanted = wanted_entities(wanted);
        let found = self.entity_ids(&wanted).await?;
        let mut missing = Principals::default();
        for (entity, name) in wanted {
            if !found.contains_key(&(entity, name.clone())) {
                match entity {
                    Entity::User => missing.users.insert(name),
                    Entity::Group => missing.groups.insert(name),
                };
            }
        }
        Ok(missing)
    }

    /// Principals holding READ on `object` now.
    pub async fn readers(&mut self, object: ObjectRef) -> Result<Principals, DriverError> {
        let t = tables(object.kind);
        let mut found = Principals::default();
        for entity in [Entity::User, Entity::Group] {
            let sql = self.dialect.sql(&format!(
                "SELECT e.name FROM {perm} p JOIN guacamole_entity e ON e.entity_id = p.entity_id \
                 WHERE p.{id} = ? AND p.permission = 'READ' AND e.type = {ty}",
                perm = t.permission,
                id = t.id,
                ty = entity.literal()
            ));
            let rows: Vec<(String,)> = sqlx::query_as(&sql)
                .bind(object.id)
                .fetch_all(&mut *self.conn)
                .await
                .map_err(|e| classify("read permissions", e))?;
            let names = rows.into_iter().map(|(name,)| name);
            match entity {
                Entity::User => found.users.extend(names),
                Entity::Group => found.groups.extend(names),
            }
        }
        Ok(found)
    }

    /// The entity ids holding READ on `object` now.
    async fn holders(&mut self, object: ObjectRef) -> Result<BTreeSet<i64>, DriverError> {
        let t = tables(object.kind);
        let sql = self.dialect.sql(&format!(
            "SELECT entity_id FROM {perm} WHERE {id} = ? AND permission = 'READ'",
            perm = t.permission,
            id = t.id
        ));
        let rows: Vec<(i64,)> = sqlx::query_as(&sql)
            .bind(object.id)
            .fetch_all(&mut *self.conn)
            .await
            .map_err(|e| classify("read permissions", e))?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Grants (or revokes) READ on `object` to the entities `ids`.
    async fn permissions(
        &mut self,
        object: ObjectRef,
        ids: &[i64],
        grant: bool,
    ) -> Result<(), DriverError> {
        let t = tables(object.kind);
        for chunk in ids.chunks(500) {
            let sql = if grant {
                format!(
                    "INSERT INTO {perm} (entity_id, {id}, permission) VALUES {}",
                    vec!["(?, ?, 'READ')"; chunk.len()].join(", "),
                    perm = t.permission,
                    id = t.id
                )
            } else {
                format!(
                    "DELETE FROM {perm} WHERE {id} = ? AND permission = 'READ' AND entity_id IN ({})",
                    placeholders(chunk.len()),
                    perm = t.permission,
                    id = t.id
                )
            };
            let sql = self.dialect.sql(&sql);
            let mut query = sqlx::query(&sql);
            if grant {
                for entity_id in chunk {
                    query = query.bind(*entity_id).bind(object.id);
                }
            } else {
                query = query.bind(object.id);
                for entity_id in chunk {
                    query = query.bind(*entity_id);
                }
            }
            query
                .execute(&mut *self.conn)
                .await
                .map_err(|e| classify(if grant { "grant READ" } else { "revoke READ" }, e))?;
        }
        Ok(())
    }

    /// Makes the principals `source` gives READ on `object` exactly
    /// `wanted`. Every wanted principal must exist, spelled exactly. A few
    /// statements whatever the number of principals: the lookups, the
    /// permission rows and the agent's records each in one. `attributes`
    /// are the object's as its caller read them; `None` for an object made
    /// in this transaction, which has no grants or records yet.
    pub async fn set_grants(
        &mut self,
        object: ObjectRef,
        source: &str,
        wanted: &Principals,
        attributes: Option<&BTreeMap<String, String>>,
    ) -> Result<(), DriverError> {
        let new = attributes.is_none();
        if new && wanted.is_empty() {
            return Ok(());
        }
        let mut records: BTreeMap<(Entity, String), Grant> = attributes
            .map(recorded)
            .transpose()?
            .unwrap_or_default()
            .into_iter()
            .map(|g| ((g.entity, g.name.clone()), g))
            .collect();
        let wanted = wanted_entities(wanted);
        let mut named = wanted.clone();
        named.extend(
            records
                .iter()
                .filter(|(_, record)| record.sources.contains(source))
                .map(|(key, _)| key.clone()),
        );
        let ids = self.entity_ids(&named).await?;
        if let Some((entity, name)) = wanted.iter().find(|key| !ids.contains_key(*key)) {
            return Err(DriverError::permanent(
                TARGET,
                "grant READ",
                format!(
                    "Guacamole has no {} {name:?} (names are exact, case included)",
                    entity.noun()
                ),
            ));
        }
        let holders = if new {
            BTreeSet::new()
        } else {
            self.holders(object).await?
        };
        let (mut grant, mut revoke, mut changed) = (Vec::new(), Vec::new(), Vec::new());
        for key in &wanted {
            let entity_id = ids[key];
            let known = records.contains_key(key);
            let record = records.entry(key.clone()).or_insert_with(|| Grant {
                entity: key.0,
                name: key.1.clone(),
                sources: BTreeSet::new(),
                inserted: false,
            });
            let before = record.clone();
            if !holders.contains(&entity_id) {
                // Missing: new, or revoked by hand since; the agent's now.
                grant.push(entity_id);
                record.inserted = true;
            }
            record.sources.insert(source.to_string());
            if !known || *record != before {
                changed.push(record.clone());
            }
        }
        for (key, record) in records.iter_mut() {
            if wanted.contains(key) || !record.sources.remove(source) {
                continue;
            }
            if record.sources.is_empty() && record.inserted {
                // A principal deleted in Guacamole has no row left to revoke.
                if let Some(entity_id) = ids.get(key) {
                    revoke.push(*entity_id);
                }
            }
            changed.push(record.clone());
        }
        self.permissions(object, &grant, true).await?;
        self.permissions(object, &revoke, false).await?;
        let values: Vec<(String, Option<String>)> = changed
            .iter()
            .map(|grant| {
                let value = (!grant.sources.is_empty())
                    .then(|| serde_json::to_string(grant).unwrap_or_default());
                (attribute_name(grant.entity, &grant.name), value)
            })
            .collect();
        if new {
            self.add_attributes(object.kind, object.id, &values).await
        } else {
            self.set_attributes(object.kind, object.id, &values).await
        }
    }
}

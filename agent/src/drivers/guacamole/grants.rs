//! READ grants on groups and connections. The agent keeps one attribute
//! row per principal it granted (`giif-grant-<hash>`), saying for which
//! sources (project membership, a connection's own users) and whether the
//! agent inserted the permission row itself. It only ever deletes a row it
//! inserted, once no source wants it: a grant an administrator gave first
//! is never revoked, and a principal deleted in Guacamole is simply dropped.

use std::collections::{BTreeMap, BTreeSet};

use sha2::Digest;

use super::objects::{tables, Db};
use super::sql::{classify, TARGET};
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
    /// The entity id of a user or group spelled exactly `name` (MySQL's
    /// collation would also match other cases and trailing spaces).
    async fn entity_id(&mut self, entity: Entity, name: &str) -> Result<Option<i64>, DriverError> {
        let sql = self.dialect.sql(&format!(
            "SELECT entity_id, name FROM guacamole_entity WHERE type = {} AND name = ?",
            entity.literal()
        ));
        let rows: Vec<(i64, String)> = sqlx::query_as(&sql)
            .bind(name)
            .fetch_all(&mut *self.conn)
            .await
            .map_err(|e| classify("look up a user", e))?;
        Ok(rows.into_iter().find(|(_, n)| n == name).map(|(id, _)| id))
    }

    pub async fn missing(&mut self, wanted: &Principals) -> Result<Principals, DriverError> {
        let mut missing = Principals::default();
        for (entity, name) in wanted_entities(wanted) {
            if self.entity_id(entity, &name).await?.is_none() {
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

    async fn has_read(&mut self, object: ObjectRef, entity_id: i64) -> Result<bool, DriverError> {
        let t = tables(object.kind);
        let sql = self.dialect.sql(&format!(
            "SELECT COUNT(*) FROM {perm} WHERE entity_id = ? AND {id} = ? AND permission = 'READ'",
            perm = t.permission,
            id = t.id
        ));
        let (count,): (i64,) = sqlx::query_as(&sql)
            .bind(entity_id)
            .bind(object.id)
            .fetch_one(&mut *self.conn)
            .await
            .map_err(|e| classify("read permissions", e))?;
        Ok(count > 0)
    }

    async fn permission(
        &mut self,
        object: ObjectRef,
        entity_id: i64,
        grant: bool,
    ) -> Result<(), DriverError> {
        let t = tables(object.kind);
        let sql = if grant {
            format!(
                "INSERT INTO {perm} (entity_id, {id}, permission) VALUES (?, ?, 'READ')",
                perm = t.permission,
                id = t.id
            )
        } else {
            format!(
                "DELETE FROM {perm} WHERE entity_id = ? AND {id} = ? AND permission = 'READ'",
                perm = t.permission,
                id = t.id
            )
        };
        sqlx::query(&self.dialect.sql(&sql))
            .bind(entity_id)
            .bind(object.id)
            .execute(&mut *self.conn)
            .await
            .map_err(|e| classify(if grant { "grant READ" } else { "revoke READ" }, e))?;
        Ok(())
    }

    async fn write_record(&mut self, object: ObjectRef, grant: &Grant) -> Result<(), DriverError> {
        let name = attribute_name(grant.entity, &grant.name);
        let value =
            (!grant.sources.is_empty()).then(|| serde_json::to_string(grant).unwrap_or_default());
        self.set_attribute(object.kind, object.id, &name, value.as_deref())
            .await
    }

    /// Makes the principals `source` gives READ on `object` exactly
    /// `wanted`. Every wanted principal must exist, spelled exactly.
    pub async fn set_grants(
        &mut self,
        object: ObjectRef,
        source: &str,
        wanted: &Principals,
    ) -> Result<(), DriverError> {
        let attributes = self.attributes(object.kind, object.id).await?;
        let mut records: BTreeMap<(Entity, String), Grant> = recorded(&attributes)?
            .into_iter()
            .map(|g| ((g.entity, g.name.clone()), g))
            .collect();
        let wanted = wanted_entities(wanted);
        for (entity, name) in &wanted {
            let Some(entity_id) = self.entity_id(*entity, name).await? else {
                return Err(DriverError::permanent(
                    TARGET,
                    "grant READ",
                    format!(
                        "Guacamole has no {} {name:?} (names are exact, case included)",
                        entity.noun()
                    ),
                ));
            };
            let key = (*entity, name.clone());
            let known = records.contains_key(&key);
            let record = records.entry(key).or_insert_with(|| Grant {
                entity: *entity,
                name: name.clone(),
                sources: BTreeSet::new(),
                inserted: false,
            });
            let before = record.clone();
            if !self.has_read(object, entity_id).await? {
                // Missing: new, or revoked by hand since; the agent's now.
                self.permission(object, entity_id, true).await?;
                record.inserted = true;
            }
            record.sources.insert(source.to_string());
            if !known || *record != before {
                let record = record.clone();
                self.write_record(object, &record).await?;
            }
        }
        for (key, record) in records.iter_mut() {
            if wanted.contains(key) || !record.sources.remove(source) {
                continue;
            }
            if record.sources.is_empty() && record.inserted {
                if let Some(entity_id) = self.entity_id(record.entity, &record.name).await? {
                    self.permission(object, entity_id, false).await?;
                }
            }
            let record = record.clone();
            self.write_record(object, &record).await?;
        }
        Ok(())
    }
}

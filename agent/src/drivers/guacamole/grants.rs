//! READ grants on groups and connections. The agent records what it
//! granted per source in the object's `giif-grants` attribute, so it only
//! ever revokes its own grants, never an administrator's.

use std::collections::{BTreeMap, BTreeSet};

use super::objects::{tables, Db, GRANTS};
use super::sql::classify;
use crate::drivers::console::{ObjectRef, Principals};
use crate::drivers::error::DriverError;

/// Recorded grants: source → principals.
pub type Recorded = BTreeMap<String, RecordedPrincipals>;

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecordedPrincipals {
    #[serde(default)]
    pub users: BTreeSet<String>,
    #[serde(default)]
    pub groups: BTreeSet<String>,
}

impl From<&Principals> for RecordedPrincipals {
    fn from(p: &Principals) -> Self {
        Self {
            users: p.users.clone(),
            groups: p.groups.clone(),
        }
    }
}

/// Guacamole's entity types.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Entity {
    User,
    UserGroup,
}

impl Entity {
    fn literal(self) -> &'static str {
        match self {
            Entity::User => "'USER'",
            Entity::UserGroup => "'USER_GROUP'",
        }
    }
}

pub fn parse_recorded(text: Option<&String>) -> Recorded {
    text.and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_default()
}

fn union(recorded: &Recorded) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut users = BTreeSet::new();
    let mut groups = BTreeSet::new();
    for principals in recorded.values() {
        users.extend(principals.users.iter().cloned());
        groups.extend(principals.groups.iter().cloned());
    }
    (users, groups)
}

impl Db<'_> {
    async fn entity_id(&mut self, entity: Entity, name: &str) -> Result<Option<i64>, DriverError> {
        let sql = self.dialect.sql(&format!(
            "SELECT entity_id FROM guacamole_entity WHERE type = {} AND name = ?",
            entity.literal()
        ));
        let row: Option<(i64,)> = sqlx::query_as(&sql)
            .bind(name)
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(|e| classify("look up a user", e))?;
        Ok(row.map(|(id,)| id))
    }

    pub async fn missing(&mut self, wanted: &Principals) -> Result<Principals, DriverError> {
        let mut missing = Principals::default();
        for user in &wanted.users {
            if self.entity_id(Entity::User, user).await?.is_none() {
                missing.users.insert(user.clone());
            }
        }
        for group in &wanted.groups {
            if self.entity_id(Entity::UserGroup, group).await?.is_none() {
                missing.groups.insert(group.clone());
            }
        }
        Ok(missing)
    }

    /// Principals holding READ on `object` now.
    pub async fn readers(&mut self, object: ObjectRef) -> Result<Principals, DriverError> {
        let t = tables(object.kind);
        let mut found = Principals::default();
        for (entity, into) in [(Entity::User, 0), (Entity::UserGroup, 1)] {
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
            let set = if into == 0 {
                &mut found.users
            } else {
                &mut found.groups
            };
            set.extend(rows.into_iter().map(|(name,)| name));
        }
        Ok(found)
    }

    async fn grant(
        &mut self,
        object: ObjectRef,
        entity: Entity,
        name: &str,
    ) -> Result<(), DriverError> {
        let Some(entity_id) = self.entity_id(entity, name).await? else {
            return Err(DriverError::permanent(
                super::sql::TARGET,
                "grant READ",
                format!("Guacamole has no user or group {name:?}"),
            ));
        };
        let t = tables(object.kind);
        let exists = self.dialect.sql(&format!(
            "SELECT COUNT(*) FROM {perm} WHERE entity_id = ? AND {id} = ? AND permission = 'READ'",
            perm = t.permission,
            id = t.id
        ));
        let (count,): (i64,) = sqlx::query_as(&exists)
            .bind(entity_id)
            .bind(object.id)
            .fetch_one(&mut *self.conn)
            .await
            .map_err(|e| classify("read permissions", e))?;
        if count == 0 {
            let insert = self.dialect.sql(&format!(
                "INSERT INTO {perm} (entity_id, {id}, permission) VALUES (?, ?, 'READ')",
                perm = t.permission,
                id = t.id
            ));
            sqlx::query(&insert)
                .bind(entity_id)
                .bind(object.id)
                .execute(&mut *self.conn)
                .await
                .map_err(|e| classify("grant READ", e))?;
        }
        Ok(())
    }

    async fn revoke(
        &mut self,
        object: ObjectRef,
        entity: Entity,
        name: &str,
    ) -> Result<(), DriverError> {
        let Some(entity_id) = self.entity_id(entity, name).await? else {
            // A deleted user's permissions went with it.
            return Ok(());
        };
        let t = tables(object.kind);
        let sql = self.dialect.sql(&format!(
            "DELETE FROM {perm} WHERE entity_id = ? AND {id} = ? AND permission = 'READ'",
            perm = t.permission,
            id = t.id
        ));
        sqlx::query(&sql)
            .bind(entity_id)
            .bind(object.id)
            .execute(&mut *self.conn)
            .await
            .map_err(|e| classify("revoke READ", e))?;
        Ok(())
    }

    /// Makes `source`'s grants on `object` exactly `wanted`. A principal
    /// another source still grants keeps its READ.
    pub async fn set_grants(
        &mut self,
        object: ObjectRef,
        source: &str,
        wanted: &Principals,
    ) -> Result<(), DriverError> {
        let attributes = self.attributes(object.kind, object.id).await?;
        let mut recorded = parse_recorded(attributes.get(GRANTS));
        let (old_users, old_groups) = union(&recorded);
        if wanted.is_empty() {
            recorded.remove(source);
        } else {
            recorded.insert(source.to_string(), wanted.into());
        }
        let (new_users, new_groups) = union(&recorded);
        for user in new_users.iter() {
            self.grant(object, Entity::User, user).await?;
        }
        for group in new_groups.iter() {
            self.grant(object, Entity::UserGroup, group).await?;
        }
        for user in old_users.difference(&new_users) {
            self.revoke(object, Entity::User, user).await?;
        }
        for group in old_groups.difference(&new_groups) {
            self.revoke(object, Entity::UserGroup, group).await?;
        }
        let text =
            (!recorded.is_empty()).then(|| serde_json::to_string(&recorded).unwrap_or_default());
        self.set_attribute(object.kind, object.id, GRANTS, text.as_deref())
            .await
    }
}

//! Rows of Guacamole's schema: groups, connections, their parameters and
//! attributes. The agent's marks are attributes: `giif-owner` says which
//! agent object a Guacamole object belongs to (and that the agent made it),
//! `giif-resource` which VM or assignment a connection reaches, and
//! `giif-grant-*` which READ grants the agent gave (see `grants`).

use std::collections::BTreeMap;

use sqlx::any::AnyArguments;
use sqlx::{AnyConnection, Arguments};

use super::sql::{classify, placeholders, Dialect};
use crate::drivers::console::{ObjectId, ObjectKind, Parent};
use crate::drivers::error::DriverError;

pub const OWNER: &str = "giif-owner";
pub const RESOURCE: &str = "giif-resource";
/// Set on connections whose password is their resource's.
pub const FOLLOWS: &str = "giif-resource-secret";
/// The project a connection was placed in by `project_id`.
pub const PLACEMENT: &str = "giif-placement";

/// A table of named values of an object (attributes, parameters): its
/// id, name and value columns, in that order.
struct NamedRows {
    table: &'static str,
    columns: String,
    action: &'static str,
}

/// One connection to Guacamole's database, in its dialect.
pub struct Db<'a> {
    pub conn: &'a mut AnyConnection,
    pub dialect: Dialect,
}

/// The table names and id column of a kind of object.
pub struct Tables {
    pub object: &'static str,
    pub id: &'static str,
    pub name: &'static str,
    pub attribute: &'static str,
    pub permission: &'static str,
    pub noun: &'static str,
}

pub fn tables(kind: ObjectKind) -> Tables {
    match kind {
        ObjectKind::Group => Tables {
            object: "guacamole_connection_group",
            id: "connection_group_id",
            name: "connection_group_name",
            attribute: "guacamole_connection_group_attribute",
            permission: "guacamole_connection_group_permission",
            noun: "connection group",
        },
        ObjectKind::Connection => Tables {
            object: "guacamole_connection",
            id: "connection_id",
            name: "connection_name",
            attribute: "guacamole_connection_attribute",
            permission: "guacamole_connection_permission",
            noun: "connection",
        },
    }
}

/// Adds one argument to a query's arguments.
fn bind<'q, T>(args: &mut AnyArguments<'q>, value: T) -> Result<(), DriverError>
where
    T: 'q + sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    args.add(value)
        .map_err(|e| DriverError::permanent(super::sql::TARGET, "encode a value", e.to_string()))
}

pub fn parent_of(id: Option<i64>) -> Parent {
    id.map_or(Parent::Root, Parent::Group)
}

fn parent_id(parent: Parent) -> Option<i64> {
    match parent {
        Parent::Root => None,
        Parent::Group(id) => Some(id),
    }
}

impl Db<'_> {
    fn sql(&self, text: &str) -> String {
        self.dialect.sql(text)
    }

    /// The object whose `attribute` is `value` (the oldest, should a copy
    /// carry the same mark).
    pub async fn by_attribute(
        &mut self,
        kind: ObjectKind,
        attribute: &str,
        value: &str,
    ) -> Result<Option<ObjectId>, DriverError> {
        Ok(self
            .all_by_attribute(kind, attribute, value)
            .await?
            .into_iter()
            .next())
    }

    /// Every object whose `attribute` is `value`.
    pub async fn all_by_attribute(
        &mut self,
        kind: ObjectKind,
        attribute: &str,
        value: &str,
    ) -> Result<Vec<ObjectId>, DriverError> {
        self.ids_by_attribute(kind, attribute, "=", value.to_string())
            .await
    }

    /// Every object whose `attribute` starts with `prefix`. Owner marks are
    /// made of names and ids: no LIKE wildcard to escape.
    pub async fn all_by_attribute_prefix(
        &mut self,
        kind: ObjectKind,
        attribute: &str,
        prefix: &str,
    ) -> Result<Vec<ObjectId>, DriverError> {
        self.ids_by_attribute(kind, attribute, "LIKE", format!("{prefix}%"))
            .await
    }

    async fn ids_by_attribute(
        &mut self,
        kind: ObjectKind,
        attribute: &str,
        operator: &str,
        operand: String,
    ) -> Result<Vec<ObjectId>, DriverError> {
        let t = tables(kind);
        let sql = self.sql(&format!(
            "SELECT {id} FROM {attr} WHERE attribute_name = ? AND attribute_value {operator} ? ORDER BY {id}",
            id = t.id,
            attr = t.attribute
        ));
        let rows: Vec<(i64,)> = sqlx::query_as(&sql)
            .bind(attribute)
            .bind(operand)
            .fetch_all(&mut *self.conn)
            .await
            .map_err(|e| classify("find objects by attribute", e))?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Locks the object's row until the transaction ends, so writes to
    /// one object's marks and grants happen one after another; false if
    /// the object does not exist. PostgreSQL's weaker row lock lets others
    /// add objects under a locked group meanwhile.
    pub async fn lock_row(&mut self, kind: ObjectKind, id: ObjectId) -> Result<bool, DriverError> {
        let t = tables(kind);
        let mode = match self.dialect {
            Dialect::Postgres => "FOR NO KEY UPDATE",
            Dialect::MySql => "FOR UPDATE",
        };
        let sql = self.sql(&format!(
            "SELECT {id} FROM {object} WHERE {id} = ? {mode}",
            id = t.id,
            object = t.object
        ));
        let row: Option<(i64,)> = sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(|e| classify("lock an object", e))?;
        Ok(row.is_some())
    }

    /// The groups marked with one of `owners`, in one query: per owner,
    /// its group (the oldest, should a copy carry the same mark) with its
    /// name and parent.
    pub async fn groups_by_owner(
        &mut self,
        owners: &[&str],
    ) -> Result<BTreeMap<String, (ObjectId, String, Parent)>, DriverError> {
        let mut found = BTreeMap::new();
        // Statements of bounded size: a refresh may ask for many projects.
        for chunk in owners.chunks(500) {
            let sql = self.sql(&format!(
                "SELECT a.attribute_value, g.connection_group_id, g.connection_group_name, g.parent_id \
                 FROM guacamole_connection_group_attribute a JOIN guacamole_connection_group g \
                 ON g.connection_group_id = a.connection_group_id \
                 WHERE a.attribute_name = ? AND a.attribute_value IN ({}) \
                 ORDER BY g.connection_group_id DESC",
                placeholders(chunk.len())
            ));
            let mut query = sqlx::query_as(&sql).bind(OWNER);
            for owner in chunk {
                query = query.bind(*owner);
            }
            let rows: Vec<(String, i64, String, Option<i64>)> = query
                .fetch_all(&mut *self.conn)
                .await
                .map_err(|e| classify("find groups by owner", e))?;
            // Newest first, so the oldest of a mark's copies is kept.
            found.extend(
                rows.into_iter()
                    .map(|(owner, id, name, parent)| (owner, (id, name, parent_of(parent)))),
            );
        }
        Ok(found)
    }

    /// The object of `kind` named `name` directly under `parent`.
    pub async fn by_name(
        &mut self,
        kind: ObjectKind,
        parent: Parent,
        name: &str,
    ) -> Result<Option<ObjectId>, DriverError> {
        let t = tables(kind);
        let (filter, parent) = match parent_id(parent) {
            None => ("parent_id IS NULL", None),
            Some(id) => ("parent_id = ?", Some(id)),
        };
        let sql = self.sql(&format!(
            "SELECT {id} FROM {object} WHERE {name} = ? AND {filter} ORDER BY {id}",
            id = t.id,
            object = t.object,
            name = t.name
        ));
        let mut query = sqlx::query_as(&sql).bind(name);
        if let Some(parent) = parent {
            query = query.bind(parent);
        }
        let row: Option<(i64,)> = query
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(|e| classify("find an object by name", e))?;
        Ok(row.map(|(id,)| id))
    }

    /// Name and parent of an object, if it exists.
    pub async fn name_and_parent(
        &mut self,
        kind: ObjectKind,
        id: ObjectId,
    ) -> Result<Option<(String, Parent)>, DriverError> {
        let t = tables(kind);
        let sql = self.sql(&format!(
            "SELECT {name}, parent_id FROM {object} WHERE {id} = ?",
            id = t.id,
            object = t.object,
            name = t.name
        ));
        let row: Option<(String, Option<i64>)> = sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(|e| classify("read an object", e))?;
        Ok(row.map(|(name, parent)| (name, parent_of(parent))))
    }

    pub async fn attributes(
        &mut self,
        kind: ObjectKind,
        id: ObjectId,
    ) -> Result<BTreeMap<String, String>, DriverError> {
        let t = tables(kind);
        let sql = self.sql(&format!(
            "SELECT attribute_name, attribute_value FROM {attr} WHERE {id} = ? AND attribute_name LIKE 'giif-%'",
            id = t.id,
            attr = t.attribute
        ));
        let rows: Vec<(String, Option<String>)> = sqlx::query_as(&sql)
            .bind(id)
            .fetch_all(&mut *self.conn)
            .await
            .map_err(|e| classify("read an object's attributes", e))?;
        Ok(rows
            .into_iter()
            .map(|(name, value)| (name, value.unwrap_or_default()))
            .collect())
    }

    /// Sets (or with `None` removes) many of the agent's attributes of one
    /// object: one statement to clear them and one to write the new values.
    pub async fn set_attributes(
        &mut self,
        kind: ObjectKind,
        id: ObjectId,
        values: &[(String, Option<String>)],
    ) -> Result<(), DriverError> {
        let t = tables(kind);
        for chunk in values.chunks(500) {
            let delete = self.sql(&format!(
                "DELETE FROM {attr} WHERE {id} = ? AND attribute_name IN ({})",
                placeholders(chunk.len()),
                id = t.id,
                attr = t.attribute
            ));
            let mut query = sqlx::query(&delete).bind(id);
            for (name, _) in chunk {
                query = query.bind(name.as_str());
            }
            query
                .execute(&mut *self.conn)
                .await
                .map_err(|e| classify("set attributes", e))?;
        }
        self.add_attributes(kind, id, values).await
    }

    /// Writes attributes an object does not have yet (one made in this
    /// transaction); `None` values are left out.
    pub async fn add_attributes(
        &mut self,
        kind: ObjectKind,
        id: ObjectId,
        values: &[(String, Option<String>)],
    ) -> Result<(), DriverError> {
        let t = tables(kind);
        let set: Vec<(&str, &str)> = values
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.as_deref()?)))
            .collect();
        let rows = NamedRows {
            table: t.attribute,
            columns: format!("{}, attribute_name, attribute_value", t.id),
            action: "set attributes",
        };
        self.insert_named(&rows, id, &set).await
    }

    /// Inserts one `(id, name, value)` row per value, in statements of at
    /// most 500 rows.
    async fn insert_named(
        &mut self,
        rows: &NamedRows,
        id: ObjectId,
        values: &[(&str, &str)],
    ) -> Result<(), DriverError> {
        for chunk in values.chunks(500) {
            let insert = self.sql(&format!(
                "INSERT INTO {} ({}) VALUES {}",
                rows.table,
                rows.columns,
                vec!["(?, ?, ?)"; chunk.len()].join(", ")
            ));
            let mut query = sqlx::query(&insert);
            for (name, value) in chunk {
                query = query.bind(id).bind(*name).bind(*value);
            }
            query
                .execute(&mut *self.conn)
                .await
                .map_err(|e| classify(rows.action, e))?;
        }
        Ok(())
    }

    pub async fn insert_group(
        &mut self,
        parent: Parent,
        name: &str,
    ) -> Result<ObjectId, DriverError> {
        let mut args = AnyArguments::default();
        bind(&mut args, parent_id(parent))?;
        bind(&mut args, name)?;
        self.insert_returning_id(
            ObjectKind::Group,
            "INSERT INTO guacamole_connection_group (parent_id, connection_group_name, type) \
             VALUES (?, ?, 'ORGANIZATIONAL')",
            args,
            "create a connection group",
        )
        .await
    }

    pub async fn insert_connection(
        &mut self,
        parent: ObjectId,
        name: &str,
        protocol: &str,
        guacd: Option<&(String, u16)>,
    ) -> Result<ObjectId, DriverError> {
        let mut args = AnyArguments::default();
        bind(&mut args, name)?;
        bind(&mut args, parent)?;
        bind(&mut args, protocol)?;
        bind(&mut args, guacd.map(|(host, _)| host.clone()))?;
        bind(&mut args, guacd.map(|(_, port)| i32::from(*port)))?;
        self.insert_returning_id(
            ObjectKind::Connection,
            "INSERT INTO guacamole_connection (connection_name, parent_id, protocol, proxy_hostname, proxy_port) \
             VALUES (?, ?, ?, ?, ?)",
            args,
            "create a connection",
        )
        .await
    }

    /// Inserts one row and returns its id, in one round trip on PostgreSQL
    /// (`RETURNING`); MySQL has no `RETURNING`, so there the session's
    /// `LAST_INSERT_ID()` is read after.
    async fn insert_returning_id(
        &mut self,
        kind: ObjectKind,
        insert: &str,
        args: AnyArguments<'_>,
        action: &str,
    ) -> Result<ObjectId, DriverError> {
        match self.dialect {
            Dialect::Postgres => {
                let sql = format!("{} RETURNING {}", self.sql(insert), tables(kind).id);
                let (id,): (i64,) = sqlx::query_as_with(&sql, args)
                    .fetch_one(&mut *self.conn)
                    .await
                    .map_err(|e| classify(action, e))?;
                Ok(id)
            }
            Dialect::MySql => {
                sqlx::query_with(insert, args)
                    .execute(&mut *self.conn)
                    .await
                    .map_err(|e| classify(action, e))?;
                let (id,): (i64,) = sqlx::query_as("SELECT LAST_INSERT_ID()")
                    .fetch_one(&mut *self.conn)
                    .await
                    .map_err(|e| classify("read a new object's id", e))?;
                Ok(id)
            }
        }
    }

    /// Sharing profiles of a connection (made in the web app, never by the
    /// agent; deleting the connection would delete them).
    pub async fn sharing_profiles(
        &mut self,
        connection: ObjectId,
    ) -> Result<Vec<String>, DriverError> {
        let sql = self.sql(
            "SELECT sharing_profile_name FROM guacamole_sharing_profile WHERE primary_connection_id = ?",
        );
        let rows: Vec<(String,)> = sqlx::query_as(&sql)
            .bind(connection)
            .fetch_all(&mut *self.conn)
            .await
            .map_err(|e| classify("list sharing profiles", e))?;
        Ok(rows.into_iter().map(|(n,)| n).collect())
    }

    pub async fn update_connection(
        &mut self,
        id: ObjectId,
        parent: ObjectId,
        name: &str,
        protocol: &str,
        guacd: Option<&(String, u16)>,
    ) -> Result<(), DriverError> {
        let sql = self.sql(
            "UPDATE guacamole_connection SET connection_name = ?, parent_id = ?, protocol = ?, \
             proxy_hostname = ?, proxy_port = ? WHERE connection_id = ?",
        );
        sqlx::query(&sql)
            .bind(name)
            .bind(parent)
            .bind(protocol)
            .bind(guacd.map(|(host, _)| host.clone()))
            .bind(guacd.map(|(_, port)| i32::from(*port)))
            .bind(id)
            .execute(&mut *self.conn)
            .await
            .map_err(|e| classify("update a connection", e))?;
        Ok(())
    }

    pub async fn update_group(
        &mut self,
        id: ObjectId,
        parent: Parent,
        name: &str,
    ) -> Result<(), DriverError> {
        let sql = self.sql(
            "UPDATE guacamole_connection_group SET connection_group_name = ?, parent_id = ? \
             WHERE connection_group_id = ?",
        );
        sqlx::query(&sql)
            .bind(name)
            .bind(parent_id(parent))
            .bind(id)
            .execute(&mut *self.conn)
            .await
            .map_err(|e| classify("update a connection group", e))?;
        Ok(())
    }

    pub async fn protocol(&mut self, id: ObjectId) -> Result<Option<String>, DriverError> {
        let sql = self.sql("SELECT protocol FROM guacamole_connection WHERE connection_id = ?");
        let row: Option<(String,)> = sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(|e| classify("read a connection", e))?;
        Ok(row.map(|(p,)| p))
    }

    pub async fn parameters(
        &mut self,
        id: ObjectId,
    ) -> Result<BTreeMap<String, String>, DriverError> {
        let sql = self.sql(
            "SELECT parameter_name, parameter_value FROM guacamole_connection_parameter WHERE connection_id = ?",
        );
        let rows: Vec<(String, String)> = sqlx::query_as(&sql)
            .bind(id)
            .fetch_all(&mut *self.conn)
            .await
            .map_err(|e| classify("read a connection's parameters", e))?;
        Ok(rows.into_iter().collect())
    }

    pub async fn delete_parameter(&mut self, id: ObjectId, name: &str) -> Result<(), DriverError> {
        self.delete_parameters(id, &[name]).await
    }

    pub async fn delete_parameters(
        &mut self,
        id: ObjectId,
        names: &[&str],
    ) -> Result<(), DriverError> {
        if names.is_empty() {
            return Ok(());
        }
        let sql = self.sql(&format!(
            "DELETE FROM guacamole_connection_parameter WHERE connection_id = ? AND parameter_name IN ({})",
            placeholders(names.len())
        ));
        let mut query = sqlx::query(&sql).bind(id);
        for name in names {
            query = query.bind(*name);
        }
        query
            .execute(&mut *self.conn)
            .await
            .map_err(|e| classify("remove connection parameters", e))?;
        Ok(())
    }

    pub async fn set_parameter(
        &mut self,
        id: ObjectId,
        name: &str,
        value: &str,
    ) -> Result<(), DriverError> {
        self.set_parameters(id, &[(name, value)]).await
    }

    /// Sets many parameters of one connection in two statements.
    pub async fn set_parameters(
        &mut self,
        id: ObjectId,
        values: &[(&str, &str)],
    ) -> Result<(), DriverError> {
        if values.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = values.iter().map(|(name, _)| *name).collect();
        self.delete_parameters(id, &names).await?;
        let rows = NamedRows {
            table: "guacamole_connection_parameter",
            columns: "connection_id, parameter_name, parameter_value".into(),
            action: "set connection parameters",
        };
        self.insert_named(&rows, id, values).await
    }

    /// Deletes one object; the schema cascades to its parameters,
    /// attributes and permissions (and, for a group, to what it holds).
    pub async fn delete(&mut self, kind: ObjectKind, id: ObjectId) -> Result<(), DriverError> {
        let t = tables(kind);
        let sql = self.sql(&format!("DELETE FROM {} WHERE {} = ?", t.object, t.id));
        sqlx::query(&sql)
            .bind(id)
            .execute(&mut *self.conn)
            .await
            .map_err(|e| classify("delete an object", e))?;
        Ok(())
    }

    /// The groups and connections directly in group `id`.
    pub async fn children(
        &mut self,
        id: ObjectId,
    ) -> Result<Vec<(ObjectKind, ObjectId, String)>, DriverError> {
        let mut all = Vec::new();
        for kind in [ObjectKind::Group, ObjectKind::Connection] {
            let t = tables(kind);
            let sql = self.sql(&format!(
                "SELECT {id}, {name} FROM {object} WHERE parent_id = ? ORDER BY {id}",
                id = t.id,
                name = t.name,
                object = t.object
            ));
            let rows: Vec<(i64, String)> = sqlx::query_as(&sql)
                .bind(id)
                .fetch_all(&mut *self.conn)
                .await
                .map_err(|e| classify("list a group", e))?;
            all.extend(rows.into_iter().map(|(child, name)| (kind, child, name)));
        }
        Ok(all)
    }
}

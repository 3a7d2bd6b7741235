//! The console registry: where users find the consoles of their machines.
//! Objects form a tree of groups and connections; the agent marks every
//! object it creates with an owner key and only ever changes or deletes
//! objects that carry one. Implemented on Guacamole's own database in
//! [`super::guacamole`].

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;

use super::error::DriverError;
use crate::credentials::Secret;

/// A group or connection id in the registry.
pub type ObjectId = i64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectKind {
    Group,
    Connection,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectRef {
    pub kind: ObjectKind,
    pub id: ObjectId,
}

impl ObjectRef {
    pub fn group(id: ObjectId) -> Self {
        Self {
            kind: ObjectKind::Group,
            id,
        }
    }
    pub fn connection(id: ObjectId) -> Self {
        Self {
            kind: ObjectKind::Connection,
            id,
        }
    }
}

/// Where an object sits: at the root, or in a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parent {
    Root,
    Group(ObjectId),
}

/// A connection as the agent wants it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectionSpec {
    pub name: String,
    pub protocol: String,
    /// Protocol parameters, target `hostname` and `port` included.
    pub parameters: BTreeMap<String, String>,
    /// Secret parameters (`password`): written, never read back.
    pub secrets: BTreeMap<String, Secret>,
    /// The guacd that serves it; `None` for Guacamole's default.
    pub guacd: Option<(String, u16)>,
    /// The agent resource the connection reaches (a VM or an assignment).
    pub resource: Option<String>,
    /// The connection's password is the resource's and follows it (see
    /// [`ConsoleRegistry::update_dependents`]).
    pub follows_resource_secret: bool,
    /// The project whose Resources group the connection was placed in by
    /// project (rather than by group id), so reads say it the same way.
    pub placement: Option<String>,
}

/// What happens to the connections that follow a resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DependentUpdate {
    /// The resource's console password changed.
    Password(Secret),
    /// The resource is gone or released: the connections must not reach
    /// whatever takes its place, so their target and password are removed.
    Disable,
}

/// Users and user groups.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Principals {
    pub users: BTreeSet<String>,
    pub groups: BTreeSet<String>,
}

impl Principals {
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty()
    }
}

/// A connection as the registry holds it now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveConnection {
    pub id: ObjectId,
    pub name: String,
    pub parent: Parent,
    pub protocol: String,
    /// Every parameter but the secret ones.
    pub parameters: BTreeMap<String, String>,
    pub owner: Option<String>,
    pub resource: Option<String>,
    pub placement: Option<String>,
    /// Principals holding READ that the agent granted for `source`, per
    /// source; a grant removed out of band is missing here.
    pub grants: BTreeMap<String, Principals>,
}

/// A group as the registry holds it now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveGroup {
    pub id: ObjectId,
    pub name: String,
    pub parent: Parent,
    pub owner: Option<String>,
}

/// A group the agent owns, known by its owner mark.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedGroup {
    pub owner: String,
    pub name: String,
}

/// A group and the groups directly in it, such as a project's group with
/// its `Resources` and `Project Toolbox`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupTree {
    pub parent: Parent,
    pub top: OwnedGroup,
    pub children: Vec<OwnedGroup>,
}

/// READ grants given for `source`: see [`ConsoleRegistry::set_grants`].
#[derive(Clone, Copy, Debug)]
pub struct Grants<'a> {
    pub source: &'a str,
    pub wanted: &'a Principals,
}

#[async_trait]
pub trait ConsoleRegistry: Send + Sync {
    /// The group owned by `owner`, created under `parent` as `name` if
    /// missing, and moved or renamed to match if it differs. An object of
    /// that name under `parent` that the agent did not create is an error.
    async fn ensure_group(
        &self,
        owner: &str,
        parent: Parent,
        name: &str,
    ) -> Result<ObjectId, DriverError>;

    /// The groups of `tree` made or corrected as [`Self::ensure_group`]
    /// does, all in one transaction; with `grants`, also the READ grants
    /// of `grants.source` on every object the agent made in the tree (as
    /// [`Self::set_grants`] sets them). Returns the ids of the top group
    /// and then of its children, in order.
    async fn ensure_tree(
        &self,
        tree: &GroupTree,
        grants: Option<Grants<'_>>,
    ) -> Result<Vec<ObjectId>, DriverError>;

    /// The root group `name`: the one the agent made, or an existing one
    /// it adopts as a parent (never modifying or deleting it).
    async fn root_group(&self, owner: &str, name: &str) -> Result<ObjectId, DriverError>;

    /// The connection owned by `owner`, created or updated to match `spec`
    /// under `parent`. Secrets are written when `write_secrets` (or when the
    /// connection is new).
    async fn ensure_connection(
        &self,
        owner: &str,
        parent: ObjectId,
        spec: &ConnectionSpec,
        write_secrets: bool,
    ) -> Result<ObjectId, DriverError>;

    /// A secret parameter of the connection owned by `owner` (the one place
    /// the agent keeps a generated password).
    async fn secret(&self, owner: &str, parameter: &str) -> Result<Option<Secret>, DriverError>;

    /// Updates the explicit connections (owners `connection/...`) that reach
    /// `resource` and take their password from it; returns how many.
    async fn update_dependents(
        &self,
        resource: &str,
        update: &DependentUpdate,
    ) -> Result<usize, DriverError>;

    /// The connections whose owner starts with `prefix`.
    async fn owned_connections(&self, prefix: &str) -> Result<Vec<ObjectId>, DriverError>;

    /// The groups the agent created for `owners`, found in one query,
    /// keyed by owner.
    async fn owned_groups(
        &self,
        owners: &[String],
    ) -> Result<BTreeMap<String, LiveGroup>, DriverError>;

    /// The object the agent created for `owner`, if it still exists.
    async fn find_owned(&self, owner: &str) -> Result<Option<ObjectRef>, DriverError>;

    async fn connection(&self, id: ObjectId) -> Result<Option<LiveConnection>, DriverError>;
    async fn group(&self, id: ObjectId) -> Result<Option<LiveGroup>, DriverError>;

    /// Deletes the object owned by `owner`; false if there was none. A group
    /// that holds objects the agent did not create is refused.
    async fn delete_owned(&self, owner: &str) -> Result<bool, DriverError>;

    /// Every object the agent created under group `root`, `root` included.
    async fn owned_subtree(&self, root: ObjectId) -> Result<Vec<ObjectRef>, DriverError>;

    /// Makes the READ grants that `source` gave on `object` exactly
    /// `wanted`, leaving grants of other sources and of administrators
    /// alone. Every principal must exist (see [`Self::missing`]).
    async fn set_grants(
        &self,
        object: ObjectRef,
        source: &str,
        wanted: &Principals,
    ) -> Result<(), DriverError>;

    /// The principals among `wanted` that the registry does not know.
    async fn missing(&self, wanted: &Principals) -> Result<Principals, DriverError>;

    /// The link that opens `object` in the web application.
    fn client_url(&self, object: ObjectRef) -> String;
}

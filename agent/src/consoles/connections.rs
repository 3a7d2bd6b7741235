//! Explicit connections (`giif_guacamole_connection`): in a project's
//! Resources group or any group, to a resource of the agent (which fills in
//! host, port and credentials) or to an explicit host.

use std::collections::BTreeMap;

use giif_proto::agent as api;

use super::{console_error, owner, Consoles, Registry, DECLARED, MEMBERS};
use crate::credentials::Secret;
use crate::drivers::console::{
    ConnectionSpec, LiveConnection, ObjectId, ObjectRef, Parent, Principals,
};
use crate::error::ApiError;

/// Checks a spec on its own; the agent trusts no client to have done it.
pub fn validate_connection_spec(spec: &api::GuacamoleConnectionSpec) -> Result<(), ApiError> {
    if spec.name.trim().is_empty() || spec.name.len() > 128 {
        return Err(
            ApiError::invalid("a connection name has 1 to 128 characters").field("spec.name"),
        );
    }
    match (spec.project_id.is_empty(), spec.parent_group_id.is_empty()) {
        (false, false) | (true, true) => return Err(ApiError::invalid(
            "give exactly one of project_id (the project's Resources group) and parent_group_id",
        )
        .field("spec.project_id")),
        (true, false) if spec.parent_group_id.parse::<ObjectId>().is_err() => {
            return Err(ApiError::invalid(format!(
                "parent_group_id {:?} is not a Guacamole connection group id (a number)",
                spec.parent_group_id
            ))
            .field("spec.parent_group_id"))
        }
        _ => {}
    }
    if !giif_proto::guacamole::PROTOCOLS.contains(&spec.protocol.as_str()) {
        return Err(ApiError::invalid(format!(
            "protocol {:?} is not one of {}",
            spec.protocol,
            giif_proto::guacamole::PROTOCOLS.join(", ")
        ))
        .field("spec.protocol"));
    }
    match (spec.resource_id.is_empty(), spec.hostname.is_empty()) {
        (false, false) | (true, true) => {
            return Err(ApiError::invalid(
                "give exactly one of resource_id (a VM or bare-metal assignment) and hostname",
            )
            .field("spec.resource_id"))
        }
        (false, true) if spec.port != 0 => {
            return Err(ApiError::invalid(
                "port comes from the resource; leave it out with resource_id",
            )
            .field("spec.port"))
        }
        (false, true) if spec.protocol != "vnc" => {
            return Err(ApiError::invalid(format!(
                "resource_id gives the resource's VNC console; protocol {:?} needs a hostname",
                spec.protocol
            ))
            .field("spec.protocol"))
        }
        _ => {}
    }
    if spec.port > u32::from(u16::MAX) {
        return Err(
            ApiError::invalid(format!("port {} is not a TCP port", spec.port)).field("spec.port"),
        );
    }
    for (name, value) in &spec.parameters {
        if let Some(problem) = giif_proto::guacamole::parameter_problem(&spec.protocol, name, value)
        {
            return Err(ApiError::invalid(problem).field(&format!("spec.parameters[{name:?}]")));
        }
    }
    Ok(())
}

fn principals(spec: &api::GuacamoleConnectionSpec) -> Principals {
    Principals {
        users: spec.users.iter().cloned().collect(),
        groups: spec.user_groups.iter().cloned().collect(),
    }
}

/// The target of a resource-backed connection.
struct Target {
    hostname: String,
    port: u32,
    password: Option<Secret>,
}

impl Consoles {
    async fn parent(
        &self,
        registry: &Registry,
        spec: &api::GuacamoleConnectionSpec,
    ) -> Result<(ObjectId, Option<api::Project>), ApiError> {
        if !spec.project_id.is_empty() {
            let project = self
                .store
                .project_by_id(&spec.project_id)
                .await
                .map_err(|e| e.field("spec.project_id"))?;
            let groups = self.project_groups(registry, &project).await?;
            return Ok((groups.resources, Some(project)));
        }
        let id: ObjectId = spec.parent_group_id.parse().unwrap_or_default();
        if registry
            .db
            .group(id)
            .await
            .map_err(console_error)?
            .is_none()
        {
            return Err(
                ApiError::not_found(format!("Guacamole has no connection group {id}"))
                    .field("spec.parent_group_id"),
            );
        }
        // A group inside a project's tree: its members see the connection
        // too, as they see everything the agent made there.
        let project = match self.project_of_group(registry, id).await? {
            Some(project_id) => self.store.project_by_id(&project_id).await.ok(),
            None => None,
        };
        Ok((id, project))
    }

    /// The project whose tree holds group `id`, if any.
    async fn project_of_group(
        &self,
        registry: &Registry,
        mut id: ObjectId,
    ) -> Result<Option<String>, ApiError> {
        for _ in 0..32 {
            let Some(group) = registry.db.group(id).await.map_err(console_error)? else {
                return Ok(None);
            };
            if let Some(project) = group
                .owner
                .as_deref()
                .and_then(|o| o.strip_prefix("project/"))
                .and_then(|rest| rest.split('/').next())
            {
                return Ok(Some(project.to_string()));
            }
            match group.parent {
                Parent::Group(up) => id = up,
                Parent::Root => return Ok(None),
            }
        }
        Ok(None)
    }

    async fn target(&self, spec: &api::GuacamoleConnectionSpec) -> Result<Target, ApiError> {
        if spec.resource_id.is_empty() {
            let default =
                giif_proto::guacamole::default_port_for(&spec.protocol, spec.parameters.iter())
                    .unwrap_or(0);
            return Ok(Target {
                hostname: spec.hostname.clone(),
                port: if spec.port == 0 {
                    u32::from(default)
                } else {
                    spec.port
                },
                password: spec.password.as_ref().map(Secret::new),
            });
        }
        if let Some(vm) = self.store.vm(&spec.resource_id).await? {
            let display = super::resources::vm_vnc_display(vm.vmid).ok_or_else(|| {
                ApiError::precondition(format!("VM {} has no VNC console", vm.name))
                    .field("spec.resource_id")
            })?;
            let host = self.vm_console_host(&vm).await?;
            // The VM's console has the password its VNC was given.
            let password = self.console_password(&owner::vm(&vm.id)).await?;
            return Ok(Target {
                hostname: host,
                port: super::resources::VNC_BASE_PORT + display,
                password,
            });
        }
        if let Some(row) = self.store.bms_assignment(&spec.resource_id).await? {
            let server = self
                .store
                .bms_inventory()
                .await?
                .into_iter()
                .find(|s| s.name == row.bms)
                .ok_or_else(|| {
                    ApiError::precondition(format!(
                        "server {} is no longer in the inventory",
                        row.bms
                    ))
                })?;
            // The assignment's console has the password the iDRAC was given.
            let password = self.console_password(&owner::bms_console(&row.id)).await?;
            let (hostname, port) = server.vnc_endpoint().ok_or_else(|| {
                ApiError::precondition(format!("server {} has no BMC address", row.bms))
            })?;
            return Ok(Target {
                hostname,
                port: u32::from(port),
                password,
            });
        }
        Err(ApiError::not_found(format!(
            "no VM or bare-metal assignment has id {:?}",
            spec.resource_id
        ))
        .field("spec.resource_id")
        .hint("Give the id of a giif_vm or giif_bms_assignment."))
    }

    /// The VNC password of a VM's or an assignment's console (`key`), read
    /// from the console the agent made with it (the only place it is kept).
    async fn console_password(&self, key: &str) -> Result<Option<Secret>, ApiError> {
        let Some(registry) = self.registry().await? else {
            return Ok(None);
        };
        registry
            .db
            .secret(key, "password")
            .await
            .map_err(console_error)
    }

    fn connection_spec(
        registry: &Registry,
        spec: &api::GuacamoleConnectionSpec,
        target: Target,
    ) -> ConnectionSpec {
        let mut parameters: BTreeMap<String, String> =
            spec.parameters.clone().into_iter().collect();
        parameters.insert("hostname".into(), target.hostname);
        parameters.insert("port".into(), target.port.to_string());
        let secrets = target
            .password
            .map(|p| BTreeMap::from([("password".to_string(), p)]))
            .unwrap_or_default();
        ConnectionSpec {
            name: spec.name.clone(),
            protocol: spec.protocol.clone(),
            parameters,
            secrets,
            guacd: registry.guacd.clone(),
            resource: Some(spec.resource_id.clone()).filter(|r| !r.is_empty()),
            follows_resource_secret: !spec.resource_id.is_empty() && spec.password.is_none(),
            placement: Some(spec.project_id.clone()).filter(|p| !p.is_empty()),
        }
    }

    async fn require_registry(&self) -> Result<Registry, ApiError> {
        self.registry().await?.ok_or_else(|| {
            ApiError::precondition("the site has no Guacamole").hint(
                "Add a [guacamole] section to the site file and run `giif-agent inventory import`.",
            )
        })
    }

    async fn check_principals(
        &self,
        registry: &Registry,
        spec: &api::GuacamoleConnectionSpec,
    ) -> Result<(), ApiError> {
        let missing = registry
            .db
            .missing(&principals(spec))
            .await
            .map_err(console_error)?;
        let quote = |names: &std::collections::BTreeSet<String>| {
            names
                .iter()
                .map(|n| format!("{n:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !missing.users.is_empty() {
            return Err(ApiError::invalid(format!(
                "Guacamole has no user {}",
                quote(&missing.users)
            ))
            .field("spec.users")
            .subject(missing.users.iter().next().cloned().unwrap_or_default())
            .hint("Create the user in Guacamole first, or leave it out."));
        }
        if !missing.groups.is_empty() {
            return Err(ApiError::invalid(format!(
                "Guacamole has no user group {}",
                quote(&missing.groups)
            ))
            .field("spec.user_groups")
            .subject(missing.groups.iter().next().cloned().unwrap_or_default())
            .hint("Create the group in Guacamole first, or leave it out."));
        }
        Ok(())
    }

    /// Writes a connection for `key`: created, or updated to match.
    async fn write_connection(
        &self,
        key: &str,
        spec: &api::GuacamoleConnectionSpec,
        write_secrets: bool,
    ) -> Result<api::GuacamoleConnection, ApiError> {
        validate_connection_spec(spec)?;
        let registry = self.require_registry().await?;
        self.check_principals(&registry, spec).await?;
        let (parent, project) = self.parent(&registry, spec).await?;
        let mut target = self.target(spec).await?;
        // A password the user gives replaces the resource's own; the
        // resource's own is always the current one.
        let write_secrets = match &spec.password {
            Some(password) => {
                target.password = Some(Secret::new(password));
                write_secrets
            }
            None => write_secrets || !spec.resource_id.is_empty(),
        };
        let wanted = Self::connection_spec(&registry, spec, target);
        let id = registry
            .db
            .ensure_connection(&owner::connection(key), parent, &wanted, write_secrets)
            .await
            .map_err(|e| match e.class {
                crate::drivers::ErrorClass::Permanent if e.message.contains("already exists") => {
                    ApiError::already_exists(e.message).field("spec.name")
                }
                _ => console_error(e),
            })?;
        let object = ObjectRef::connection(id);
        registry
            .db
            .set_grants(object, DECLARED, &principals(spec))
            .await
            .map_err(console_error)?;
        let members = project
            .as_ref()
            .map(|p| super::tree::project_principals(&p.spec.clone().unwrap_or_default()))
            .unwrap_or_default();
        registry
            .db
            .set_grants(object, MEMBERS, &members)
            .await
            .map_err(console_error)?;
        tracing::info!(connection = id, name = %spec.name, "Guacamole connection written");
        self.describe(&registry, id).await
    }

    pub async fn create_connection(
        &self,
        request_id: &str,
        spec: &api::GuacamoleConnectionSpec,
    ) -> Result<api::GuacamoleConnection, ApiError> {
        let key = if request_id.is_empty() {
            uuid::Uuid::new_v4().to_string()
        } else {
            request_id.to_string()
        };
        self.write_connection(&key, spec, true).await
    }

    pub async fn update_connection(
        &self,
        id: &str,
        spec: &api::GuacamoleConnectionSpec,
        set_password: bool,
    ) -> Result<api::GuacamoleConnection, ApiError> {
        let registry = self.require_registry().await?;
        let live = self.explicit(&registry, id).await?;
        let key = live
            .owner
            .as_deref()
            .and_then(|o| o.strip_prefix("connection/"))
            .unwrap_or_default()
            .to_string();
        self.write_connection(&key, spec, set_password).await
    }

    pub async fn get_connection(&self, id: &str) -> Result<api::GuacamoleConnection, ApiError> {
        let registry = self.require_registry().await?;
        let live = self.explicit(&registry, id).await?;
        self.describe(&registry, live.id).await
    }

    /// Every explicit connection, as a listing shows it (project names are
    /// the caller's to fill in); none on a site without Guacamole.
    pub async fn listed_connections(&self) -> Result<Vec<api::ListedObject>, ApiError> {
        let Some(registry) = self.registry().await? else {
            return Ok(Vec::new());
        };
        let ids = registry
            .db
            .owned_connections(&owner::connection(""))
            .await
            .map_err(console_error)?;
        let mut listed = Vec::with_capacity(ids.len());
        for id in ids {
            match self.describe(&registry, id).await {
                Ok(connection) => {
                    let spec = connection.spec.unwrap_or_default();
                    listed.push(api::ListedObject {
                        id: connection.id,
                        name: spec.name,
                        project_id: spec.project_id,
                        project_name: String::new(),
                    });
                }
                // Deleted between the two reads.
                Err(err) if err.reason == api::error_detail::Reason::NotFound => {}
                Err(err) => return Err(err),
            }
        }
        Ok(listed)
    }

    pub async fn delete_connection(&self, id: &str) -> Result<bool, ApiError> {
        let Some(registry) = self.registry().await? else {
            return Ok(false);
        };
        match self.explicit(&registry, id).await {
            Ok(live) => {
                let key = live.owner.unwrap_or_default();
                let existed = registry
                    .db
                    .delete_owned(&key)
                    .await
                    .map_err(console_error)?;
                tracing::info!(connection = live.id, "Guacamole connection deleted");
                Ok(existed)
            }
            Err(err) if err.reason == giif_proto::agent::error_detail::Reason::NotFound => {
                Ok(false)
            }
            Err(err) => Err(err),
        }
    }

    /// An explicit connection by id; other objects are refused by name.
    async fn explicit(&self, registry: &Registry, id: &str) -> Result<LiveConnection, ApiError> {
        let parsed: ObjectId = id.parse().map_err(|_| {
            ApiError::invalid(format!(
                "{id:?} is not a Guacamole connection id (a number)"
            ))
            .field("id")
        })?;
        let live = registry
            .db
            .connection(parsed)
            .await
            .map_err(console_error)?
            .ok_or_else(|| ApiError::not_found(format!("Guacamole has no connection {parsed}")))?;
        match live.owner.as_deref() {
            Some(o) if o.starts_with("connection/") => Ok(live),
            Some(o) => Err(ApiError::precondition(format!(
                "connection {parsed} is the console of {o}; it is managed with that resource"
            ))
            .field("id")),
            None => Err(ApiError::precondition(format!(
                "connection {parsed} ({:?}) was not created by giif; the agent never changes other objects",
                live.name
            ))
            .field("id")
            .hint("Manage it in Guacamole, or create a giif_guacamole_connection instead.")),
        }
    }

    /// The API view of a connection, read from Guacamole.
    async fn describe(
        &self,
        registry: &Registry,
        id: ObjectId,
    ) -> Result<api::GuacamoleConnection, ApiError> {
        let live = registry
            .db
            .connection(id)
            .await
            .map_err(console_error)?
            .ok_or_else(|| ApiError::not_found(format!("Guacamole has no connection {id}")))?;
        let parent_id = match live.parent {
            Parent::Group(g) => g,
            Parent::Root => 0,
        };
        // Placed by project: said so while it is still in that project's
        // Resources group; anywhere else, by its group.
        let parent_owner = registry
            .db
            .group(parent_id)
            .await
            .map_err(console_error)?
            .and_then(|g| g.owner);
        let project_id = parent_owner
            .as_deref()
            .and_then(owner::project_of_resources)
            .filter(|p| live.placement.as_deref() == Some(*p))
            .map(str::to_string);
        let resource_id = live.resource.clone().unwrap_or_default();
        let mut parameters = live.parameters.clone();
        let hostname = parameters.remove("hostname").unwrap_or_default();
        let port = parameters
            .remove("port")
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        let declared = live.grants.get(DECLARED).cloned().unwrap_or_default();
        let spec = api::GuacamoleConnectionSpec {
            name: live.name.clone(),
            project_id: project_id.clone().unwrap_or_default(),
            parent_group_id: if project_id.is_some() {
                String::new()
            } else {
                parent_id.to_string()
            },
            protocol: live.protocol.clone(),
            hostname: if resource_id.is_empty() {
                hostname
            } else {
                String::new()
            },
            port: if resource_id.is_empty() { port } else { 0 },
            resource_id,
            parameters: parameters.into_iter().collect(),
            password: None,
            users: declared.users.into_iter().collect(),
            user_groups: declared.groups.into_iter().collect(),
        };
        Ok(api::GuacamoleConnection {
            id: id.to_string(),
            spec: Some(spec),
            client_url: registry.db.client_url(ObjectRef::connection(id)),
            parent_group_id: parent_id.to_string(),
        })
    }
}

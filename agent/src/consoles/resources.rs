//! The consoles made with resources: a VM's VNC console, a server's group
//! with its iDRAC VNC console, and the gateway's toolbox.

use std::collections::BTreeMap;

use super::{console_error, owner, ConsoleState, Consoles, Registry};
use crate::credentials::Secret;
use crate::drivers::console::{ConnectionSpec, DependentUpdate, ObjectId, ObjectRef, Parent};
use crate::error::ApiError;
use crate::inventory::PagwSlot;
use crate::store::{BmsRow, GatewayRow, VmRow};

/// QEMU serves display N on port 5900 + N; the agent uses the VM id.
pub const VNC_BASE_PORT: u32 = 5900;

/// The VNC display of a VM's console, if its id leaves room for one.
/// Eight characters (all a VNC password holds) from an unambiguous
/// alphabet: a new one each time a console's password is set.
pub fn fresh_vnc_password() -> Secret {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    Secret::new(
        (0..8)
            .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
            .collect::<String>(),
    )
}

pub fn vm_vnc_display(vmid: u32) -> Option<u32> {
    (VNC_BASE_PORT + vmid <= u32::from(u16::MAX)).then_some(vmid)
}

/// The toolbox a gateway offers its project: name, owner suffix, and the
/// command the gateway's `giif-pagw-toolbox` runs for it. Without a toolbox
/// key in its slot the gateway has no toolbox account to log in to.
fn toolbox(
    gateway: &GatewayRow,
    slot: &PagwSlot,
) -> Vec<(&'static str, &'static str, &'static str)> {
    if slot.toolbox_key.is_none() {
        return Vec::new();
    }
    let mut tools = vec![("ARP scan", "arp-scan", "scan")];
    if gateway.doc.wireguard {
        tools.push(("WireGuard", "wireguard", "wireguard"));
    }
    if gateway.doc.pptp {
        tools.push(("PPTP", "pptp", "pptp"));
    }
    tools
}
const TOOLS: &[&str] = &["arp-scan", "wireguard", "pptp"];

fn vnc(
    name: &str,
    host: &str,
    port: u32,
    resource: &str,
    guacd: Option<(String, u16)>,
) -> ConnectionSpec {
    ConnectionSpec {
        name: name.to_string(),
        protocol: "vnc".into(),
        parameters: BTreeMap::from([
            ("hostname".to_string(), host.to_string()),
            ("port".to_string(), port.to_string()),
        ]),
        secrets: BTreeMap::new(),
        guacd,
        resource: Some(resource.to_string()),
        follows_resource_secret: false,
        placement: None,
    }
}

/// The host of a URL such as `https://pve1.example.org:8006`.
fn url_host(url: &str) -> String {
    let rest = url.split("://").nth(1).unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or(rest);
    match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host.to_string(),
        _ => authority.to_string(),
    }
    .trim_start_matches('[')
    .trim_end_matches(']')
    .to_string()
}

impl Consoles {
    /// Whether the site has consoles (so VMs get a VNC display).
    pub async fn enabled(&self) -> Result<bool, ApiError> {
        Ok(self.registry().await?.is_some())
    }

    /// Where guacd reaches the consoles of the VM's node, and where QEMU
    /// serves them.
    pub async fn vm_console_host(&self, vm: &VmRow) -> Result<String, ApiError> {
        let pve = self.store.proxmox_inventory().await?;
        Ok(pve
            .as_ref()
            .and_then(|pve| {
                let node = pve.nodes.iter().find(|n| n.name == vm.node)?;
                Some(
                    node.console_address
                        .clone()
                        .unwrap_or_else(|| url_host(&pve.api_url)),
                )
            })
            .unwrap_or_default())
    }

    /// What a VM's console connection must be.
    async fn vm_spec(
        &self,
        registry: &Registry,
        vm: &VmRow,
    ) -> Result<Option<ConnectionSpec>, ApiError> {
        let Some(display) = vm_vnc_display(vm.vmid) else {
            return Ok(None);
        };
        let host = self.vm_console_host(vm).await?;
        Ok(Some(vnc(
            &vm.name,
            &host,
            VNC_BASE_PORT + display,
            &vm.id,
            registry.guacd.clone(),
        )))
    }

    /// Makes the VM's console connection, with `password` when one was just
    /// set on the VM's VNC (else the connection keeps the one it has);
    /// failures become drift, since the VM itself is fine.
    pub async fn ensure_vm(&self, vm: &VmRow, password: Option<&Secret>) -> ConsoleState {
        let result = async {
            let Some(registry) = self.registry().await? else {
                return Ok(ConsoleState::Absent);
            };
            let Some(spec) = self.vm_spec(&registry, vm).await? else {
                return Ok(ConsoleState::Drift(format!(
                    "VM id {} is too large for a VNC display; the VM has no console",
                    vm.vmid
                )));
            };
            let mut spec = spec;
            if let Some(password) = password {
                spec.secrets
                    .insert("password".to_string(), password.clone());
            }
            let project = self.store.project_by_id(&vm.project_id).await?;
            let groups = self.project_groups(&registry, &project).await?;
            let id = registry
                .db
                .ensure_connection(
                    &owner::vm(&vm.id),
                    groups.resources,
                    &spec,
                    password.is_some(),
                )
                .await
                .map_err(console_error)?;
            let object = ObjectRef::connection(id);
            self.grant_members(&registry, &project, &[object]).await?;
            Ok(ConsoleState::Present {
                id,
                url: registry.db.client_url(object),
            })
        }
        .await;
        settle("VM", &vm.id, result)
    }

    pub async fn vm_state(&self, vm: &VmRow) -> ConsoleState {
        tolerant("VM", &vm.id, self.vm_state_strict(vm).await)
    }

    async fn vm_state_strict(&self, vm: &VmRow) -> Result<ConsoleState, ApiError> {
        let Some(registry) = self.registry().await? else {
            return Ok(ConsoleState::Absent);
        };
        let Some(spec) = self.vm_spec(&registry, vm).await? else {
            return Ok(ConsoleState::Absent);
        };
        self.connection_state(&registry, &owner::vm(&vm.id), &spec, &vm.project_id)
            .await
    }

    pub async fn remove_vm(&self, id: &str) -> Result<(), ApiError> {
        self.remove(&[owner::vm(id)]).await?;
        // A later VM may get this one's id, and so its console port.
        self.update_dependents(id, &DependentUpdate::Disable).await
    }

    /// Brings the explicit connections that reach resource `id` in step.
    pub async fn update_dependents(
        &self,
        id: &str,
        update: &DependentUpdate,
    ) -> Result<(), ApiError> {
        let Some(registry) = self.registry().await? else {
            return Ok(());
        };
        let count = registry
            .db
            .update_dependents(id, update)
            .await
            .map_err(console_error)?;
        if count > 0 {
            tracing::info!(resource = id, count, "connections to the resource updated");
        }
        Ok(())
    }

    /// What a server's console connection must be.
    fn bms_spec(
        registry: &Registry,
        server: &crate::inventory::Bms,
        assignment: &str,
    ) -> ConnectionSpec {
        let (host, port) = server.vnc_endpoint().unwrap_or_default();
        vnc(
            &format!("{} console", server.name),
            &host,
            u32::from(port),
            assignment,
            registry.guacd.clone(),
        )
    }

    /// Makes the server's group (in its project, moving it there if it was
    /// elsewhere) and its VNC connection with the password just set on the
    /// iDRAC.
    pub async fn ensure_bms(
        &self,
        row: &BmsRow,
        server: &crate::inventory::Bms,
        vnc_password: &Secret,
    ) -> ConsoleState {
        let result = async {
            let Some(registry) = self.registry().await? else {
                return Ok(ConsoleState::Absent);
            };
            let project = self.store.project_by_id(&row.project_id).await?;
            let groups = self.project_groups(&registry, &project).await?;
            let group = registry
                .db
                .ensure_group(
                    &owner::bms_group(&row.id),
                    Parent::Group(groups.resources),
                    &server.name,
                )
                .await
                .map_err(console_error)?;
            let mut spec = Self::bms_spec(&registry, server, &row.id);
            spec.secrets
                .insert("password".to_string(), vnc_password.clone());
            let id = registry
                .db
                .ensure_connection(&owner::bms_console(&row.id), group, &spec, true)
                .await
                .map_err(console_error)?;
            let console = ObjectRef::connection(id);
            self.grant_members(&registry, &project, &[ObjectRef::group(group), console])
                .await?;
            Ok(ConsoleState::Present {
                id,
                url: registry.db.client_url(console),
            })
        }
        .await;
        settle("assignment", &row.id, result)
    }

    pub async fn bms_state(&self, row: &BmsRow) -> ConsoleState {
        tolerant("assignment", &row.id, self.bms_state_strict(row).await)
    }

    async fn bms_state_strict(&self, row: &BmsRow) -> Result<ConsoleState, ApiError> {
        let Some(registry) = self.registry().await? else {
            return Ok(ConsoleState::Absent);
        };
        let Some(server) = self
            .store
            .bms_inventory()
            .await?
            .into_iter()
            .find(|s| s.name == row.bms)
        else {
            return Ok(ConsoleState::Absent);
        };
        let db = &registry.db;
        let Some(group) = db
            .find_owned(&owner::bms_group(&row.id))
            .await
            .map_err(console_error)?
        else {
            return Ok(ConsoleState::Drift(format!(
                "the Guacamole group of server {} is missing",
                row.bms
            )));
        };
        let resources = db
            .find_owned(&owner::resources(&row.project_id))
            .await
            .map_err(console_error)?;
        let live = db.group(group.id).await.map_err(console_error)?;
        if live.as_ref().map(|g| (g.name.as_str(), g.parent))
            != Some((
                server.name.as_str(),
                resources.map_or(Parent::Root, |r| Parent::Group(r.id)),
            ))
        {
            return Ok(ConsoleState::Drift(format!(
                "the Guacamole group of server {} was renamed or moved",
                row.bms
            )));
        }
        let spec = Self::bms_spec(&registry, &server, &row.id);
        self.connection_state_in(&registry, &owner::bms_console(&row.id), &spec, group.id)
            .await
    }

    pub async fn remove_bms(&self, id: &str) -> Result<(), ApiError> {
        self.remove(&[owner::bms_console(id), owner::bms_group(id)])
            .await?;
        // The next tenant's console must not open through them.
        self.update_dependents(id, &DependentUpdate::Disable).await
    }

    /// Makes the gateway's toolbox match its features.
    pub async fn ensure_gateway(&self, gateway: &GatewayRow) -> ConsoleState {
        let result = async {
            let Some(registry) = self.registry().await? else {
                return Ok(ConsoleState::Absent);
            };
            let project = self.store.project_by_id(&gateway.project_id).await?;
            let groups = self.project_groups(&registry, &project).await?;
            let wanted = toolbox(gateway, &self.slot_of(gateway).await?);
            let mut made = Vec::new();
            for (name, tool, command) in &wanted {
                let spec = self
                    .tool_spec(&registry, gateway, name, command, true)
                    .await?;
                let id = registry
                    .db
                    .ensure_connection(
                        &owner::gateway_tool(&gateway.id, tool),
                        groups.toolbox,
                        &spec,
                        true,
                    )
                    .await
                    .map_err(console_error)?;
                made.push(ObjectRef::connection(id));
            }
            for tool in TOOLS.iter().filter(|t| !wanted.iter().any(|w| w.1 == **t)) {
                registry
                    .db
                    .delete_owned(&owner::gateway_tool(&gateway.id, tool))
                    .await
                    .map_err(console_error)?;
            }
            self.grant_members(&registry, &project, &made).await?;
            Ok(ConsoleState::Present {
                id: groups.toolbox,
                url: registry.db.client_url(ObjectRef::group(groups.toolbox)),
            })
        }
        .await;
        settle("gateway", &gateway.id, result)
    }

    /// The gateway's PAGW slot, from the inventory.
    async fn slot_of(&self, gateway: &GatewayRow) -> Result<PagwSlot, ApiError> {
        self.store
            .pagw_slot_inventory()
            .await?
            .into_iter()
            .find(|s| s.public_ip.to_string() == gateway.slot_ip)
            .ok_or_else(|| {
                ApiError::precondition(format!(
                    "the PAGW slot {} is no longer in the inventory",
                    gateway.slot_ip
                ))
            })
    }

    /// A toolbox connection: the gateway's restricted `giif-toolbox`
    /// account with the slot's toolbox key (never the agent's own
    /// credential). `with_secret` reads the key (only writing needs it:
    /// reads never compare secrets).
    async fn tool_spec(
        &self,
        registry: &Registry,
        gateway: &GatewayRow,
        name: &str,
        command: &str,
        with_secret: bool,
    ) -> Result<ConnectionSpec, ApiError> {
        let slot = self.slot_of(gateway).await?;
        let secrets = match (&slot.toolbox_key, with_secret) {
            (Some(key), true) => {
                let key = key.resolve().map_err(|e| {
                    ApiError::precondition(format!("pagw slot {} toolbox_key: {e}", slot.public_ip))
                })?;
                BTreeMap::from([("private-key".to_string(), key)])
            }
            _ => BTreeMap::new(),
        };
        Ok(ConnectionSpec {
            name: name.to_string(),
            protocol: "ssh".into(),
            parameters: BTreeMap::from([
                ("hostname".to_string(), slot.ssh.address.clone()),
                ("port".to_string(), slot.ssh.port.to_string()),
                ("username".to_string(), giif_pagw::TOOLBOX_USER.to_string()),
                ("command".to_string(), command.to_string()),
            ]),
            secrets,
            guacd: registry.guacd.clone(),
            resource: Some(gateway.id.clone()),
            follows_resource_secret: false,
            placement: None,
        })
    }

    pub async fn gateway_state(&self, gateway: &GatewayRow) -> ConsoleState {
        tolerant(
            "gateway",
            &gateway.id,
            self.gateway_state_strict(gateway).await,
        )
    }

    async fn gateway_state_strict(&self, gateway: &GatewayRow) -> Result<ConsoleState, ApiError> {
        let Some(registry) = self.registry().await? else {
            return Ok(ConsoleState::Absent);
        };
        for (name, tool, command) in toolbox(gateway, &self.slot_of(gateway).await?) {
            let spec = self
                .tool_spec(&registry, gateway, name, command, false)
                .await?;
            let state = self
                .connection_state(
                    &registry,
                    &owner::gateway_tool(&gateway.id, tool),
                    &spec,
                    &gateway.project_id,
                )
                .await?;
            if state.drift().is_some() {
                return Ok(state);
            }
        }
        let toolbox = registry
            .db
            .find_owned(&owner::toolbox(&gateway.project_id))
            .await
            .map_err(console_error)?;
        Ok(match toolbox {
            Some(group) => ConsoleState::Present {
                id: group.id,
                url: registry.db.client_url(group),
            },
            None => ConsoleState::Drift("the project's toolbox group is missing".into()),
        })
    }

    pub async fn remove_gateway(&self, id: &str) -> Result<(), ApiError> {
        let owners: Vec<String> = TOOLS.iter().map(|t| owner::gateway_tool(id, t)).collect();
        self.remove(&owners).await
    }

    async fn remove(&self, owners: &[String]) -> Result<(), ApiError> {
        let Some(registry) = self.registry().await? else {
            return Ok(());
        };
        for key in owners {
            registry.db.delete_owned(key).await.map_err(console_error)?;
        }
        Ok(())
    }

    /// A connection of a project's resources or toolbox, compared with
    /// what it must be.
    async fn connection_state(
        &self,
        registry: &Registry,
        key: &str,
        spec: &ConnectionSpec,
        project_id: &str,
    ) -> Result<ConsoleState, ApiError> {
        let Some(found) = registry.db.find_owned(key).await.map_err(console_error)? else {
            return Ok(ConsoleState::Drift(format!(
                "the Guacamole connection {:?} is missing",
                spec.name
            )));
        };
        let live = registry
            .db
            .connection(found.id)
            .await
            .map_err(console_error)?;
        let parent = live.as_ref().map(|l| l.parent);
        let expected_parent = match parent {
            Some(Parent::Group(id)) => self.expected_parent(registry, key, project_id, id).await?,
            _ => None,
        };
        match expected_parent {
            Some(parent) => self.connection_state_in(registry, key, spec, parent).await,
            None => Ok(ConsoleState::Drift(format!(
                "the Guacamole connection {:?} was moved",
                spec.name
            ))),
        }
    }

    /// The group a connection of `project_id` must sit in, if `actual` is it.
    async fn expected_parent(
        &self,
        registry: &Registry,
        key: &str,
        project_id: &str,
        actual: ObjectId,
    ) -> Result<Option<ObjectId>, ApiError> {
        let group_key = if key.starts_with("gateway/") {
            owner::toolbox(project_id)
        } else {
            owner::resources(project_id)
        };
        let group = registry
            .db
            .find_owned(&group_key)
            .await
            .map_err(console_error)?;
        Ok(group.map(|g| g.id).filter(|id| *id == actual))
    }

    async fn connection_state_in(
        &self,
        registry: &Registry,
        key: &str,
        spec: &ConnectionSpec,
        parent: ObjectId,
    ) -> Result<ConsoleState, ApiError> {
        let db = &registry.db;
        let Some(found) = db.find_owned(key).await.map_err(console_error)? else {
            return Ok(ConsoleState::Drift(format!(
                "the Guacamole connection {:?} is missing",
                spec.name
            )));
        };
        let Some(live) = db.connection(found.id).await.map_err(console_error)? else {
            return Ok(ConsoleState::Drift(format!(
                "the Guacamole connection {:?} is missing",
                spec.name
            )));
        };
        let same = live.name == spec.name
            && live.parent == Parent::Group(parent)
            && live.protocol == spec.protocol
            && live.parameters == spec.parameters;
        Ok(if same {
            ConsoleState::Present {
                id: live.id,
                url: db.client_url(found),
            }
        } else {
            ConsoleState::Drift(format!(
                "the Guacamole connection {:?} was changed in Guacamole",
                spec.name
            ))
        })
    }
}

/// A console read that failed (Guacamole's database down, say) does not
/// fail the resource's read: the console is reported unknown.
fn tolerant(kind: &str, id: &str, result: Result<ConsoleState, ApiError>) -> ConsoleState {
    result.unwrap_or_else(|err| {
        tracing::warn!(kind, id, error = %err, "the console could not be read");
        ConsoleState::Unknown
    })
}

fn settle(kind: &str, id: &str, result: Result<ConsoleState, ApiError>) -> ConsoleState {
    match result {
        Ok(state) => state,
        Err(err) => {
            tracing::warn!(kind, id, error = %err, "the console could not be made");
            ConsoleState::Drift(err.message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_come_out_of_api_urls() {
        assert_eq!(
            url_host("https://pve1.example.org:8006"),
            "pve1.example.org"
        );
        assert_eq!(url_host("https://127.0.0.1:40123/api2/json"), "127.0.0.1");
        assert_eq!(url_host("https://[::1]:8006"), "::1");
    }

    #[test]
    fn vm_ids_beyond_the_port_range_get_no_display() {
        assert_eq!(vm_vnc_display(100), Some(100));
        assert_eq!(vm_vnc_display(59_635), Some(59_635));
        assert_eq!(vm_vnc_display(59_636), None);
    }
}

//! The agent API (`giif.agent.v1`) over the store. Validation happens here
//! too: the agent trusts no client to have checked its input.

use giif_proto::agent as api;
use giif_proto::agent::agent_server::Agent;
use giif_proto::tls_incoming::PeerCertificates;
use tonic::{Request, Response, Status};

use crate::bare_metal::Servers;
use crate::consoles::{ConsoleState, Consoles};
use crate::error::ApiError;
use crate::floating::FloatingIps;
use crate::gateways::Gateways;
use crate::store::Store;
use crate::vms::Vms;

pub struct AgentService {
    store: Store,
    consoles: Consoles,
    gateways: Gateways,
    floating: FloatingIps,
    vms: Vms,
    servers: Servers,
}

impl AgentService {
    pub fn new(
        store: Store,
        consoles: Consoles,
        gateways: Gateways,
        vms: Vms,
        servers: Servers,
    ) -> Self {
        let floating = FloatingIps::new(store.clone(), gateways.clone());
        Self {
            store,
            consoles,
            gateways,
            floating,
            vms,
            servers,
        }
    }
}

/// A client's wait, capped: long operations continue after the answer.
fn wait(seconds: u32) -> std::time::Duration {
    std::time::Duration::from_secs(u64::from(seconds.min(3600)))
}

/// The caller's identity: its client certificate's common name.
fn caller<T>(request: &Request<T>) -> String {
    request
        .extensions()
        .get::<PeerCertificates>()
        .and_then(|certs| certs.0.first())
        .and_then(|cert| crate::pki::client_identity(cert.as_ref()))
        .unwrap_or_else(|| "unknown".to_string())
}

fn validate_spec(spec: Option<&api::ProjectSpec>) -> Result<&api::ProjectSpec, ApiError> {
    let spec = spec.ok_or_else(|| ApiError::invalid("spec is required").field("spec"))?;
    if let Some(problem) = giif_proto::rules::dns_label_problem(&spec.name) {
        return Err(
            ApiError::invalid(format!("invalid project name: {problem}")).field("spec.name"),
        );
    }
    if let Some(problem) = spec
        .expires_on
        .as_deref()
        .and_then(giif_proto::rules::date_problem)
    {
        return Err(
            ApiError::invalid(format!("invalid expires_on: {problem}")).field("spec.expires_on")
        );
    }
    let mut users = std::collections::BTreeSet::new();
    for member in &spec.members {
        if let Some(problem) = giif_proto::rules::member_role_problem(&member.role) {
            return Err(
                ApiError::invalid(format!("member {:?}: {problem}", member.user))
                    .field("spec.members"),
            );
        }
        if member.user.is_empty() || !users.insert(member.user.as_str()) {
            return Err(ApiError::invalid(format!(
                "member user {:?} is empty or listed twice; give each user once",
                member.user
            ))
            .field("spec.members"));
        }
    }
    Ok(spec)
}

/// A project with what Guacamole holds for it.
fn with_console(mut project: api::Project, console: &ConsoleState) -> api::Project {
    project.connection_group_id = console.id();
    project.status = console.status("ready").to_string();
    project.last_error = console.drift().unwrap_or_default().to_string();
    project
}

fn required_spec<T>(spec: Option<T>) -> Result<T, ApiError> {
    spec.ok_or_else(|| ApiError::invalid("spec is required").field("spec"))
}

fn required_id(id: &str) -> Result<&str, ApiError> {
    if id.is_empty() {
        Err(ApiError::invalid("id is required").field("id"))
    } else {
        Ok(id)
    }
}

/// GetProjects' limit: one query's parameters, well inside every store's.
const MAX_PROJECTS_PER_GET: usize = 1000;

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl Agent for AgentService {
    async fn get_agent_info(
        &self,
        request: Request<api::GetAgentInfoRequest>,
    ) -> Reply<api::AgentInfo> {
        Ok(Response::new(api::AgentInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            store_backend: self.store.backend().name().to_string(),
            caller_identity: caller(&request),
        }))
    }

    #[tracing::instrument(skip_all, fields(caller = %caller(&request)))]
    async fn create_project(
        &self,
        request: Request<api::CreateProjectRequest>,
    ) -> Reply<api::Project> {
        let request = request.into_inner();
        let spec = validate_spec(request.spec.as_ref())?;
        self.consoles.check_project_users(spec).await?;
        let project = self.store.create_project(&request.request_id, spec).await?;
        let console = self.consoles.ensure_project(&project).await;
        Ok(Response::new(with_console(project, &console)))
    }

    async fn get_project(&self, request: Request<api::GetProjectRequest>) -> Reply<api::Project> {
        let project = match request.into_inner().key {
            Some(api::get_project_request::Key::Id(id)) => self.store.project_by_id(&id).await?,
            Some(api::get_project_request::Key::Name(name)) => {
                self.store.project_by_name(&name).await?
            }
            None => {
                return Err(ApiError::invalid("give an id or a name")
                    .field("key")
                    .into())
            }
        };
        let console = self.consoles.project_state(&project).await;
        Ok(Response::new(with_console(project, &console)))
    }

    async fn get_projects(
        &self,
        request: Request<api::GetProjectsRequest>,
    ) -> Reply<api::GetProjectsResponse> {
        let ids = request.into_inner().ids;
        if ids.len() > MAX_PROJECTS_PER_GET {
            return Err(ApiError::invalid(format!(
                "{} ids asked for at once; ask for at most {MAX_PROJECTS_PER_GET} per call",
                ids.len()
            ))
            .field("ids")
            .into());
        }
        if let Some(n) = ids.iter().position(|id| id.is_empty()) {
            return Err(
                ApiError::invalid(format!("ids[{n}] is empty; give project ids"))
                    .field("ids")
                    .into(),
            );
        }
        let projects = self.store.projects_by_ids(&ids).await?;
        let consoles = self.consoles.project_states(&projects).await;
        Ok(Response::new(api::GetProjectsResponse {
            projects: projects
                .into_iter()
                .zip(&consoles)
                .map(|(project, console)| with_console(project, console))
                .collect(),
        }))
    }

    async fn list_projects(
        &self,
        _: Request<api::ListProjectsRequest>,
    ) -> Reply<api::ListProjectsResponse> {
        Ok(Response::new(api::ListProjectsResponse {
            projects: self.store.list_projects().await?,
        }))
    }

    #[tracing::instrument(skip_all, fields(caller = %caller(&request)))]
    async fn update_project(
        &self,
        request: Request<api::UpdateProjectRequest>,
    ) -> Reply<api::Project> {
        let request = request.into_inner();
        let spec = validate_spec(request.spec.as_ref())?;
        let id = required_id(&request.id)?;
        self.consoles.check_project_users(spec).await?;
        let project = self
            .store
            .update_project(&request.request_id, id, spec)
            .await?;
        let console = self.consoles.ensure_project(&project).await;
        Ok(Response::new(with_console(project, &console)))
    }

    #[tracing::instrument(skip_all, fields(caller = %caller(&request)))]
    async fn delete_project(
        &self,
        request: Request<api::DeleteProjectRequest>,
    ) -> Reply<api::DeleteProjectResponse> {
        let request = request.into_inner();
        let id = required_id(&request.id)?;
        let existed = self.store.delete_project(&request.request_id, id).await?;
        // Also when the row was already gone: a retry finishes the removal.
        self.consoles.remove_project(id).await?;
        Ok(Response::new(api::DeleteProjectResponse { existed }))
    }

    async fn list_vlan_pools(
        &self,
        _: Request<api::ListVlanPoolsRequest>,
    ) -> Reply<api::ListVlanPoolsResponse> {
        let pools = self
            .store
            .vlan_pools()
            .await?
            .into_iter()
            .map(|usage| api::VlanPool {
                free: usage.spec.size().saturating_sub(usage.allocated),
                name: usage.spec.name,
                first: usage.spec.first,
                last: usage.spec.last,
                reserved: usage.spec.reserved,
                allocated: usage.allocated,
            })
            .collect();
        Ok(Response::new(api::ListVlanPoolsResponse { pools }))
    }

    #[tracing::instrument(skip_all, fields(caller = %caller(&request)))]
    async fn create_gateway(
        &self,
        request: Request<api::CreateGatewayRequest>,
    ) -> Reply<api::Gateway> {
        let request = request.into_inner();
        let spec = request
            .spec
            .ok_or_else(|| ApiError::invalid("spec is required").field("spec"))?;
        let gateway = self
            .gateways
            .create(&request.request_id, &spec, wait(request.wait_seconds))
            .await?;
        Ok(Response::new(gateway))
    }

    async fn get_gateway(&self, request: Request<api::GetGatewayRequest>) -> Reply<api::Gateway> {
        let request = request.into_inner();
        Ok(Response::new(
            self.gateways.get(&request.reference, request.live).await?,
        ))
    }

    #[tracing::instrument(skip_all, fields(caller = %caller(&request)))]
    async fn update_gateway(
        &self,
        request: Request<api::UpdateGatewayRequest>,
    ) -> Reply<api::Gateway> {
        let request = request.into_inner();
        let spec = request
            .spec
            .ok_or_else(|| ApiError::invalid("spec is required").field("spec"))?;
        let id = required_id(&request.id)?;
        let gateway = self
            .gateways
            .update(&request.request_id, id, &spec, wait(request.wait_seconds))
            .await?;
        Ok(Response::new(gateway))
    }

    #[tracing::instrument(skip_all, fields(caller = %caller(&request)))]
    async fn delete_gateway(
        &self,
        request: Request<api::DeleteGatewayRequest>,
    ) -> Reply<api::DeleteGatewayResponse> {
        let request = request.into_inner();
        let id = required_id(&request.id)?;
        let existed = self.gateways.delete(&request.request_id, id).await?;
        Ok(Response::new(api::DeleteGatewayResponse { existed }))
    }

    #[tracing::instrument(skip_all, fields(caller = %caller(&request)))]
    async fn create_floating_ip(
        &self,
        request: Request<api::CreateFloatingIpRequest>,
    ) -> Reply<api::FloatingIp> {
        let request = request.into_inner();
        let spec = request
            .spec
            .ok_or_else(|| ApiError::invalid("spec is required").field("spec"))?;
        Ok(Response::new(
            self.floating.create(&request.request_id, &spec).await?,
        ))
    }

    async fn get_floating_ip(
        &self,
        request: Request<api::GetFloatingIpRequest>,
    ) -> Reply<api::FloatingIp> {
        let request = request.into_inner();
        Ok(Response::new(
            self.floating.get(&request.reference, request.live).await?,
        ))
    }

    #[tracing::instrument(skip_all, fields(caller = %caller(&request)))]
    async fn update_floating_ip(
        &self,
        request: Request<api::UpdateFloatingIpRequest>,
    ) -> Reply<api::FloatingIp> {
        let request = request.into_inner();
        let spec = request
            .spec
            .ok_or_else(|| ApiError::invalid("spec is required").field("spec"))?;
        let id = required_id(&request.id)?;
        Ok(Response::new(self.floating.update(id, &spec).await?))
    }

    #[tracing::instrument(skip_all, fields(caller = %caller(&request)))]
    async fn delete_floating_ip(
        &self,
        request: Request<api::DeleteFloatingIpRequest>,
    ) -> Reply<api::DeleteFloatingIpResponse> {
        let request = request.into_inner();
        let id = required_id(&request.id)?;
        let existed = self.floating.delete(id).await?;
        Ok(Response::new(api::DeleteFloatingIpResponse { existed }))
    }

    async fn list_pagw_slots(
        &self,
        _: Request<api::ListPagwSlotsRequest>,
    ) -> Reply<api::ListPagwSlotsResponse> {
        let mut slots = Vec::new();
        for slot in self.store.pagw_slot_inventory().await? {
            let holder = self
                .store
                .gateway_in_slot(&slot.public_ip.to_string())
                .await?;
            slots.push(api::PagwSlot {
                public_ip: slot.public_ip.to_string(),
                netmask: slot.netmask.to_string(),
                gateway: slot.gateway.to_string(),
                host: slot.host,
                default_project: slot.default_project,
                project_id: holder
                    .as_ref()
                    .map(|g| g.project_id.clone())
                    .unwrap_or_default(),
                gateway_id: holder.map(|g| g.id).unwrap_or_default(),
            });
        }
        Ok(Response::new(api::ListPagwSlotsResponse { slots }))
    }

    async fn list_iso_images(
        &self,
        _: Request<api::ListIsoImagesRequest>,
    ) -> Reply<api::ListIsoImagesResponse> {
        let library = self.store.iso_library().await?;
        let images = library
            .images()
            .iter()
            .map(|image| api::IsoImage {
                name: image.name.clone(),
                description: image.description.clone().unwrap_or_default(),
                media_url: image.media_url.clone().unwrap_or_default(),
                pve_volume: image.pve_volume.clone().unwrap_or_default(),
            })
            .collect();
        Ok(Response::new(api::ListIsoImagesResponse { images }))
    }

    #[tracing::instrument(skip_all, fields(caller = %caller(&request)))]
    async fn create_vm(&self, request: Request<api::CreateVmRequest>) -> Reply<api::Vm> {
        let request = request.into_inner();
        let spec = request
            .spec
            .ok_or_else(|| ApiError::invalid("spec is required").field("spec"))?;
        let vm = self
            .vms
            .create(&request.request_id, &spec, wait(request.wait_seconds))
            .await?;
        Ok(Response::new(vm))
    }

    async fn get_vm(&self, request: Request<api::GetVmRequest>) -> Reply<api::Vm> {
        let request = request.into_inner();
        Ok(Response::new(
            self.vms.get(&request.reference, request.live).await?,
        ))
    }

    #[tracing::instrument(skip_all, fields(caller = %caller(&request)))]
    async fn update_vm(&self, request: Request<api::UpdateVmRequest>) -> Reply<api::Vm> {
        let request = request.into_inner();
        let spec = request
            .spec
            .ok_or_else(|| ApiError::invalid("spec is required").field("spec"))?;
        let id = required_id(&request.id)?;
        let vm = self
            .vms
            .update(&request.request_id, id, &spec, wait(request.wait_seconds))
            .await?;
        Ok(Response::new(vm))
    }

    #[tracing::instrument(skip_all, fields(caller = %caller(&request)))]
    async fn delete_vm(
        &self,
        request: Request<api::DeleteVmRequest>,
    ) -> Reply<api::DeleteVmResponse> {
        let request = request.into_inner();
        let id = required_id(&request.id)?;
        let existed = self.vms.delete(&request.request_id, id).await?;
        Ok(Response::new(api::DeleteVmResponse { existed }))
    }

    #[tracing::instrument(skip_all, fields(caller = %caller(&request)))]
    async fn create_bms_assignment(
        &self,
        request: Request<api::CreateBmsAssignmentRequest>,
    ) -> Reply<api::BmsAssignment> {
        let request = request.into_inner();
        let spec = request
            .spec
            .ok_or_else(|| ApiError::invalid("spec is required").field("spec"))?;
        let assignment = self
            .servers
            .create(&request.request_id, &spec, wait(request.wait_seconds))
            .await?;
        Ok(Response::new(assignment))
    }

    async fn get_bms_assignment(
        &self,
        request: Request<api::GetBmsAssignmentRequest>,
    ) -> Reply<api::BmsAssignment> {
        let request = request.into_inner();
        Ok(Response::new(
            self.servers.get(&request.reference, request.live).await?,
        ))
    }

    #[tracing::instrument(skip_all, fields(caller = %caller(&request)))]
    async fn update_bms_assignment(
        &self,
        request: Request<api::UpdateBmsAssignmentRequest>,
    ) -> Reply<api::BmsAssignment> {
        let request = request.into_inner();
        let spec = request
            .spec
            .ok_or_else(|| ApiError::invalid("spec is required").field("spec"))?;
        let id = required_id(&request.id)?;
        let assignment = self
            .servers
            .update(&request.request_id, id, &spec, wait(request.wait_seconds))
            .await?;
        Ok(Response::new(assignment))
    }

    #[tracing::instrument(skip_all, fields(caller = %caller(&request)))]
    async fn delete_bms_assignment(
        &self,
        request: Request<api::DeleteBmsAssignmentRequest>,
    ) -> Reply<api::DeleteBmsAssignmentResponse> {
        let request = request.into_inner();
        let id = required_id(&request.id)?;
        let (existed, warning) = self.servers.delete(&request.request_id, id).await?;
        Ok(Response::new(api::DeleteBmsAssignmentResponse {
            existed,
            warning,
        }))
    }

    async fn list_bms(&self, request: Request<api::ListBmsRequest>) -> Reply<api::ListBmsResponse> {
        let request = request.into_inner();
        Ok(Response::new(api::ListBmsResponse {
            servers: self.servers.list(&request.state, &request.tag).await?,
        }))
    }

    #[tracing::instrument(skip_all, fields(caller = %caller(&request)))]
    async fn create_guacamole_connection(
        &self,
        request: Request<api::CreateGuacamoleConnectionRequest>,
    ) -> Reply<api::GuacamoleConnection> {
        let request = request.into_inner();
        let spec = required_spec(request.spec)?;
        Ok(Response::new(
            self.consoles
                .create_connection(&request.request_id, &spec)
                .await?,
        ))
    }

    async fn get_guacamole_connection(
        &self,
        request: Request<api::GetGuacamoleConnectionRequest>,
    ) -> Reply<api::GuacamoleConnection> {
        let request = request.into_inner();
        let id = required_id(&request.id)?;
        Ok(Response::new(self.consoles.get_connection(id).await?))
    }

    #[tracing::instrument(skip_all, fields(caller = %caller(&request)))]
    async fn update_guacamole_connection(
        &self,
        request: Request<api::UpdateGuacamoleConnectionRequest>,
    ) -> Reply<api::GuacamoleConnection> {
        let request = request.into_inner();
        let spec = required_spec(request.spec)?;
        let id = required_id(&request.id)?;
        Ok(Response::new(
            self.consoles
                .update_connection(id, &spec, request.set_password)
                .await?,
        ))
    }

    #[tracing::instrument(skip_all, fields(caller = %caller(&request)))]
    async fn delete_guacamole_connection(
        &self,
        request: Request<api::DeleteGuacamoleConnectionRequest>,
    ) -> Reply<api::DeleteGuacamoleConnectionResponse> {
        let request = request.into_inner();
        let id = required_id(&request.id)?;
        let existed = self.consoles.delete_connection(id).await?;
        Ok(Response::new(api::DeleteGuacamoleConnectionResponse {
            existed,
        }))
    }
}

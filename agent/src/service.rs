//! The agent API (`giif.agent.v1`) over the store. Validation happens here
//! too: the agent trusts no client to have checked its input.

use giif_proto::agent as api;
use giif_proto::agent::agent_server::Agent;
use tonic::{Request, Response, Status};

use crate::actions::{Action, Actions, Progress};
use crate::bare_metal::Servers;
use crate::consoles::{ConsoleState, Consoles};
use crate::error::ApiError;
use crate::floating::FloatingIps;
use crate::gateways::Gateways;
use crate::store::Store;
use crate::tenancy::gate::{hide_not_found, ProjectObject};
use crate::tenancy::{Gate, Rpc};
use crate::vms::Vms;

pub struct AgentService {
    store: Store,
    gate: Gate,
    consoles: Consoles,
    gateways: Gateways,
    floating: FloatingIps,
    vms: Vms,
    servers: Servers,
    actions: Actions,
}

impl AgentService {
    pub fn new(
        store: Store,
        gate: Gate,
        consoles: Consoles,
        gateways: Gateways,
        vms: Vms,
        servers: Servers,
        floating: FloatingIps,
    ) -> Self {
        let actions = Actions::new(servers.clone(), vms.clone(), gateways.clone());
        Self {
            store,
            gate,
            consoles,
            gateways,
            floating,
            vms,
            servers,
            actions,
        }
    }
}

/// A client's wait, capped: long operations continue after the answer.
fn wait(seconds: u32) -> std::time::Duration {
    std::time::Duration::from_secs(u64::from(seconds.min(3600)))
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
    project.status = console.status().into();
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
        let caller = self.gate.caller(&request).await?;
        self.gate.on_site(&caller, Rpc::GetAgentInfo)?;
        Ok(Response::new(api::AgentInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            store_backend: self.store.backend().name().to_string(),
            caller_identity: caller.name().to_string(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn create_project(
        &self,
        request: Request<api::CreateProjectRequest>,
    ) -> Reply<api::Project> {
        let caller = self.gate.caller(&request).await?;
        let request = request.into_inner();
        let spec = validate_spec(request.spec.as_ref())?;
        let rpc = Rpc::CreateProject;
        let project = self
            .gate
            .audited(&caller, rpc, &request.request_id, "", &spec.name, async {
                self.gate.on_site(&caller, rpc)?;
                crate::tenancy::access::check_project_change(&caller, None, spec)?;
                self.gate.expiry(&caller, None, spec.expires_on.as_deref())?;
                self.consoles.check_project_users(spec).await?;
                match self
                    .store
                    .create_project(&request.request_id, spec, caller.name())
                    .await
                {
                    // Another tenant's project name is taken, but its id is not theirs to learn.
                    Err(error) if error.reason == api::error_detail::Reason::AlreadyExists => {
                        let visible = self.gate.visible(&caller).await?;
                        Err(if visible.contains(&error.subject) {
                            error
                        } else {
                            ApiError::already_exists(format!(
                                "a project named {:?} already exists; project names are unique on the site",
                                spec.name
                            ))
                            .field("spec.name")
                            .hint("Choose another name.")
                        })
                    }
                    other => other,
                }
            })
            .await?;
        let console = self.consoles.ensure_project(&project).await;
        Ok(Response::new(with_console(project, &console)))
    }

    async fn get_project(&self, request: Request<api::GetProjectRequest>) -> Reply<api::Project> {
        let caller = self.gate.caller(&request).await?;
        let (project, reference) = match request.into_inner().key {
            Some(api::get_project_request::Key::Id(id)) => {
                (self.store.project_by_id(&id).await, id)
            }
            Some(api::get_project_request::Key::Name(name)) => {
                (self.store.project_by_name(&name).await, name)
            }
            None => {
                return Err(ApiError::invalid("give an id or a name")
                    .field("key")
                    .into())
            }
        };
        let project = project.map_err(|error| hide_not_found(error, &reference))?;
        self.gate
            .readable(&caller, Rpc::GetProject, &project.id, &reference)
            .await?;
        let console = self.consoles.project_state(&project).await;
        Ok(Response::new(with_console(project, &console)))
    }

    async fn get_projects(
        &self,
        request: Request<api::GetProjectsRequest>,
    ) -> Reply<api::GetProjectsResponse> {
        let caller = self.gate.caller(&request).await?;
        self.gate.on_site(&caller, Rpc::GetProjects)?;
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
        let visible = self.gate.visible(&caller).await?;
        let projects: Vec<_> = self
            .store
            .projects_by_ids(&ids)
            .await?
            .into_iter()
            .filter(|project| visible.contains(&project.id))
            .collect();
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
        request: Request<api::ListProjectsRequest>,
    ) -> Reply<api::ListProjectsResponse> {
        let caller = self.gate.caller(&request).await?;
        self.gate.on_site(&caller, Rpc::ListProjects)?;
        let visible = self.gate.visible(&caller).await?;
        let mut projects = self.store.list_projects().await?;
        projects.retain(|project| visible.contains(&project.id));
        Ok(Response::new(api::ListProjectsResponse { projects }))
    }

    async fn list_objects(
        &self,
        request: Request<api::ListObjectsRequest>,
    ) -> Reply<api::ListObjectsResponse> {
        let caller = self.gate.caller(&request).await?;
        self.gate.on_site(&caller, Rpc::ListObjects)?;
        let visible = self.gate.visible(&caller).await?;
        let objects =
            crate::listing::list(&self.store, &self.consoles, &visible, request.get_ref()).await?;
        Ok(Response::new(api::ListObjectsResponse { objects }))
    }

    type RunActionStream = std::pin::Pin<
        Box<dyn tokio_stream::Stream<Item = Result<api::ActionProgress, Status>> + Send>,
    >;

    /// Checks and finds the action's object before the stream opens, so a
    /// refusal is the call's answer; the action itself runs on its own
    /// task, to its end even if the caller goes away.
    #[tracing::instrument(skip_all)]
    async fn run_action(
        &self,
        request: Request<api::RunActionRequest>,
    ) -> Reply<Self::RunActionStream> {
        let caller = self.gate.caller(&request).await?;
        let request = request.into_inner();
        let action = Action::from_request(&request)?;
        let target = self.actions.target(&action).await?;
        let rpc = Rpc::RunAction;
        self.gate
            .on_project(&caller, rpc, &target.project_id)
            .await?;
        let (progress, stream) = Progress::channel();
        let (gate, actions) = (self.gate.clone(), self.actions.clone());
        tokio::spawn(async move {
            let project = target.project_id.clone();
            let work = actions.run(&action, &target, &progress);
            // Allowed above: only the audit record is left to write.
            let ran = gate
                .audited(
                    &caller,
                    rpc,
                    &request.request_id,
                    &project,
                    &target.id,
                    work,
                )
                .await;
            if let Err(error) = ran {
                progress.fail(error);
            }
        });
        Ok(Response::new(Box::pin(stream)))
    }

    #[tracing::instrument(skip_all)]
    async fn update_project(
        &self,
        request: Request<api::UpdateProjectRequest>,
    ) -> Reply<api::Project> {
        let caller = self.gate.caller(&request).await?;
        let request = request.into_inner();
        let spec = validate_spec(request.spec.as_ref())?;
        let id = required_id(&request.id)?;
        let rpc = Rpc::UpdateProject;
        let project = self
            .gate
            .audited(&caller, rpc, &request.request_id, id, id, async {
                let access = self.gate.on_project(&caller, rpc, id).await?;
                crate::tenancy::access::check_project_change(&caller, access.as_ref(), spec)?;
                let before = self.store.project_by_id(id).await?;
                let before_expiry = before.spec.as_ref().and_then(|s| s.expires_on.as_deref());
                self.gate
                    .expiry(&caller, Some(before_expiry), spec.expires_on.as_deref())?;
                self.consoles.check_project_users(spec).await?;
                self.store
                    .update_project(&request.request_id, id, spec)
                    .await
            })
            .await?;
        let console = self.consoles.ensure_project(&project).await;
        Ok(Response::new(with_console(project, &console)))
    }

    #[tracing::instrument(skip_all)]
    async fn delete_project(
        &self,
        request: Request<api::DeleteProjectRequest>,
    ) -> Reply<api::DeleteProjectResponse> {
        let caller = self.gate.caller(&request).await?;
        let request = request.into_inner();
        let id = required_id(&request.id)?;
        let rpc = Rpc::DeleteProject;
        let existed = self
            .gate
            .audited(&caller, rpc, &request.request_id, id, id, async {
                self.gate.on_project(&caller, rpc, id).await?;
                let existed = self.store.delete_project(&request.request_id, id).await?;
                // Also when the row was already gone: a retry finishes the removal.
                self.consoles.remove_project(id).await?;
                Ok(existed)
            })
            .await?;
        Ok(Response::new(api::DeleteProjectResponse { existed }))
    }

    async fn list_vlan_pools(
        &self,
        request: Request<api::ListVlanPoolsRequest>,
    ) -> Reply<api::ListVlanPoolsResponse> {
        let caller = self.gate.caller(&request).await?;
        self.gate.on_site(&caller, Rpc::ListVlanPools)?;
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

    #[tracing::instrument(skip_all)]
    async fn create_gateway(
        &self,
        request: Request<api::CreateGatewayRequest>,
    ) -> Reply<api::Gateway> {
        let caller = self.gate.caller(&request).await?;
        let request = request.into_inner();
        let spec = required_spec(request.spec)?;
        let (id, project) = (&request.request_id, &spec.project_id);
        let work = self.gateways.create(id, &spec, wait(request.wait_seconds));
        let rpc = Rpc::CreateGateway;
        let gateway = self
            .gate
            .change(&caller, rpc, id, project, "", project, work)
            .await?;
        Ok(Response::new(gateway))
    }

    async fn get_gateway(&self, request: Request<api::GetGatewayRequest>) -> Reply<api::Gateway> {
        let caller = self.gate.caller(&request).await?;
        let request = request.into_inner();
        let get =
            |reference: String, live| async move { self.gateways.get(&reference, live).await };
        let rpc = Rpc::GetGateway;
        let gateway = self
            .gate
            .read(&caller, rpc, &request.reference, request.live, get)
            .await?;
        Ok(Response::new(gateway))
    }

    #[tracing::instrument(skip_all)]
    async fn update_gateway(
        &self,
        request: Request<api::UpdateGatewayRequest>,
    ) -> Reply<api::Gateway> {
        let caller = self.gate.caller(&request).await?;
        let request = request.into_inner();
        let spec = required_spec(request.spec)?;
        let id = required_id(&request.id)?;
        let current = self.gateways.get(id, false).await?;
        let work = self
            .gateways
            .update(&request.request_id, id, &spec, wait(request.wait_seconds));
        let (rpc, project) = (Rpc::UpdateGateway, current.project_id());
        let gateway = self
            .gate
            .change(
                &caller,
                rpc,
                &request.request_id,
                project,
                &spec.project_id,
                id,
                work,
            )
            .await?;
        Ok(Response::new(gateway))
    }

    #[tracing::instrument(skip_all)]
    async fn delete_gateway(
        &self,
        request: Request<api::DeleteGatewayRequest>,
    ) -> Reply<api::DeleteGatewayResponse> {
        let caller = self.gate.caller(&request).await?;
        let request = request.into_inner();
        let id = required_id(&request.id)?;
        let get = |id: String| async move { self.gateways.get(&id, false).await };
        let work = self.gateways.delete(&request.request_id, id);
        let existed = self
            .gate
            .delete(
                &caller,
                Rpc::DeleteGateway,
                &request.request_id,
                id,
                get,
                work,
            )
            .await?;
        Ok(Response::new(api::DeleteGatewayResponse {
            existed: existed.unwrap_or(false),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn create_floating_ip(
        &self,
        request: Request<api::CreateFloatingIpRequest>,
    ) -> Reply<api::FloatingIp> {
        let caller = self.gate.caller(&request).await?;
        let request = request.into_inner();
        let spec = required_spec(request.spec)?;
        let (id, project) = (&request.request_id, &spec.project_id);
        let work = self.floating.create(id, &spec);
        let rpc = Rpc::CreateFloatingIp;
        let floating = self
            .gate
            .change(&caller, rpc, id, project, "", project, work)
            .await?;
        Ok(Response::new(floating))
    }

    async fn get_floating_ip(
        &self,
        request: Request<api::GetFloatingIpRequest>,
    ) -> Reply<api::FloatingIp> {
        let caller = self.gate.caller(&request).await?;
        let request = request.into_inner();
        let get =
            |reference: String, live| async move { self.floating.get(&reference, live).await };
        let rpc = Rpc::GetFloatingIp;
        let floating = self
            .gate
            .read(&caller, rpc, &request.reference, request.live, get)
            .await?;
        Ok(Response::new(floating))
    }

    #[tracing::instrument(skip_all)]
    async fn update_floating_ip(
        &self,
        request: Request<api::UpdateFloatingIpRequest>,
    ) -> Reply<api::FloatingIp> {
        let caller = self.gate.caller(&request).await?;
        let request = request.into_inner();
        let spec = required_spec(request.spec)?;
        let id = required_id(&request.id)?;
        let current = self.floating.get(id, false).await?;
        let work = self.floating.update(id, &spec);
        let (rpc, project) = (Rpc::UpdateFloatingIp, current.project_id());
        let floating = self
            .gate
            .change(
                &caller,
                rpc,
                &request.request_id,
                project,
                &spec.project_id,
                id,
                work,
            )
            .await?;
        Ok(Response::new(floating))
    }

    #[tracing::instrument(skip_all)]
    async fn delete_floating_ip(
        &self,
        request: Request<api::DeleteFloatingIpRequest>,
    ) -> Reply<api::DeleteFloatingIpResponse> {
        let caller = self.gate.caller(&request).await?;
        let request = request.into_inner();
        let id = required_id(&request.id)?;
        let get = |id: String| async move { self.floating.get(&id, false).await };
        let work = self.floating.delete(&request.request_id, id);
        let existed = self
            .gate
            .delete(
                &caller,
                Rpc::DeleteFloatingIp,
                &request.request_id,
                id,
                get,
                work,
            )
            .await?;
        Ok(Response::new(api::DeleteFloatingIpResponse {
            existed: existed.unwrap_or(false),
        }))
    }

    async fn list_pagw_slots(
        &self,
        request: Request<api::ListPagwSlotsRequest>,
    ) -> Reply<api::ListPagwSlotsResponse> {
        let caller = self.gate.caller(&request).await?;
        self.gate.on_site(&caller, Rpc::ListPagwSlots)?;
        let visible = self.gate.visible(&caller).await?;
        let mut slots = Vec::new();
        for slot in self.store.pagw_slot_inventory().await? {
            let holder = self
                .store
                .gateway_in_slot(&slot.public_ip.to_string())
                .await?;
            // A slot another tenant holds is not listed: it is neither free
            // nor theirs.
            if holder
                .as_ref()
                .is_some_and(|g| !visible.contains(&g.project_id))
            {
                continue;
            }
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
        request: Request<api::ListIsoImagesRequest>,
    ) -> Reply<api::ListIsoImagesResponse> {
        let caller = self.gate.caller(&request).await?;
        self.gate.on_site(&caller, Rpc::ListIsoImages)?;
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

    #[tracing::instrument(skip_all)]
    async fn create_vm(&self, request: Request<api::CreateVmRequest>) -> Reply<api::Vm> {
        let caller = self.gate.caller(&request).await?;
        let request = request.into_inner();
        let spec = required_spec(request.spec)?;
        let (id, project) = (&request.request_id, &spec.project_id);
        let work = self.vms.create(id, &spec, wait(request.wait_seconds));
        let rpc = Rpc::CreateVm;
        let vm = self
            .gate
            .change(&caller, rpc, id, project, "", &spec.name, work)
            .await?;
        Ok(Response::new(vm))
    }

    async fn get_vm(&self, request: Request<api::GetVmRequest>) -> Reply<api::Vm> {
        let caller = self.gate.caller(&request).await?;
        let request = request.into_inner();
        let get = |reference: String, live| async move { self.vms.get(&reference, live).await };
        let vm = self
            .gate
            .read(&caller, Rpc::GetVm, &request.reference, request.live, get)
            .await?;
        Ok(Response::new(vm))
    }

    #[tracing::instrument(skip_all)]
    async fn update_vm(&self, request: Request<api::UpdateVmRequest>) -> Reply<api::Vm> {
        let caller = self.gate.caller(&request).await?;
        let request = request.into_inner();
        let spec = required_spec(request.spec)?;
        let id = required_id(&request.id)?;
        let current = self.vms.get(id, false).await?;
        let work = self
            .vms
            .update(&request.request_id, id, &spec, wait(request.wait_seconds));
        let (rpc, project) = (Rpc::UpdateVm, current.project_id());
        let vm = self
            .gate
            .change(
                &caller,
                rpc,
                &request.request_id,
                project,
                &spec.project_id,
                id,
                work,
            )
            .await?;
        Ok(Response::new(vm))
    }

    #[tracing::instrument(skip_all)]
    async fn delete_vm(
        &self,
        request: Request<api::DeleteVmRequest>,
    ) -> Reply<api::DeleteVmResponse> {
        let caller = self.gate.caller(&request).await?;
        let request = request.into_inner();
        let id = required_id(&request.id)?;
        let get = |id: String| async move { self.vms.get(&id, false).await };
        let work = self.vms.delete(&request.request_id, id);
        let existed = self
            .gate
            .delete(&caller, Rpc::DeleteVm, &request.request_id, id, get, work)
            .await?;
        Ok(Response::new(api::DeleteVmResponse {
            existed: existed.unwrap_or(false),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn create_bms_assignment(
        &self,
        request: Request<api::CreateBmsAssignmentRequest>,
    ) -> Reply<api::BmsAssignment> {
        let caller = self.gate.caller(&request).await?;
        let request = request.into_inner();
        let spec = required_spec(request.spec)?;
        let (id, project) = (&request.request_id, &spec.project_id);
        let work = async {
            match self
                .servers
                .create(id, &spec, wait(request.wait_seconds))
                .await
            {
                Err(error) if error.reason == api::error_detail::Reason::AlreadyExists => {
                    Err(self.name_holder_if_visible(&caller, error).await)
                }
                other => other,
            }
        };
        let rpc = Rpc::CreateBmsAssignment;
        let assignment = self
            .gate
            .change(&caller, rpc, id, project, "", &spec.bms, work)
            .await?;
        Ok(Response::new(assignment))
    }

    async fn get_bms_assignment(
        &self,
        request: Request<api::GetBmsAssignmentRequest>,
    ) -> Reply<api::BmsAssignment> {
        let caller = self.gate.caller(&request).await?;
        let request = request.into_inner();
        let get = |reference: String, live| async move { self.servers.get(&reference, live).await };
        let rpc = Rpc::GetBmsAssignment;
        let assignment = self
            .gate
            .read(&caller, rpc, &request.reference, request.live, get)
            .await?;
        Ok(Response::new(assignment))
    }

    /// Moving a server to another project needs rights on both.
    #[tracing::instrument(skip_all)]
    async fn update_bms_assignment(
        &self,
        request: Request<api::UpdateBmsAssignmentRequest>,
    ) -> Reply<api::BmsAssignment> {
        let caller = self.gate.caller(&request).await?;
        let request = request.into_inner();
        let spec = required_spec(request.spec)?;
        let id = required_id(&request.id)?;
        let current = self.servers.get(id, false).await?;
        let work = self
            .servers
            .update(&request.request_id, id, &spec, wait(request.wait_seconds));
        let (rpc, project) = (Rpc::UpdateBmsAssignment, current.project_id());
        let assignment = self
            .gate
            .change(
                &caller,
                rpc,
                &request.request_id,
                project,
                &spec.project_id,
                id,
                work,
            )
            .await?;
        Ok(Response::new(assignment))
    }

    #[tracing::instrument(skip_all)]
    async fn delete_bms_assignment(
        &self,
        request: Request<api::DeleteBmsAssignmentRequest>,
    ) -> Reply<api::DeleteBmsAssignmentResponse> {
        let caller = self.gate.caller(&request).await?;
        let request = request.into_inner();
        let id = required_id(&request.id)?;
        let get = |id: String| async move { self.servers.get(&id, false).await };
        let work = self.servers.delete(&request.request_id, id);
        let rpc = Rpc::DeleteBmsAssignment;
        let (existed, warning) = self
            .gate
            .delete(&caller, rpc, &request.request_id, id, get, work)
            .await?
            .unwrap_or_default();
        Ok(Response::new(api::DeleteBmsAssignmentResponse {
            existed,
            warning,
        }))
    }

    async fn list_bms(&self, request: Request<api::ListBmsRequest>) -> Reply<api::ListBmsResponse> {
        let caller = self.gate.caller(&request).await?;
        self.gate.on_site(&caller, Rpc::ListBms)?;
        let visible = self.gate.visible(&caller).await?;
        let request = request.into_inner();
        let mut servers = self.servers.list(&request.state, &request.tag).await?;
        servers.retain(|s| s.project_id.is_empty() || visible.contains(&s.project_id));
        Ok(Response::new(api::ListBmsResponse { servers }))
    }

    #[tracing::instrument(skip_all)]
    async fn create_guacamole_connection(
        &self,
        request: Request<api::CreateGuacamoleConnectionRequest>,
    ) -> Reply<api::GuacamoleConnection> {
        let caller = self.gate.caller(&request).await?;
        let request = request.into_inner();
        let spec = required_spec(request.spec)?;
        let rpc = Rpc::CreateGuacamoleConnection;
        let (id, project) = (&request.request_id, &spec.project_id);
        let work = async {
            self.connection_allowed(&caller, &spec).await?;
            self.consoles.create_connection(id, &spec).await
        };
        let connection = self
            .gate
            .change(&caller, rpc, id, project, "", &spec.name, work)
            .await?;
        Ok(Response::new(connection))
    }

    async fn get_guacamole_connection(
        &self,
        request: Request<api::GetGuacamoleConnectionRequest>,
    ) -> Reply<api::GuacamoleConnection> {
        let caller = self.gate.caller(&request).await?;
        let request = request.into_inner();
        let id = required_id(&request.id)?;
        let get = |id: String, _| async move { self.consoles.get_connection(&id).await };
        let rpc = Rpc::GetGuacamoleConnection;
        let connection = self.gate.read(&caller, rpc, id, false, get).await?;
        Ok(Response::new(connection))
    }

    #[tracing::instrument(skip_all)]
    async fn update_guacamole_connection(
        &self,
        request: Request<api::UpdateGuacamoleConnectionRequest>,
    ) -> Reply<api::GuacamoleConnection> {
        let caller = self.gate.caller(&request).await?;
        let request = request.into_inner();
        let spec = required_spec(request.spec)?;
        let id = required_id(&request.id)?;
        let current = self.consoles.get_connection(id).await?;
        let rpc = Rpc::UpdateGuacamoleConnection;
        let work = async {
            self.connection_allowed(&caller, &spec).await?;
            self.consoles
                .update_connection(id, &spec, request.set_password)
                .await
        };
        let project = current.project_id();
        let connection = self
            .gate
            .change(
                &caller,
                rpc,
                &request.request_id,
                project,
                &spec.project_id,
                id,
                work,
            )
            .await?;
        Ok(Response::new(connection))
    }

    #[tracing::instrument(skip_all)]
    async fn delete_guacamole_connection(
        &self,
        request: Request<api::DeleteGuacamoleConnectionRequest>,
    ) -> Reply<api::DeleteGuacamoleConnectionResponse> {
        let caller = self.gate.caller(&request).await?;
        let request = request.into_inner();
        let id = required_id(&request.id)?;
        let get = |id: String| async move { self.consoles.get_connection(&id).await };
        let work = self.consoles.delete_connection(id);
        let rpc = Rpc::DeleteGuacamoleConnection;
        let existed = self
            .gate
            .delete(&caller, rpc, &request.request_id, id, get, work)
            .await?;
        Ok(Response::new(api::DeleteGuacamoleConnectionResponse {
            existed: existed.unwrap_or(false),
        }))
    }
}

impl AgentService {
    /// A server held elsewhere: which project holds it, for a caller who
    /// may see that project (the message names none otherwise).
    async fn name_holder_if_visible(
        &self,
        caller: &crate::tenancy::Caller,
        mut error: ApiError,
    ) -> ApiError {
        let Ok(holder) = self.servers.get(&error.subject, false).await else {
            return error;
        };
        let visible = self.gate.visible(caller).await;
        if visible.is_ok_and(|visible| visible.contains(holder.project_id())) {
            if let Ok(project) = self.store.project_by_id(holder.project_id()).await {
                let name = project.spec.map(|spec| spec.name).unwrap_or_default();
                error.message = format!(
                    "{}, {name:?} ({}), as assignment {}",
                    error.message, project.id, holder.id
                );
            }
        }
        error
    }

    /// A connection goes into a project the caller manages and, unless they
    /// are an operator, targets only that project's resources or subnet.
    async fn connection_allowed(
        &self,
        caller: &crate::tenancy::Caller,
        spec: &api::GuacamoleConnectionSpec,
    ) -> Result<(), ApiError> {
        let resource_project = if spec.resource_id.is_empty() || caller.is_operator() {
            None
        } else if let Ok(vm) = self.vms.get(&spec.resource_id, false).await {
            Some(vm.project_id().to_string())
        } else if let Ok(assignment) = self.servers.get(&spec.resource_id, false).await {
            Some(assignment.project_id().to_string())
        } else {
            None
        };
        crate::tenancy::access::check_connection_target(caller, spec, resource_project.as_deref())
    }
}

//! The provider's client for the agent API: mTLS to the agent, retries of
//! transient failures with the same request id, and typed errors.

mod connect;
mod error;
mod project_reads;
mod retry;

pub use connect::{AgentSettings, ConnectError};
pub use error::{AgentError, Reason};

use std::future::Future;
use std::time::Duration;

use giif_proto::agent as api;
use giif_proto::agent::agent_client::AgentClient as Grpc;
use giif_proto::requests::AgentRequest;
use tonic::transport::Channel;

use retry::with_retries;

/// A connected agent. Cheap to clone; calls share one HTTP/2 connection.
#[derive(Clone)]
pub struct AgentClient {
    grpc: Grpc<Channel>,
    reads: std::sync::Arc<project_reads::ProjectReads>,
}

/// Generates one method per agent RPC: `name(request, deadline)`, retried
/// while the agent says a retry may help. Mutating requests carry their
/// request id, so a retry never does the work twice.
macro_rules! rpcs {
    ($($name:ident($request:ty) -> $response:ty;)*) => {
        $(
            pub async fn $name(&self, request: $request, deadline: Duration) -> Result<$response, AgentError> {
                self.call(deadline, request, |mut grpc, request| async move { grpc.$name(request).await })
                    .await
            }
        )*
    };
}

/// Generates one live-or-stored read per object type:
/// `name(reference, live, deadline)`.
macro_rules! gets {
    ($($name:ident($request:ident { $key:ident }) -> $response:ty;)*) => {
        $(
            pub async fn $name(&self, reference: &str, live: bool, deadline: Duration) -> Result<$response, AgentError> {
                let request = api::$request { $key: reference.to_string(), live };
                self.call(deadline, request, |mut grpc, request| async move { grpc.$name(request).await })
                    .await
            }
        )*
    };
}

impl AgentClient {
    pub async fn connect(settings: &AgentSettings) -> Result<Self, ConnectError> {
        let channel = connect::channel(settings).await?;
        Ok(Self {
            grpc: Grpc::new(channel),
            reads: Default::default(),
        })
    }

    async fn call<Req, Resp, F, Fut>(
        &self,
        deadline: Duration,
        request: Req,
        method: F,
    ) -> Result<Resp, AgentError>
    where
        Req: Clone + AgentRequest,
        F: Fn(Grpc<Channel>, Req) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, tonic::Status>>,
    {
        let idempotent = request.request_id().is_some_and(|id| !id.is_empty());
        with_retries(deadline, idempotent, || {
            method(self.grpc.clone(), request.clone())
        })
        .await
    }

    /// Starts an action: its progress messages as the agent sends them.
    /// Only a call the agent never saw is repeated: an action is not
    /// idempotent.
    pub async fn run_action(
        &self,
        request: api::RunActionRequest,
        deadline: Duration,
    ) -> Result<tonic::Streaming<api::ActionProgress>, AgentError> {
        with_retries(deadline, false, || {
            let mut grpc = self.grpc.clone();
            let mut call = tonic::Request::new(request.clone());
            call.set_timeout(deadline);
            async move { grpc.run_action(call).await }
        })
        .await
    }

    pub async fn agent_info(&self) -> Result<api::AgentInfo, AgentError> {
        self.get_agent_info(api::GetAgentInfoRequest {}, Duration::from_secs(10))
            .await
    }

    pub async fn get_project(
        &self,
        key: api::get_project_request::Key,
        deadline: Duration,
    ) -> Result<api::Project, AgentError> {
        self.get_project_by(api::GetProjectRequest { key: Some(key) }, deadline)
            .await
    }

    async fn get_project_by(
        &self,
        request: api::GetProjectRequest,
        deadline: Duration,
    ) -> Result<api::Project, AgentError> {
        self.call(deadline, request, |mut grpc, request| async move {
            grpc.get_project(request).await
        })
        .await
    }

    pub async fn list_pagw_slots(
        &self,
        deadline: Duration,
    ) -> Result<Vec<api::PagwSlot>, AgentError> {
        self.call(
            deadline,
            api::ListPagwSlotsRequest {},
            |mut grpc, request| async move { grpc.list_pagw_slots(request).await },
        )
        .await
        .map(|r| r.slots)
    }

    pub async fn list_iso_images(
        &self,
        deadline: Duration,
    ) -> Result<Vec<api::IsoImage>, AgentError> {
        self.call(
            deadline,
            api::ListIsoImagesRequest {},
            |mut grpc, request| async move { grpc.list_iso_images(request).await },
        )
        .await
        .map(|r| r.images)
    }

    gets! {
        get_gateway(GetGatewayRequest { reference }) -> api::Gateway;
        get_floating_ip(GetFloatingIpRequest { reference }) -> api::FloatingIp;
        get_vm(GetVmRequest { reference }) -> api::Vm;
        get_bms_assignment(GetBmsAssignmentRequest { reference }) -> api::BmsAssignment;
        get_guacamole_connection(GetGuacamoleConnectionRequest { id }) -> api::GuacamoleConnection;
    }

    rpcs! {
        get_agent_info(api::GetAgentInfoRequest) -> api::AgentInfo;
        create_project(api::CreateProjectRequest) -> api::Project;
        get_projects(api::GetProjectsRequest) -> api::GetProjectsResponse;
        update_project(api::UpdateProjectRequest) -> api::Project;
        delete_project(api::DeleteProjectRequest) -> api::DeleteProjectResponse;
        create_gateway(api::CreateGatewayRequest) -> api::Gateway;
        update_gateway(api::UpdateGatewayRequest) -> api::Gateway;
        delete_gateway(api::DeleteGatewayRequest) -> api::DeleteGatewayResponse;
        create_floating_ip(api::CreateFloatingIpRequest) -> api::FloatingIp;
        update_floating_ip(api::UpdateFloatingIpRequest) -> api::FloatingIp;
        delete_floating_ip(api::DeleteFloatingIpRequest) -> api::DeleteFloatingIpResponse;
        create_vm(api::CreateVmRequest) -> api::Vm;
        update_vm(api::UpdateVmRequest) -> api::Vm;
        delete_vm(api::DeleteVmRequest) -> api::DeleteVmResponse;
        create_bms_assignment(api::CreateBmsAssignmentRequest) -> api::BmsAssignment;
        update_bms_assignment(api::UpdateBmsAssignmentRequest) -> api::BmsAssignment;
        delete_bms_assignment(api::DeleteBmsAssignmentRequest) -> api::DeleteBmsAssignmentResponse;
        list_bms(api::ListBmsRequest) -> api::ListBmsResponse;
        create_guacamole_connection(api::CreateGuacamoleConnectionRequest) -> api::GuacamoleConnection;
        update_guacamole_connection(api::UpdateGuacamoleConnectionRequest) -> api::GuacamoleConnection;
        delete_guacamole_connection(api::DeleteGuacamoleConnectionRequest) -> api::DeleteGuacamoleConnectionResponse;
        list_objects(api::ListObjectsRequest) -> api::ListObjectsResponse;
    }
}

//! The provider's client for the agent API: mTLS to the agent, retries of
//! transient failures with the same request id, and typed errors.

mod connect;
mod error;
mod retry;

pub use connect::{AgentSettings, ConnectError};
pub use error::{AgentError, Reason};

use giif_proto::agent as api;
use giif_proto::agent::agent_client::AgentClient as Grpc;
use tonic::transport::Channel;

use retry::with_retries;

/// A connected agent. Cheap to clone; calls share one HTTP/2 connection.
#[derive(Clone)]
pub struct AgentClient {
    grpc: Grpc<Channel>,
}

impl AgentClient {
    pub async fn connect(settings: &AgentSettings) -> Result<Self, ConnectError> {
        let channel = connect::channel(settings).await?;
        Ok(Self {
            grpc: Grpc::new(channel),
        })
    }

    pub async fn agent_info(&self) -> Result<api::AgentInfo, AgentError> {
        with_retries(std::time::Duration::from_secs(10), || {
            let mut grpc = self.grpc.clone();
            async move { grpc.get_agent_info(api::GetAgentInfoRequest {}).await }
        })
        .await
    }

    pub async fn create_project(
        &self,
        request: api::CreateProjectRequest,
        deadline: std::time::Duration,
    ) -> Result<api::Project, AgentError> {
        with_retries(deadline, || {
            let mut grpc = self.grpc.clone();
            let request = request.clone();
            async move { grpc.create_project(request).await }
        })
        .await
    }

    pub async fn get_project(
        &self,
        key: api::get_project_request::Key,
        deadline: std::time::Duration,
    ) -> Result<api::Project, AgentError> {
        with_retries(deadline, || {
            let mut grpc = self.grpc.clone();
            let request = api::GetProjectRequest {
                key: Some(key.clone()),
            };
            async move { grpc.get_project(request).await }
        })
        .await
    }

    pub async fn update_project(
        &self,
        request: api::UpdateProjectRequest,
        deadline: std::time::Duration,
    ) -> Result<api::Project, AgentError> {
        with_retries(deadline, || {
            let mut grpc = self.grpc.clone();
            let request = request.clone();
            async move { grpc.update_project(request).await }
        })
        .await
    }

    pub async fn delete_project(
        &self,
        request: api::DeleteProjectRequest,
        deadline: std::time::Duration,
    ) -> Result<api::DeleteProjectResponse, AgentError> {
        with_retries(deadline, || {
            let mut grpc = self.grpc.clone();
            let request = request.clone();
            async move { grpc.delete_project(request).await }
        })
        .await
    }

    pub async fn create_gateway(
        &self,
        request: api::CreateGatewayRequest,
        deadline: std::time::Duration,
    ) -> Result<api::Gateway, AgentError> {
        with_retries(deadline, || {
            let mut grpc = self.grpc.clone();
            let request = request.clone();
            async move { grpc.create_gateway(request).await }
        })
        .await
    }

    pub async fn get_gateway(
        &self,
        reference: &str,
        live: bool,
        deadline: std::time::Duration,
    ) -> Result<api::Gateway, AgentError> {
        with_retries(deadline, || {
            let mut grpc = self.grpc.clone();
            let request = api::GetGatewayRequest {
                reference: reference.to_string(),
                live,
            };
            async move { grpc.get_gateway(request).await }
        })
        .await
    }

    pub async fn update_gateway(
        &self,
        request: api::UpdateGatewayRequest,
        deadline: std::time::Duration,
    ) -> Result<api::Gateway, AgentError> {
        with_retries(deadline, || {
            let mut grpc = self.grpc.clone();
            let request = request.clone();
            async move { grpc.update_gateway(request).await }
        })
        .await
    }

    pub async fn delete_gateway(
        &self,
        request: api::DeleteGatewayRequest,
        deadline: std::time::Duration,
    ) -> Result<api::DeleteGatewayResponse, AgentError> {
        with_retries(deadline, || {
            let mut grpc = self.grpc.clone();
            let request = request.clone();
            async move { grpc.delete_gateway(request).await }
        })
        .await
    }

    pub async fn create_bms_assignment(
        &self,
        request: api::CreateBmsAssignmentRequest,
        deadline: std::time::Duration,
    ) -> Result<api::BmsAssignment, AgentError> {
        with_retries(deadline, || {
            let mut grpc = self.grpc.clone();
            let request = request.clone();
            async move { grpc.create_bms_assignment(request).await }
        })
        .await
    }

    pub async fn update_bms_assignment(
        &self,
        request: api::UpdateBmsAssignmentRequest,
        deadline: std::time::Duration,
    ) -> Result<api::BmsAssignment, AgentError> {
        with_retries(deadline, || {
            let mut grpc = self.grpc.clone();
            let request = request.clone();
            async move { grpc.update_bms_assignment(request).await }
        })
        .await
    }

    pub async fn delete_bms_assignment(
        &self,
        request: api::DeleteBmsAssignmentRequest,
        deadline: std::time::Duration,
    ) -> Result<api::DeleteBmsAssignmentResponse, AgentError> {
        with_retries(deadline, || {
            let mut grpc = self.grpc.clone();
            let request = request.clone();
            async move { grpc.delete_bms_assignment(request).await }
        })
        .await
    }

    pub async fn list_bms(
        &self,
        request: api::ListBmsRequest,
        deadline: std::time::Duration,
    ) -> Result<api::ListBmsResponse, AgentError> {
        with_retries(deadline, || {
            let mut grpc = self.grpc.clone();
            let request = request.clone();
            async move { grpc.list_bms(request).await }
        })
        .await
    }

    pub async fn get_bms_assignment(
        &self,
        reference: &str,
        live: bool,
        deadline: std::time::Duration,
    ) -> Result<api::BmsAssignment, AgentError> {
        with_retries(deadline, || {
            let mut grpc = self.grpc.clone();
            let request = api::GetBmsAssignmentRequest {
                reference: reference.to_string(),
                live,
            };
            async move { grpc.get_bms_assignment(request).await }
        })
        .await
    }
}

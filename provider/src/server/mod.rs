//! The tfplugin6 Provider service. This file only routes; each RPC lives in
//! its own file, and protocol types stop at this layer.

mod actions;
mod apply_resource_change;
mod configure_provider;
mod get_metadata;
mod get_provider_schema;
mod identity;
mod import_resource_state;
mod list_resource;
mod plan_resource_change;
mod private;
mod read_data_source;
mod read_resource;
mod upgrade_resource_state;
mod validate;
mod values;

#[cfg(test)]
mod tests;

use giif_proto::tfplugin6 as tf;
use tf::provider_server::Provider;
use tokio::sync::RwLock;
use tonic::{Request, Response, Status};

use crate::agent::AgentClient;
use crate::diag::{Diagnostic, Diagnostics};
use crate::resources::Registry;

pub struct ProviderService {
    registry: Registry,
    /// Set by ConfigureProvider; every CRUD call needs it.
    agent: RwLock<Option<AgentClient>>,
}

impl ProviderService {
    pub fn new() -> Self {
        Self {
            registry: Registry::new(),
            agent: RwLock::new(None),
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    async fn agent(&self) -> Result<AgentClient, Diagnostics> {
        self.agent.read().await.clone().ok_or_else(|| {
            Diagnostic::error(
                "Provider not configured",
                "The giif provider has no agent connection; ConfigureProvider failed or was not \
                 called. Check the provider block and the GIIF_* environment variables.",
            )
            .into()
        })
    }
}

impl Default for ProviderService {
    fn default() -> Self {
        Self::new()
    }
}

fn unknown_type(kind: &str, type_name: &str) -> Diagnostics {
    Diagnostic::error(
        format!("Unknown {kind} type {type_name:?}"),
        format!("This version of the giif provider has no {kind} named {type_name:?}."),
    )
    .into()
}

#[tonic::async_trait]
impl Provider for ProviderService {
    async fn get_metadata(
        &self,
        _: Request<tf::get_metadata::Request>,
    ) -> Result<Response<tf::get_metadata::Response>, Status> {
        Ok(Response::new(get_metadata::handle(self)))
    }

    async fn get_provider_schema(
        &self,
        _: Request<tf::get_provider_schema::Request>,
    ) -> Result<Response<tf::get_provider_schema::Response>, Status> {
        Ok(Response::new(get_provider_schema::handle(self)))
    }

    async fn get_resource_identity_schemas(
        &self,
        _: Request<tf::get_resource_identity_schemas::Request>,
    ) -> Result<Response<tf::get_resource_identity_schemas::Response>, Status> {
        Ok(Response::new(identity::schemas(self)))
    }

    async fn upgrade_resource_identity(
        &self,
        request: Request<tf::upgrade_resource_identity::Request>,
    ) -> Result<Response<tf::upgrade_resource_identity::Response>, Status> {
        Ok(Response::new(identity::upgrade(self, request.into_inner())))
    }

    async fn validate_provider_config(
        &self,
        request: Request<tf::validate_provider_config::Request>,
    ) -> Result<Response<tf::validate_provider_config::Response>, Status> {
        Ok(Response::new(validate::provider_config(
            request.into_inner(),
        )))
    }

    async fn validate_resource_config(
        &self,
        request: Request<tf::validate_resource_config::Request>,
    ) -> Result<Response<tf::validate_resource_config::Response>, Status> {
        Ok(Response::new(validate::resource_config(
            self,
            request.into_inner(),
        )))
    }

    async fn validate_data_resource_config(
        &self,
        request: Request<tf::validate_data_resource_config::Request>,
    ) -> Result<Response<tf::validate_data_resource_config::Response>, Status> {
        Ok(Response::new(validate::data_resource_config(
            self,
            request.into_inner(),
        )))
    }

    async fn upgrade_resource_state(
        &self,
        request: Request<tf::upgrade_resource_state::Request>,
    ) -> Result<Response<tf::upgrade_resource_state::Response>, Status> {
        Ok(Response::new(upgrade_resource_state::handle(
            self,
            request.into_inner(),
        )))
    }

    async fn configure_provider(
        &self,
        request: Request<tf::configure_provider::Request>,
    ) -> Result<Response<tf::configure_provider::Response>, Status> {
        Ok(Response::new(
            configure_provider::handle(self, request.into_inner()).await,
        ))
    }

    async fn read_resource(
        &self,
        request: Request<tf::read_resource::Request>,
    ) -> Result<Response<tf::read_resource::Response>, Status> {
        Ok(Response::new(
            read_resource::handle(self, request.into_inner()).await,
        ))
    }

    async fn plan_resource_change(
        &self,
        request: Request<tf::plan_resource_change::Request>,
    ) -> Result<Response<tf::plan_resource_change::Response>, Status> {
        Ok(Response::new(plan_resource_change::handle(
            self,
            request.into_inner(),
        )))
    }

    async fn apply_resource_change(
        &self,
        request: Request<tf::apply_resource_change::Request>,
    ) -> Result<Response<tf::apply_resource_change::Response>, Status> {
        Ok(Response::new(
            apply_resource_change::handle(self, request.into_inner()).await,
        ))
    }

    async fn import_resource_state(
        &self,
        request: Request<tf::import_resource_state::Request>,
    ) -> Result<Response<tf::import_resource_state::Response>, Status> {
        Ok(Response::new(
            import_resource_state::handle(self, request.into_inner()).await,
        ))
    }

    async fn read_data_source(
        &self,
        request: Request<tf::read_data_source::Request>,
    ) -> Result<Response<tf::read_data_source::Response>, Status> {
        Ok(Response::new(
            read_data_source::handle(self, request.into_inner()).await,
        ))
    }

    type ListResourceStream = list_resource::Events;

    async fn list_resource(
        &self,
        request: Request<tf::list_resource::Request>,
    ) -> Result<Response<Self::ListResourceStream>, Status> {
        Ok(Response::new(
            list_resource::handle(self, request.into_inner()).await,
        ))
    }

    async fn validate_list_resource_config(
        &self,
        request: Request<tf::validate_list_resource_config::Request>,
    ) -> Result<Response<tf::validate_list_resource_config::Response>, Status> {
        Ok(Response::new(list_resource::validate(
            self,
            request.into_inner(),
        )))
    }

    async fn validate_action_config(
        &self,
        request: Request<tf::validate_action_config::Request>,
    ) -> Result<Response<tf::validate_action_config::Response>, Status> {
        Ok(Response::new(actions::validate(self, request.into_inner())))
    }

    async fn plan_action(
        &self,
        request: Request<tf::plan_action::Request>,
    ) -> Result<Response<tf::plan_action::Response>, Status> {
        Ok(Response::new(actions::plan(self, request.into_inner())))
    }

    type InvokeActionStream = actions::Events;

    async fn invoke_action(
        &self,
        request: Request<tf::invoke_action::Request>,
    ) -> Result<Response<Self::InvokeActionStream>, Status> {
        Ok(Response::new(
            actions::invoke(self, request.into_inner()).await,
        ))
    }

    async fn stop_provider(
        &self,
        _: Request<tf::stop_provider::Request>,
    ) -> Result<Response<tf::stop_provider::Response>, Status> {
        // In-flight agent operations are durable on the agent side; there is
        // nothing here to stop but the process, which Terraform ends itself.
        tracing::info!("Terraform asked the provider to stop");
        Ok(Response::new(tf::stop_provider::Response {
            error: String::new(),
        }))
    }
}

//! ConfigureProvider: resolve the settings and connect to the agent once
//! for this process; every later call reuses the connection.

use giif_proto::tfplugin6 as tf;

use super::values::decode;
use super::ProviderService;
use crate::agent::AgentClient;
use crate::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::provider_config::{resolve, PROVIDER_SCHEMA};

pub async fn handle(
    service: &ProviderService,
    request: tf::configure_provider::Request,
) -> tf::configure_provider::Response {
    let diags = match configure(service, request).await {
        Ok(()) => Diagnostics::default(),
        Err(diags) => diags,
    };
    tf::configure_provider::Response {
        diagnostics: diags.to_proto(),
    }
}

async fn configure(
    service: &ProviderService,
    request: tf::configure_provider::Request,
) -> Result<(), Diagnostics> {
    let config = decode(
        request.config.as_ref(),
        &PROVIDER_SCHEMA.value_type(),
        "provider configuration",
    )?;
    let settings = resolve(&config)?;
    let client = AgentClient::connect(&settings).await.map_err(|err| {
        Diagnostics::from(
            Diagnostic::error(
                "Cannot connect to the giif agent",
                format!(
                    "{err}.\n\nCheck that giif-agent is running at this endpoint, that ca_cert is \
                     the CA of that agent, and that client_cert was issued by it."
                ),
            )
            .at(AttrPath::attr("endpoint")),
        )
    })?;
    tracing::info!(endpoint = %settings.endpoint, terraform = %request.terraform_version, "connected to the giif agent");
    *service.agent.write().await = Some(client);
    Ok(())
}

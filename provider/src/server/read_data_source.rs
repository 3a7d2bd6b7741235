//! ReadDataSource: look something up on the agent.

use std::time::Duration;

use giif_proto::tfplugin6 as tf;

use super::values::{decode, encode};
use super::{unknown_type, ProviderService};
use crate::diag::Diagnostics;
use crate::resources::Ctx;

pub async fn handle(
    service: &ProviderService,
    request: tf::read_data_source::Request,
) -> tf::read_data_source::Response {
    match read(service, &request).await {
        Ok(state) => tf::read_data_source::Response {
            state: Some(state),
            ..Default::default()
        },
        Err(diags) => tf::read_data_source::Response {
            diagnostics: diags.to_proto(),
            ..Default::default()
        },
    }
}

async fn read(
    service: &ProviderService,
    request: &tf::read_data_source::Request,
) -> Result<tf::DynamicValue, Diagnostics> {
    let source = service
        .registry()
        .data_source(&request.type_name)
        .ok_or_else(|| unknown_type("data source", &request.type_name))?;
    let ty = source.schema().value_type();
    let config = decode(request.config.as_ref(), &ty, "configuration")?;
    let agent = service.agent().await?;
    let ctx = Ctx {
        agent: &agent,
        request_id: String::new(),
        timeout: Duration::from_secs(5 * 60),
        config: &config,
        warnings: Default::default(),
    };
    let state = source.read(&ctx, &config).await?;
    encode(&state, &ty)
}

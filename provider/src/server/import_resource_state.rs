//! ImportResourceState: find an existing object by the id the user gave.

use std::time::Duration;

use giif_proto::tfplugin6 as tf;

use super::values::encode;
use super::{unknown_type, ProviderService};
use crate::diag::Diagnostics;
use crate::resources::Ctx;
use crate::tfvalue::Value;

pub async fn handle(
    service: &ProviderService,
    request: tf::import_resource_state::Request,
) -> tf::import_resource_state::Response {
    match import(service, &request).await {
        Ok(state) => tf::import_resource_state::Response {
            imported_resources: vec![tf::import_resource_state::ImportedResource {
                type_name: request.type_name.clone(),
                state: Some(state),
                private: Vec::new(),
            }],
            ..Default::default()
        },
        Err(diags) => tf::import_resource_state::Response {
            diagnostics: diags.to_proto(),
            ..Default::default()
        },
    }
}

async fn import(
    service: &ProviderService,
    request: &tf::import_resource_state::Request,
) -> Result<tf::DynamicValue, Diagnostics> {
    let resource = service
        .registry()
        .resource(&request.type_name)
        .ok_or_else(|| unknown_type("resource", &request.type_name))?;
    let agent = service.agent().await?;
    let ctx = Ctx {
        agent: &agent,
        request_id: String::new(),
        timeout: Duration::from_secs(5 * 60),
        config: &Value::Null,
        warnings: Default::default(),
    };
    let state = resource.import(&ctx, &request.id).await?;
    let schema = resource.schema();
    encode(&schema.without_write_only(&state), &schema.value_type())
}

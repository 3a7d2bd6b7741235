//! ImportResourceState: find an existing object by the id the user gave.

use std::time::Duration;

use giif_proto::tfplugin6 as tf;

use super::values::encode;
use super::{identity, unknown_type, ProviderService};
use crate::diag::Diagnostics;
use crate::resources::Ctx;
use crate::tfvalue::Value;

pub async fn handle(
    service: &ProviderService,
    request: tf::import_resource_state::Request,
) -> tf::import_resource_state::Response {
    match import(service, &request).await {
        Ok((state, identity)) => tf::import_resource_state::Response {
            imported_resources: vec![tf::import_resource_state::ImportedResource {
                type_name: request.type_name.clone(),
                state: Some(state),
                private: Vec::new(),
                identity,
            }],
            ..Default::default()
        },
        Err(diags) => tf::import_resource_state::Response {
            diagnostics: diags.to_proto(),
            ..Default::default()
        },
    }
}

/// The imported state and its identity. An import block gives either an
/// id (any reference the type's import takes) or an identity.
async fn import(
    service: &ProviderService,
    request: &tf::import_resource_state::Request,
) -> Result<(tf::DynamicValue, Option<tf::ResourceIdentityData>), Diagnostics> {
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
    let reference = match &request.identity {
        Some(given) if request.id.is_empty() => identity::id_of(given)?,
        _ => request.id.clone(),
    };
    let state = resource.import(&ctx, &reference).await?;
    let schema = resource.schema();
    let encoded = encode(&schema.without_write_only(&state), &schema.value_type())?;
    Ok((encoded, identity::encoded(identity::of_state(&state))))
}

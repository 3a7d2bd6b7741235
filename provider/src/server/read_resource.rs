//! ReadResource: refresh from the agent. A gone object reads as null, so
//! Terraform plans to create it again.

use std::time::Duration;

use giif_proto::tfplugin6 as tf;

use super::values::{decode, encode};
use super::{identity, unknown_type, ProviderService};
use crate::diag::Diagnostics;
use crate::resources::{Ctx, Operation};
use crate::tfvalue::Value;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5 * 60);

pub async fn handle(
    service: &ProviderService,
    request: tf::read_resource::Request,
) -> tf::read_resource::Response {
    match read(service, &request).await {
        Ok((new_state, new_identity)) => tf::read_resource::Response {
            new_state: Some(new_state),
            new_identity,
            private: request.private,
            ..Default::default()
        },
        Err(diags) => tf::read_resource::Response {
            new_state: request.current_state,
            new_identity: request.current_identity,
            private: request.private,
            diagnostics: diags.to_proto(),
            ..Default::default()
        },
    }
}

/// The fresh state, and its identity: a state written before identities
/// existed gets its identity here.
async fn read(
    service: &ProviderService,
    request: &tf::read_resource::Request,
) -> Result<(tf::DynamicValue, Option<tf::ResourceIdentityData>), Diagnostics> {
    let resource = service
        .registry()
        .resource(&request.type_name)
        .ok_or_else(|| unknown_type("resource", &request.type_name))?;
    let ty = resource.schema().value_type();
    let current = decode(request.current_state.as_ref(), &ty, "current state")?;
    if current.is_null() {
        return Ok((encode(&Value::Null, &ty)?, None));
    }
    let agent = service.agent().await?;
    let ctx = Ctx {
        agent: &agent,
        request_id: String::new(),
        timeout: Operation::Read.timeout(&current, DEFAULT_TIMEOUT),
        config: &Value::Null,
        warnings: Default::default(),
    };
    let fresh = resource.read(&ctx, &current).await?;
    let fresh = fresh.map_or(Value::Null, |state| {
        resource.schema().without_write_only(&state)
    });
    Ok((
        encode(&fresh, &ty)?,
        identity::encoded(identity::of_state(&fresh)),
    ))
}

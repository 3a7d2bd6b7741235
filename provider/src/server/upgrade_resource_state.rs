//! UpgradeResourceState: stored JSON state to the current schema. All
//! schemas are at version 0, so this decodes and re-encodes, dropping
//! attributes that no longer exist.

use giif_proto::tfplugin6 as tf;

use super::values::encode;
use super::{unknown_type, ProviderService};
use crate::diag::{Diagnostic, Diagnostics};
use crate::tfvalue::decode_json;

pub fn handle(
    service: &ProviderService,
    request: tf::upgrade_resource_state::Request,
) -> tf::upgrade_resource_state::Response {
    let (upgraded_state, diags) = match upgrade(service, &request) {
        Ok(value) => (Some(value), Diagnostics::default()),
        Err(diags) => (None, diags),
    };
    tf::upgrade_resource_state::Response {
        upgraded_state,
        diagnostics: diags.to_proto(),
    }
}

fn upgrade(
    service: &ProviderService,
    request: &tf::upgrade_resource_state::Request,
) -> Result<tf::DynamicValue, Diagnostics> {
    let resource = service
        .registry()
        .resource(&request.type_name)
        .ok_or_else(|| unknown_type("resource", &request.type_name))?;
    let schema = resource.schema();
    if request.version > schema.version {
        return Err(Diagnostic::error(
            "State from a newer provider",
            format!(
                "This {} was written by a provider with schema version {}, newer than this \
                 provider's {}. Upgrade the giif provider.",
                request.type_name, request.version, schema.version
            ),
        )
        .into());
    }
    let json = request
        .raw_state
        .as_ref()
        .map(|raw| raw.json.as_slice())
        .filter(|json| !json.is_empty())
        .ok_or_else(|| {
            Diagnostics::from(Diagnostic::error(
                "Unsupported state format",
                "The stored state is in the legacy flatmap format, which the giif provider never \
                 wrote. Remove the resource from state and import it again.",
            ))
        })?;
    let ty = schema.value_type();
    let value = decode_json(json, &ty).map_err(|err| {
        Diagnostics::from(Diagnostic::error(
            "Cannot read the stored state",
            format!("{err}. Remove the resource from state and import it again."),
        ))
    })?;
    encode(&value, &ty)
}

//! ValidateProviderConfig, ValidateResourceConfig and
//! ValidateDataResourceConfig: the schema's rules, at plan time.
//!
//! A Terraform that does not know write-only attributes (before 1.11) says
//! so by leaving `write_only_attributes_allowed` out of its client
//! capabilities; it would keep the value in the plan and state, so a
//! configuration that sets one is refused.

use giif_proto::tfplugin6 as tf;

use super::values::decode;
use super::{unknown_type, ProviderService};
use crate::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::provider_config::PROVIDER_SCHEMA;
use crate::schema::{validate_config, Schema};
use crate::tfvalue::Value;

pub fn provider_config(
    request: tf::validate_provider_config::Request,
) -> tf::validate_provider_config::Response {
    let diags = match decode(
        request.config.as_ref(),
        &PROVIDER_SCHEMA.value_type(),
        "provider configuration",
    ) {
        Ok(config) => validate_config(&PROVIDER_SCHEMA, &config),
        Err(diags) => diags,
    };
    tf::validate_provider_config::Response {
        diagnostics: diags.to_proto(),
    }
}

pub fn resource_config(
    service: &ProviderService,
    request: tf::validate_resource_config::Request,
) -> tf::validate_resource_config::Response {
    let diags = match service.registry().resource(&request.type_name) {
        None => unknown_type("resource", &request.type_name),
        Some(resource) => {
            match decode(
                request.config.as_ref(),
                &resource.schema().value_type(),
                "configuration",
            ) {
                Ok(config) => {
                    let mut diags = validate_config(resource.schema(), &config);
                    let write_only_allowed = request
                        .client_capabilities
                        .as_ref()
                        .is_some_and(|c| c.write_only_attributes_allowed);
                    if !write_only_allowed {
                        diags.extend(write_only_refused(resource.schema(), &config));
                    }
                    resource.validate(&config, &mut diags);
                    diags
                }
                Err(diags) => diags,
            }
        }
    };
    tf::validate_resource_config::Response {
        diagnostics: diags.to_proto(),
    }
}

/// One error per write-only attribute the configuration sets, for a client
/// that cannot handle them.
pub fn write_only_refused(schema: &Schema, config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::default();
    for attribute in schema.write_only() {
        if !config.get(attribute.name).is_null() {
            diags.push(
                Diagnostic::error(
                    "Write-only attribute not supported",
                    format!(
                        "`{}` is write-only: Terraform passes it to the provider without keeping it in the plan or \
                         the state. This Terraform or OpenTofu does not support write-only attributes (OpenTofu \
                         1.8 to 1.10 and Terraform before 1.11 do not); use Terraform 1.11 or OpenTofu \
                         1.11 or later, or leave `{}` out.",
                        attribute.name, attribute.name
                    ),
                )
                .at(AttrPath::attr(attribute.name)),
            );
        }
    }
    diags
}

pub fn data_resource_config(
    service: &ProviderService,
    request: tf::validate_data_resource_config::Request,
) -> tf::validate_data_resource_config::Response {
    let diags: Diagnostics = match service.registry().data_source(&request.type_name) {
        None => unknown_type("data source", &request.type_name),
        Some(source) => {
            match decode(
                request.config.as_ref(),
                &source.schema().value_type(),
                "configuration",
            ) {
                Ok(config) => validate_config(source.schema(), &config),
                Err(diags) => diags,
            }
        }
    };
    tf::validate_data_resource_config::Response {
        diagnostics: diags.to_proto(),
    }
}

//! ValidateProviderConfig, ValidateResourceConfig and
//! ValidateDataResourceConfig: the schema's rules, at plan time.

use giif_proto::tfplugin6 as tf;

use super::values::decode;
use super::{unknown_type, ProviderService};
use crate::diag::Diagnostics;
use crate::provider_config::PROVIDER_SCHEMA;
use crate::schema::validate_config;

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

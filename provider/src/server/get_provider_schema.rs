use giif_proto::tfplugin6 as tf;

use super::ProviderService;
use crate::provider_config::PROVIDER_SCHEMA;

pub fn capabilities() -> tf::ServerCapabilities {
    tf::ServerCapabilities {
        plan_destroy: false,
        // The schema never changes within one binary, so Terraform may cache it.
        get_provider_schema_optional: true,
        move_resource_state: false,
    }
}

pub fn handle(service: &ProviderService) -> tf::get_provider_schema::Response {
    let registry = service.registry();
    tf::get_provider_schema::Response {
        provider: Some(PROVIDER_SCHEMA.to_proto()),
        resource_schemas: registry
            .resources
            .iter()
            .map(|r| (r.type_name().to_string(), r.schema().to_proto()))
            .collect(),
        data_source_schemas: registry
            .data_sources
            .iter()
            .map(|d| (d.type_name().to_string(), d.schema().to_proto()))
            .collect(),
        diagnostics: Vec::new(),
        provider_meta: None,
        server_capabilities: Some(capabilities()),
        list_resource_schemas: registry
            .resources
            .iter()
            .map(|r| (r.type_name().to_string(), r.list_schema().to_proto()))
            .collect(),
        action_schemas: registry
            .actions
            .iter()
            .map(|a| {
                let schema = tf::ActionSchema {
                    schema: Some(a.schema.to_proto()),
                };
                (a.type_name.to_string(), schema)
            })
            .collect(),
    }
}

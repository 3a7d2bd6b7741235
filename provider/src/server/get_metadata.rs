use giif_proto::tfplugin6 as tf;

use super::ProviderService;

pub fn handle(service: &ProviderService) -> tf::get_metadata::Response {
    let registry = service.registry();
    tf::get_metadata::Response {
        server_capabilities: Some(super::get_provider_schema::capabilities()),
        diagnostics: Vec::new(),
        resources: registry
            .resources
            .iter()
            .map(|r| tf::get_metadata::ResourceMetadata {
                type_name: r.type_name().to_string(),
            })
            .collect(),
        list_resources: registry
            .resources
            .iter()
            .map(|r| tf::get_metadata::ListResourceMetadata {
                type_name: r.type_name().to_string(),
            })
            .collect(),
        actions: registry
            .actions
            .iter()
            .map(|a| tf::get_metadata::ActionMetadata {
                type_name: a.type_name.to_string(),
            })
            .collect(),
        data_sources: registry
            .data_sources
            .iter()
            .map(|d| tf::get_metadata::DataSourceMetadata {
                type_name: d.type_name().to_string(),
            })
            .collect(),
    }
}

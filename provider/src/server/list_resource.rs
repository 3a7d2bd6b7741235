//! ListResource and ValidateListResourceConfig: `terraform query` (Terraform
//! 1.14 onwards). Every managed resource type is also a list resource of
//! the same name; its list block's `config` holds the filters. Each object
//! found is one event with its identity, so Terraform can write an import
//! block for it, and with `include_resource` its whole state.

use std::pin::Pin;
use std::time::Duration;

use giif_proto::tfplugin6 as tf;
use tokio_stream::Stream;
use tonic::Status;

use super::values::{decode, encode};
use super::{identity, unknown_type, ProviderService};
use crate::diag::Diagnostics;
use crate::resources::{Ctx, Resource};
use crate::schema::validate_config;
use crate::tfvalue::Value;

pub type Events = Pin<Box<dyn Stream<Item = Result<tf::list_resource::Event, Status>> + Send>>;

/// How long a listing may take, objects' reads included.
const TIMEOUT: Duration = Duration::from_secs(5 * 60);

pub fn validate(
    service: &ProviderService,
    request: tf::validate_list_resource_config::Request,
) -> tf::validate_list_resource_config::Response {
    let diags = match service.registry().resource(&request.type_name) {
        None => unknown_type("list resource", &request.type_name),
        Some(resource) => {
            let schema = resource.list_schema();
            match decode(
                request.config.as_ref(),
                &schema.value_type(),
                "list configuration",
            ) {
                Ok(config) => validate_config(schema, &config),
                Err(diags) => diags,
            }
        }
    };
    tf::validate_list_resource_config::Response {
        diagnostics: diags.to_proto(),
    }
}

pub async fn handle(service: &ProviderService, request: tf::list_resource::Request) -> Events {
    let events = match list(service, &request).await {
        Ok(events) => events,
        // One event with the error: Terraform stops there and shows it.
        Err(diags) => vec![tf::list_resource::Event {
            diagnostic: diags.to_proto(),
            ..Default::default()
        }],
    };
    Box::pin(tokio_stream::iter(events.into_iter().map(Ok)))
}

async fn list(
    service: &ProviderService,
    request: &tf::list_resource::Request,
) -> Result<Vec<tf::list_resource::Event>, Diagnostics> {
    let resource = service
        .registry()
        .resource(&request.type_name)
        .ok_or_else(|| unknown_type("list resource", &request.type_name))?;
    let filter = decode(
        request.config.as_ref(),
        &resource.list_schema().value_type(),
        "list configuration",
    )?;
    let agent = service.agent().await?;
    let ctx = Ctx {
        agent: &agent,
        request_id: String::new(),
        timeout: TIMEOUT,
        config: &Value::Null,
        warnings: Default::default(),
    };
    // Terraform always sends a limit (100 unless the block sets one).
    let limit = usize::try_from(request.limit)
        .ok()
        .filter(|limit| *limit > 0)
        .unwrap_or(usize::MAX);
    let found = resource
        .list(&ctx, &filter, request.include_resource_object, limit)
        .await?;
    found
        .into_iter()
        .map(|listed| event(resource, listed))
        .collect()
}

fn event(
    resource: &dyn Resource,
    listed: crate::resources::listing::Listed,
) -> Result<tf::list_resource::Event, Diagnostics> {
    let resource_object = match &listed.state {
        Some(state) => {
            let schema = resource.schema();
            Some(encode(
                &schema.without_write_only(state),
                &schema.value_type(),
            )?)
        }
        None => None,
    };
    Ok(tf::list_resource::Event {
        identity: identity::encoded(Some(identity::of_id(&listed.id))),
        display_name: listed.display_name,
        resource_object,
        diagnostic: Vec::new(),
    })
}

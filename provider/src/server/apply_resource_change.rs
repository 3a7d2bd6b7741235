//! ApplyResourceChange: create, update or delete through the agent. The
//! configuration goes along, since write-only values are only there; the
//! new state never carries them.

use std::time::Duration;

use giif_proto::tfplugin6 as tf;

use super::values::{decode, encode};
use super::{identity, private, unknown_type, ProviderService};
use crate::diag::Diagnostics;
use crate::resources::{Ctx, Operation};
use crate::schema::Schema;
use crate::tfvalue::{Type, Value};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20 * 60);

pub async fn handle(
    service: &ProviderService,
    request: tf::apply_resource_change::Request,
) -> tf::apply_resource_change::Response {
    let (new_state, identified, diags) = apply(service, &request).await;
    tf::apply_resource_change::Response {
        new_identity: identity::encoded(identified.as_ref().and_then(identity::of_state)),
        new_state,
        private: Vec::new(),
        diagnostics: diags.to_proto(),
        legacy_type_system: false,
    }
}

/// The new state, the state whose identity goes with it (none when the
/// object is gone), and the diagnostics.
type Applied = (Option<tf::DynamicValue>, Option<Value>, Diagnostics);

async fn apply(service: &ProviderService, request: &tf::apply_resource_change::Request) -> Applied {
    let Some(resource) = service.registry().resource(&request.type_name) else {
        return (None, None, unknown_type("resource", &request.type_name));
    };
    let schema = resource.schema();
    let ty = schema.value_type();
    let values = decode(request.prior_state.as_ref(), &ty, "prior state").and_then(|prior| {
        let planned = decode(request.planned_state.as_ref(), &ty, "planned state")?;
        let config = decode(request.config.as_ref(), &ty, "configuration")?;
        Ok((prior, planned, config))
    });
    let (prior, planned, config) = match values {
        Ok(values) => values,
        Err(diags) => return (request.prior_state.clone(), None, diags),
    };
    // A failed change keeps the prior state, and its identity.
    let kept = |diags| (request.prior_state.clone(), Some(prior.clone()), diags);
    let agent = match service.agent().await {
        Ok(agent) => agent,
        Err(diags) => return kept(diags),
    };
    let mut ctx = Ctx {
        agent: &agent,
        request_id: private::request_id(&request.planned_private),
        timeout: DEFAULT_TIMEOUT,
        config: &Value::Null,
        warnings: Default::default(),
    };

    if planned.is_null() {
        ctx.timeout = Operation::Delete.timeout(&prior, DEFAULT_TIMEOUT);
        return match resource.delete(&ctx, &prior).await {
            Ok(()) => (null_state(&ty), None, Diagnostics::default()),
            // Only warnings: the object is gone, with something to say.
            Err(diags) if !diags.has_errors() => (null_state(&ty), None, diags),
            Err(diags) => kept(diags),
        };
    }
    ctx.config = &config;
    if prior.is_null() {
        ctx.timeout = Operation::Create.timeout(&planned, DEFAULT_TIMEOUT);
        return match resource.create(&ctx, &planned).await {
            Ok(state) => encoded(schema, &state, ctx.take_warnings()),
            Err(failure) => match failure.partial {
                // Keep what exists so Terraform taints it rather than losing it.
                Some(partial) => encoded(schema, &partial, failure.diags),
                None => (null_state(&ty), None, failure.diags),
            },
        };
    }
    ctx.timeout = Operation::Update.timeout(&planned, DEFAULT_TIMEOUT);
    match resource.update(&ctx, &prior, &planned).await {
        Ok(state) => encoded(schema, &state, ctx.take_warnings()),
        Err(diags) => kept(diags),
    }
}

/// The new state for Terraform, write-only attributes null (Terraform
/// rejects a provider that returns one).
fn encoded(schema: &Schema, value: &Value, mut diags: Diagnostics) -> Applied {
    match encode(&schema.without_write_only(value), &schema.value_type()) {
        Ok(state) => (Some(state), Some(value.clone()), diags),
        Err(more) => {
            diags.extend(more);
            (None, None, diags)
        }
    }
}

fn null_state(ty: &Type) -> Option<tf::DynamicValue> {
    encode(&Value::Null, ty).ok()
}

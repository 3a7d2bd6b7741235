//! PlanResourceChange: the schema's plan plus a request id for apply.

use giif_proto::tfplugin6 as tf;

use super::values::{decode, encode};
use super::{identity, private, unknown_type, ProviderService};
use crate::diag::Diagnostics;
use crate::schema::plan_change;

pub fn handle(
    service: &ProviderService,
    request: tf::plan_resource_change::Request,
) -> tf::plan_resource_change::Response {
    match plan(service, &request) {
        Ok(response) => response,
        Err(diags) => tf::plan_resource_change::Response {
            diagnostics: diags.to_proto(),
            ..Default::default()
        },
    }
}

fn plan(
    service: &ProviderService,
    request: &tf::plan_resource_change::Request,
) -> Result<tf::plan_resource_change::Response, Diagnostics> {
    let resource = service
        .registry()
        .resource(&request.type_name)
        .ok_or_else(|| unknown_type("resource", &request.type_name))?;
    let ty = resource.schema().value_type();
    let prior = decode(request.prior_state.as_ref(), &ty, "prior state")?;
    let proposed = decode(request.proposed_new_state.as_ref(), &ty, "proposed state")?;
    let config = decode(request.config.as_ref(), &ty, "configuration")?;

    if proposed.is_null() {
        // A destroy: nothing to plan.
        return Ok(tf::plan_resource_change::Response {
            planned_state: request.proposed_new_state.clone(),
            ..Default::default()
        });
    }
    let mut outcome = plan_change(resource.schema(), &prior, &proposed, &config);
    // Resource rules for in-place updates; a replacement starts afresh.
    if !prior.is_null() && outcome.requires_replace.is_empty() {
        let mut diags = Diagnostics::default();
        resource.modify_plan(&prior, &mut outcome.planned, &mut diags);
        if diags.has_errors() {
            return Err(diags);
        }
        if outcome.planned != prior {
            for attribute in resource.schema().attributes.iter().filter(|a| a.volatile) {
                outcome
                    .planned
                    .set(attribute.name, crate::tfvalue::Value::Unknown);
            }
        }
    }
    let unchanged = outcome.planned == prior;
    Ok(tf::plan_resource_change::Response {
        planned_state: Some(encode(&outcome.planned, &ty)?),
        requires_replace: outcome
            .requires_replace
            .iter()
            .map(|p| p.to_proto())
            .collect(),
        // A create's id is the agent's to give: its identity comes with
        // the apply.
        planned_identity: identity::encoded(identity::of_state(&outcome.planned)),
        planned_private: if unchanged {
            request.prior_private.clone()
        } else {
            private::new_planned_private()
        },
        ..Default::default()
    })
}

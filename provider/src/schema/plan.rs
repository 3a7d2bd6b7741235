//! Planning from the schema alone: what a create, update or replace will
//! leave unknown, and which changes force a replacement. Resources add their
//! own rules on top.

use super::model::{Presence, Schema};
use crate::diag::AttrPath;
use crate::tfvalue::Value;

#[derive(Debug)]
pub struct PlanOutcome {
    pub planned: Value,
    pub requires_replace: Vec<AttrPath>,
}

/// `prior` is null for a create. `proposed` is Terraform's proposed new
/// state: the configuration with prior values in computed attributes that
/// the configuration leaves null.
pub fn plan_change(
    schema: &Schema,
    prior: &Value,
    proposed: &Value,
    config: &Value,
) -> PlanOutcome {
    let mut planned = proposed.clone();
    // Defaults stand in for what the configuration leaves out, so removing
    // a setting returns it to its default.
    for attribute in &schema.attributes {
        if let (Some(default), Value::Null) = (&attribute.default, config.get(attribute.name)) {
            planned.set(attribute.name, default.clone());
        }
    }
    if prior.is_null() {
        mark_computed_unknown(schema, &mut planned, config);
        return PlanOutcome {
            planned,
            requires_replace: Vec::new(),
        };
    }
    let requires_replace: Vec<AttrPath> = schema
        .attributes
        .iter()
        .filter(|a| a.force_new && prior.get(a.name) != proposed.get(a.name))
        .map(|a| AttrPath::attr(a.name))
        .collect();
    if !requires_replace.is_empty() {
        // A new object will be made: everything it computes is new too.
        mark_computed_unknown(schema, &mut planned, config);
    } else if &planned != prior {
        for attribute in schema.attributes.iter().filter(|a| a.volatile) {
            planned.set(attribute.name, Value::Unknown);
        }
    }
    PlanOutcome {
        planned,
        requires_replace,
    }
}

/// For a new object, computed-only attributes become unknown, and so do
/// optional+computed ones the configuration leaves null.
fn mark_computed_unknown(schema: &Schema, planned: &mut Value, config: &Value) {
    for attribute in &schema.attributes {
        let unknown = match attribute.presence {
            Presence::Computed => true,
            Presence::OptionalComputed => {
                config.get(attribute.name).is_null() && attribute.default.is_none()
            }
            _ => false,
        };
        if unknown {
            planned.set(attribute.name, Value::Unknown);
        }
    }
}

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
/// the configuration leaves null. Write-only attributes are planned null
/// whatever the configuration says: Terraform refuses any other plan.
pub fn plan_change(
    schema: &Schema,
    prior: &Value,
    proposed: &Value,
    config: &Value,
) -> PlanOutcome {
    let mut planned = schema.without_write_only(proposed);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Attribute;

    fn schema() -> Schema {
        Schema {
            version: 0,
            description: "",
            attributes: vec![
                Attribute::string("id").computed(),
                Attribute::string("name").required(),
                Attribute::string("password")
                    .optional()
                    .sensitive()
                    .write_only(),
                Attribute::number("password_version").optional(),
            ],
            blocks: vec![],
        }
    }

    fn value(name: &str, password: Value, version: Option<i64>) -> Value {
        Value::object([
            ("id", Value::Null),
            ("name", Value::string(name)),
            ("password", password),
            ("password_version", version.map_or(Value::Null, Value::int)),
        ])
    }

    #[test]
    fn a_create_plans_write_only_values_null() {
        let config = value("desk", Value::string("s3cret"), Some(1));
        let outcome = plan_change(&schema(), &Value::Null, &config, &config);
        assert_eq!(outcome.planned.get("password"), &Value::Null);
        assert_eq!(outcome.planned.get("password_version"), &Value::int(1));
        assert_eq!(outcome.planned.get("id"), &Value::Unknown);
        // Unknown (say, from a generated password) is planned null too.
        let config = value("desk", Value::Unknown, None);
        let outcome = plan_change(&schema(), &Value::Null, &config, &config);
        assert_eq!(outcome.planned.get("password"), &Value::Null);
    }

    #[test]
    fn a_new_write_only_value_alone_changes_nothing() {
        let mut prior = value("desk", Value::Null, Some(1));
        prior.set("id", Value::string("42"));
        let mut proposed = value("desk", Value::string("another"), Some(1));
        proposed.set("id", Value::string("42"));
        let outcome = plan_change(&schema(), &prior, &proposed, &proposed);
        assert_eq!(outcome.planned, prior);
        assert!(outcome.requires_replace.is_empty());
    }

    #[test]
    fn a_version_change_is_an_update_with_the_value_still_null() {
        let mut prior = value("desk", Value::Null, Some(1));
        prior.set("id", Value::string("42"));
        let mut proposed = value("desk", Value::string("another"), Some(2));
        proposed.set("id", Value::string("42"));
        let outcome = plan_change(&schema(), &prior, &proposed, &proposed);
        assert_ne!(outcome.planned, prior);
        assert_eq!(outcome.planned.get("password"), &Value::Null);
        assert_eq!(outcome.planned.get("password_version"), &Value::int(2));
        assert_eq!(outcome.planned.get("id"), &Value::string("42"));
    }

    #[test]
    fn write_only_rules_of_the_schema() {
        assert!(schema().problems().is_empty());
        let bad = Schema {
            attributes: vec![
                Attribute::string("a").computed().write_only(),
                Attribute::string("b").optional().force_new().write_only(),
            ],
            ..schema()
        };
        let problems = bad.problems();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("cannot be computed"));
    }
}

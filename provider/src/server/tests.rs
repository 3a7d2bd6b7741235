//! The RPCs as Terraform calls them, for what needs no agent: write-only
//! attributes in the schema, in validation and in plans.

use giif_proto::tfplugin6 as tf;

use super::values::{decode, encode};
use super::{get_provider_schema, plan_resource_change, validate, ProviderService};
use crate::tfvalue::Value;

const TYPE: &str = "giif_guacamole_connection";

fn dynamic(service: &ProviderService, value: &Value) -> tf::DynamicValue {
    let ty = service
        .registry()
        .resource(TYPE)
        .unwrap()
        .schema()
        .value_type();
    encode(value, &ty).unwrap()
}

fn connection(password: Value) -> Value {
    Value::object([
        ("name", Value::string("desk")),
        ("project_id", Value::string("prj-1")),
        ("protocol", Value::string("vnc")),
        ("hostname", Value::string("192.168.212.140")),
        ("password", password),
        ("password_version", Value::int(1)),
    ])
}

fn validate_with(
    service: &ProviderService,
    config: &Value,
    capabilities: Option<tf::ClientCapabilities>,
) -> Vec<tf::Diagnostic> {
    validate::resource_config(
        service,
        tf::validate_resource_config::Request {
            type_name: TYPE.into(),
            config: Some(dynamic(service, config)),
            client_capabilities: capabilities,
        },
    )
    .diagnostics
}

#[test]
fn the_schema_declares_the_password_write_only() {
    let service = ProviderService::new();
    let response = get_provider_schema::handle(&service);
    let schema = &response.resource_schemas[TYPE];
    let password = schema
        .block
        .as_ref()
        .unwrap()
        .attributes
        .iter()
        .find(|a| a.name == "password")
        .unwrap();
    assert!(password.write_only && password.sensitive && password.optional);
    assert!(!password.computed);
}

#[test]
fn write_only_values_need_a_client_that_supports_them() {
    let service = ProviderService::new();
    let config = connection(Value::string("s3cret"));
    let modern = tf::ClientCapabilities {
        deferral_allowed: false,
        write_only_attributes_allowed: true,
    };
    assert!(validate_with(&service, &config, Some(modern)).is_empty());
    for old in [None, Some(tf::ClientCapabilities::default())] {
        let diags = validate_with(&service, &config, old);
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(diags[0].summary, "Write-only attribute not supported");
        assert!(diags[0].detail.contains("Terraform 1.11"));
        assert!(diags[0].detail.contains("OpenTofu 1.11"));
        let step = &diags[0].attribute.as_ref().unwrap().steps[0];
        assert_eq!(
            step.selector,
            Some(tf::attribute_path::step::Selector::AttributeName(
                "password".into()
            ))
        );
    }
    // Left out, it is no problem for any client.
    assert!(validate_with(&service, &connection(Value::Null), None).is_empty());
}

#[test]
fn plans_never_hold_a_write_only_value() {
    let service = ProviderService::new();
    let config = connection(Value::string("s3cret"));
    let response = plan_resource_change::handle(
        &service,
        tf::plan_resource_change::Request {
            type_name: TYPE.into(),
            prior_state: None,
            proposed_new_state: Some(dynamic(&service, &config)),
            config: Some(dynamic(&service, &config)),
            ..Default::default()
        },
    );
    assert!(
        response.diagnostics.is_empty(),
        "{:?}",
        response.diagnostics
    );
    let ty = service
        .registry()
        .resource(TYPE)
        .unwrap()
        .schema()
        .value_type();
    let planned = decode(response.planned_state.as_ref(), &ty, "plan").unwrap();
    assert_eq!(planned.get("password"), &Value::Null);
    assert_eq!(planned.get("password_version"), &Value::int(1));
    assert_eq!(planned.get("id"), &Value::Unknown);
    assert_eq!(planned.get("client_url"), &Value::Unknown);
}

/// OpenTofu 1.11 (and Terraform 1.9 and later) may allow a provider to defer
/// a change it cannot plan yet; this provider never defers: an unknown
/// value is planned through, and the agent checks it at apply.
#[test]
fn a_plan_is_never_deferred_even_when_allowed() {
    let service = ProviderService::new();
    let mut config = connection(Value::string("s3cret"));
    config.set("hostname", Value::Unknown);
    let response = plan_resource_change::handle(
        &service,
        tf::plan_resource_change::Request {
            type_name: TYPE.into(),
            prior_state: None,
            proposed_new_state: Some(dynamic(&service, &config)),
            config: Some(dynamic(&service, &config)),
            client_capabilities: Some(tf::ClientCapabilities {
                deferral_allowed: true,
                write_only_attributes_allowed: true,
            }),
            ..Default::default()
        },
    );
    assert!(
        response.diagnostics.is_empty(),
        "{:?}",
        response.diagnostics
    );
    assert_eq!(response.deferred, None);
    assert!(response.planned_state.is_some());
}

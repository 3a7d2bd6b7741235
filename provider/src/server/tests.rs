//! The RPCs as Terraform calls them, for what needs no agent: write-only
//! attributes in the schema, in validation and in plans.

use giif_proto::tfplugin6 as tf;

use super::values::{decode, encode};
use super::{
    actions, get_metadata, get_provider_schema, identity, list_resource, plan_resource_change,
    validate, ProviderService,
};
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
    // A create's id is the agent's to give: no identity yet.
    assert!(response.planned_identity.is_none());
}

/// An update's plan carries the identity of the object it changes.
#[test]
fn an_update_plans_the_objects_identity() {
    let service = ProviderService::new();
    let config = connection(Value::Null);
    let mut prior = config.clone();
    prior.set("id", Value::string("42"));
    let mut proposed = prior.clone();
    proposed.set("name", Value::string("desk 2"));
    let response = plan_resource_change::handle(
        &service,
        tf::plan_resource_change::Request {
            type_name: TYPE.into(),
            prior_state: Some(dynamic(&service, &prior)),
            proposed_new_state: Some(dynamic(&service, &proposed)),
            config: Some(dynamic(&service, &config)),
            ..Default::default()
        },
    );
    let planned = response.planned_identity.expect("an identity");
    assert_eq!(identity::id_of(&planned).unwrap(), "42");
}

/// What Terraform 1.14 reads at start: every resource type is also a list
/// resource with its filters, and the actions with their schemas. Clients
/// that predate them (Terraform 1.11, OpenTofu) ignore these fields.
#[test]
fn metadata_and_schema_name_list_resources_and_actions() {
    let service = ProviderService::new();
    let metadata = get_metadata::handle(&service);
    assert_eq!(metadata.list_resources.len(), 6);
    let actions: Vec<&str> = metadata
        .actions
        .iter()
        .map(|a| a.type_name.as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "giif_server_power",
            "giif_server_boot_iso",
            "giif_vm_power",
            "giif_pagw_reapply"
        ]
    );
    let schema = get_provider_schema::handle(&service);
    let vm_list = schema.list_resource_schemas["giif_vm"]
        .block
        .as_ref()
        .unwrap();
    let names: Vec<&str> = vm_list.attributes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["project", "name"]);
    // Nothing required: a list block may leave out its config block.
    assert!(vm_list.attributes.iter().all(|a| a.optional && !a.required));
    let power = schema.action_schemas["giif_server_power"]
        .schema
        .as_ref()
        .unwrap();
    assert!(power
        .block
        .as_ref()
        .unwrap()
        .attributes
        .iter()
        .any(|a| a.name == "power" && a.required));
}

/// A list config is checked like a resource's; an action's too, naming the
/// field and what it takes.
#[test]
fn list_and_action_configs_are_validated() {
    let service = ProviderService::new();
    let resource = service.registry().resource("giif_vm").unwrap();
    let ty = resource.list_schema().value_type();
    let filter = Value::object([("project", Value::string("lab")), ("name", Value::Null)]);
    let response = list_resource::validate(
        &service,
        tf::validate_list_resource_config::Request {
            type_name: "giif_vm".into(),
            config: Some(encode(&filter, &ty).unwrap()),
            ..Default::default()
        },
    );
    assert!(
        response.diagnostics.is_empty(),
        "{:?}",
        response.diagnostics
    );

    let action = service
        .registry()
        .actions
        .iter()
        .find(|a| a.type_name == "giif_vm_power")
        .unwrap();
    let config = Value::object([
        ("vm", Value::string("lab/web")),
        ("power", Value::string("sideways")),
    ]);
    let response = actions::validate(
        &service,
        tf::validate_action_config::Request {
            action_type: "giif_vm_power".into(),
            config: Some(encode(&config, &action.schema.value_type()).unwrap()),
        },
    );
    assert_eq!(response.diagnostics.len(), 1, "{:?}", response.diagnostics);
    assert!(response.diagnostics[0]
        .detail
        .contains("\"sideways\" is not one of"));
    let unknown = actions::validate(
        &service,
        tf::validate_action_config::Request {
            action_type: "giif_reboot_everything".into(),
            config: None,
        },
    );
    assert_eq!(
        unknown.diagnostics[0].summary,
        "Unknown action type \"giif_reboot_everything\""
    );
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

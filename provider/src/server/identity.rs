//! Resource identity (Terraform 1.12 and OpenTofu 1.12 onwards): every giif
//! resource is identified by the agent's id of its object, the `id` its
//! state holds. Identity is derived from the state in one place, so read,
//! plan, apply, import and list resources all report the same thing.
//!
//! Older clients neither send nor read these fields; nothing else changes
//! for them.

use giif_proto::tfplugin6 as tf;

use super::values::{decode, encode};
use super::{unknown_type, ProviderService};
use crate::diag::{Diagnostic, Diagnostics};
use crate::tfvalue::{decode_json, Type, Value};

/// Bumped when the identity's attributes change; [`upgrade`] then converts.
pub const VERSION: i64 = 0;

/// The one identity attribute.
const ID: &str = "id";

pub fn value_type() -> Type {
    Type::object([(ID, Type::String)])
}

/// The identity schema of a resource type.
pub fn schema(type_name: &str) -> tf::ResourceIdentitySchema {
    tf::ResourceIdentitySchema {
        version: VERSION,
        identity_attributes: vec![tf::resource_identity_schema::IdentityAttribute {
            name: ID.to_string(),
            r#type: Type::String.type_bytes(),
            required_for_import: true,
            optional_for_import: false,
            description: format!(
                "The agent's id of the object, as the `id` of a `{type_name}` holds it."
            ),
        }],
    }
}

/// The identity of a state, `None` for a null state (a destroyed object)
/// and for a planned create, whose id only the agent can give.
pub fn of_state(state: &Value) -> Option<Value> {
    state.get(ID).as_str().map(of_id)
}

/// The identity of the object the agent knows as `id`.
pub fn of_id(id: &str) -> Value {
    Value::object([(ID, Value::string(id))])
}

/// An identity for Terraform.
pub fn encoded(identity: Option<Value>) -> Option<tf::ResourceIdentityData> {
    let identity = identity?;
    encode(&identity, &value_type())
        .ok()
        .map(|data| tf::ResourceIdentityData {
            identity_data: Some(data),
        })
}

/// The id an identity names, as given to an import block's `identity`.
pub fn id_of(identity: &tf::ResourceIdentityData) -> Result<String, Diagnostics> {
    let value = decode(identity.identity_data.as_ref(), &value_type(), "identity")?;
    match value.get(ID) {
        Value::String(id) if !id.trim().is_empty() => Ok(id.clone()),
        _ => Err(Diagnostic::error(
            "Identity without an id",
            "An import by identity needs `identity = { id = \"...\" }`: the agent's id of the \
             object, as `giif-agent` lists it or another state's `id` holds it.",
        )
        .into()),
    }
}

pub fn schemas(service: &ProviderService) -> tf::get_resource_identity_schemas::Response {
    tf::get_resource_identity_schemas::Response {
        identity_schemas: service
            .registry()
            .resources
            .iter()
            .map(|r| (r.type_name().to_string(), schema(r.type_name())))
            .collect(),
        diagnostics: Vec::new(),
    }
}

/// UpgradeResourceIdentity: a stored identity to the current version. There
/// has been one version only, so this reads and re-encodes it.
pub fn upgrade(
    service: &ProviderService,
    request: tf::upgrade_resource_identity::Request,
) -> tf::upgrade_resource_identity::Response {
    match upgraded(service, &request) {
        Ok(identity) => tf::upgrade_resource_identity::Response {
            upgraded_identity: Some(identity),
            diagnostics: Vec::new(),
        },
        Err(diags) => tf::upgrade_resource_identity::Response {
            upgraded_identity: None,
            diagnostics: diags.to_proto(),
        },
    }
}

fn upgraded(
    service: &ProviderService,
    request: &tf::upgrade_resource_identity::Request,
) -> Result<tf::ResourceIdentityData, Diagnostics> {
    service
        .registry()
        .resource(&request.type_name)
        .ok_or_else(|| unknown_type("resource", &request.type_name))?;
    if request.version > VERSION {
        return Err(Diagnostic::error(
            "Identity from a newer provider",
            format!(
                "This {}'s identity was written by a provider with identity version {}, newer \
                 than this provider's {VERSION}. Upgrade the giif provider.",
                request.type_name, request.version
            ),
        )
        .into());
    }
    let json = request
        .raw_identity
        .as_ref()
        .map(|raw| raw.json.as_slice())
        .unwrap_or_default();
    let value = decode_json(json, &value_type()).map_err(|err| {
        Diagnostics::from(Diagnostic::error(
            "Cannot read the stored identity",
            format!("{err}. Remove the resource from state and import it again."),
        ))
    })?;
    let identity = encoded(Some(value)).ok_or_else(|| {
        Diagnostics::from(Diagnostic::error(
            "Cannot encode the identity",
            "This is a bug in the provider; please report it.",
        ))
    })?;
    Ok(identity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_follows_the_states_id() {
        let state = Value::object([("id", Value::string("prj-1")), ("name", Value::string("a"))]);
        assert_eq!(
            of_state(&state),
            Some(Value::object([("id", Value::string("prj-1"))]))
        );
        // A create's plan and a destroyed object have none.
        assert_eq!(of_state(&Value::object([("id", Value::Unknown)])), None);
        assert_eq!(of_state(&Value::Null), None);

        let data = encoded(of_state(&state)).unwrap();
        assert_eq!(id_of(&data).unwrap(), "prj-1");
        let empty = encoded(Some(Value::object([("id", Value::string(" "))]))).unwrap();
        let err = id_of(&empty).unwrap_err();
        assert!(format!("{err:?}").contains("identity = { id"), "{err:?}");
    }

    #[test]
    fn a_stored_identity_upgrades_and_a_newer_one_is_refused() {
        let service = ProviderService::new();
        let request = |version, json: &str| tf::upgrade_resource_identity::Request {
            type_name: "giif_vm".into(),
            version,
            raw_identity: Some(tf::RawState {
                json: json.as_bytes().to_vec(),
                flatmap: Default::default(),
            }),
        };
        let answer = upgrade(&service, request(0, r#"{"id":"vm-7"}"#));
        assert!(answer.diagnostics.is_empty(), "{:?}", answer.diagnostics);
        assert_eq!(id_of(&answer.upgraded_identity.unwrap()).unwrap(), "vm-7");

        let answer = upgrade(&service, request(1, r#"{"id":"vm-7"}"#));
        assert!(answer.upgraded_identity.is_none());
        assert!(answer.diagnostics[0]
            .detail
            .contains("Upgrade the giif provider"));

        let schemas = schemas(&service);
        assert_eq!(schemas.identity_schemas.len(), 6);
        let vm = &schemas.identity_schemas["giif_vm"];
        assert!(vm.identity_attributes[0].required_for_import);
    }
}

//! `giif_guacamole_connection`: a console connection in Guacamole, in a
//! project's `Resources` group or in an explicit connection group, to a
//! giif VM or server (the agent fills in its address and credentials) or to
//! an explicit host. The agent writes Guacamole's database; a refresh reads
//! it back, so edits in the Guacamole UI show as drift.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use giif_proto::agent as api;
use giif_proto::guacamole;

use super::agent_backed::{AgentBacked, Words};
use super::listing::Listing;
use super::{state_id, Ctx};
use crate::agent::{AgentError, Reason};
use crate::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::schema::{Attribute, Schema, Validator};
use crate::tfvalue::{Type, Value};

const CONNECTION_NAME: Validator = Validator {
    rule: "Not blank, at most 128 characters; unique in its connection group.",
    check: |value| {
        value
            .as_str()
            .and_then(guacamole::connection_name_problem)
            .map_or(Ok(()), Err)
    },
};

const PROTOCOL: Validator = Validator {
    rule: "One of `vnc`, `ssh`, `rdp`, `telnet` and `kubernetes`.",
    check: |value| {
        value
            .as_str()
            .and_then(guacamole::protocol_problem)
            .map_or(Ok(()), Err)
    },
};

/// Why `id` is not the id of a VM or a server assignment, if it is not.
fn resource_id_problem(id: &str) -> Option<String> {
    if id.starts_with("vm-") || id.starts_with("bms-") {
        return None;
    }
    let what = match id.split('-').next() {
        Some("prj") => "a project's id",
        Some("gw") => "a gateway's id",
        Some("fip") => "a floating IP's id",
        _ => "not an agent id",
    };
    Some(format!(
        "{id:?} is {what}. Give the id of a giif_vm (\"vm-…\") or of a giif_bms_assignment (\"bms-…\"), such as \
         giif_vm.desktop.id; for any other target, set hostname instead."
    ))
}

const RESOURCE_ID: Validator = Validator {
    rule: "The `id` of a `giif_vm` or a `giif_bms_assignment`.",
    check: |value| {
        value
            .as_str()
            .and_then(resource_id_problem)
            .map_or(Ok(()), Err)
    },
};

const HOSTNAME: Validator = Validator {
    rule: "A host name or IP address as guacd reaches it, not a URL.",
    check: |value| {
        match value.as_str() {
        Some(host) if host.trim().is_empty() => {
            Err("The host name is blank; give a host name or an IP address.".into())
        }
        Some(host) if host.contains(|c: char| c.is_whitespace() || c == '/') => Err(format!(
            "{host:?} is not a host name or an IP address; write only the host, such as \"lab-server.example.org\" \
             or \"192.168.212.140\", and the port in `port`."
        )),
        _ => Ok(()),
    }
    },
};

const PORT: Validator = Validator {
    rule: "1 to 65535.",
    check: |value| match value.as_i64() {
        Some(1..=65535) | None => Ok(()),
        Some(n) => Err(format!("{n} is not a TCP port; use 1 to 65535.")),
    },
};

/// The longest user or user-group name Guacamole's database holds.
const MAX_ENTITY_CHARS: usize = 128;

const ENTITY_NAMES: Validator = Validator {
    rule: "Names that exist in Guacamole, at most 128 characters each.",
    check: |value| {
        for name in value.elements().unwrap_or_default() {
            let Some(name) = name.as_str() else { continue };
            if name.trim().is_empty() {
                return Err("A name is blank; remove it or write the Guacamole name.".into());
            }
            if name.chars().count() > MAX_ENTITY_CHARS {
                return Err(format!(
                    "{name:?} is longer than {MAX_ENTITY_CHARS} characters, which Guacamole cannot hold."
                ));
            }
        }
        Ok(())
    },
};

pub static GUACAMOLE_CONNECTION_SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema {
    version: 0,
    description: "A Guacamole connection: a console that Guacamole users open in their browser. It sits in a \
        project's `Resources` group (`project_id`) or in an explicit connection group (`parent_group_id`), and \
        reaches either a giif VM or bare-metal server (`resource_id`: the agent fills in the address, the port and \
        the credentials from its inventory, so they never reach Terraform) or an explicit host (`hostname`, \
        `port`). Every change is made in place, moves between groups included. A refresh reads Guacamole's \
        database, so edits in the Guacamole UI show as drift and a connection deleted there is created again.\n\n\
        The password is write-only: it is sent when the connection is created, and afterwards only when \
        `password_version` changes, as Terraform's write-only arguments work. To change the password, change \
        `password` and give `password_version` a new value (for example, increment it). Changing \
        `password_version` while `password` is null removes the password.",
    attributes: vec![
        Attribute::string("id")
            .computed()
            .describe("The connection's id in Guacamole (the number in its database)."),
        Attribute::string("name")
            .required()
            .validate(CONNECTION_NAME)
            .describe("The name users see."),
        Attribute::string("project_id")
            .optional()
            .describe("The project whose `Resources` group holds the connection. Give exactly one of `project_id` and `parent_group_id`; changing either moves the connection in place."),
        Attribute::string("parent_group_id")
            .optional()
            .describe("The id of the Guacamole connection group that holds the connection, for connections outside the projects' groups (such as a `giif_project`'s `connection_group_id`, or a group made in Guacamole)."),
        Attribute::string("protocol")
            .required()
            .validate(PROTOCOL)
            .describe("The protocol guacd speaks to the target."),
        Attribute::string("resource_id")
            .optional()
            .validate(RESOURCE_ID)
            .describe("The giif VM or server the connection reaches: the agent fills in its address, port and credentials. Give exactly one of `resource_id` and `hostname`."),
        Attribute::string("hostname")
            .optional()
            .validate(HOSTNAME)
            .describe("The host the connection reaches, resolved by guacd on the Guacamole server. Give exactly one of `resource_id` and `hostname`."),
        Attribute::number("port")
            .optional()
            .validate(PORT)
            .describe("The target's port, with `hostname`. Null means the protocol's usual port: 5900 for `vnc`, 22 for `ssh`, 3389 for `rdp`, 23 for `telnet`, 8080 for `kubernetes`."),
        Attribute::new("parameters", Type::map(Type::String))
            .optional()
            .describe("Further Guacamole parameters by name, such as `{ \"color-depth\" = \"24\", \"read-only\" = \"true\" }`: the names Guacamole 1.4 to 1.6 knows for the protocol, with values it accepts (switches are `\"true\"` or `\"false\"`). Checked at plan time. `hostname` and `port` have their own attributes, and credentials are refused, since parameters are kept in the state in plain text: give the password in `password`, or use `resource_id`."),
        Attribute::string("password")
            .optional()
            .sensitive()
            .write_only()
            .describe("The password guacd logs in with (the VNC password, or the SSH, RDP or telnet user's). Sent on create, and on update only when `password_version` changes. With `resource_id` the agent supplies the credentials it holds; a password given here is used instead."),
        Attribute::number("password_version")
            .optional()
            .describe("Any number; change it to send `password` again. Kept in the state (the password is not)."),
        Attribute::new("users", Type::set(Type::String))
            .optional()
            .validate(ENTITY_NAMES)
            .describe("Guacamole users who may open the connection (READ permission)."),
        Attribute::new("user_groups", Type::set(Type::String))
            .optional()
            .validate(ENTITY_NAMES)
            .describe("Guacamole user groups whose members may open the connection (READ permission)."),
        Attribute::string("client_url")
            .computed()
            .describe("The link that opens the connection in the Guacamole web application."),
    ],
    blocks: vec![],
}
});

pub struct GuacamoleConnection;

fn text(value: &Value, name: &str) -> String {
    value.get(name).as_str().unwrap_or_default().to_string()
}

/// A set of names, sorted and without repeats, as the agent receives it.
fn names(value: &Value) -> Vec<String> {
    let mut names: Vec<String> = value
        .elements()
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The spec for `planned`; `password` is the value to write, if any.
fn spec_from(planned: &Value, password: Option<String>) -> api::GuacamoleConnectionSpec {
    let parameters = planned
        .get("parameters")
        .as_map()
        .map(|map| {
            map.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default();
    api::GuacamoleConnectionSpec {
        name: text(planned, "name"),
        project_id: text(planned, "project_id"),
        parent_group_id: text(planned, "parent_group_id"),
        protocol: text(planned, "protocol"),
        resource_id: text(planned, "resource_id"),
        hostname: text(planned, "hostname"),
        port: planned
            .get("port")
            .as_i64()
            .and_then(|p| u32::try_from(p).ok())
            .unwrap_or(0),
        parameters,
        password,
        users: names(planned.get("users")),
        user_groups: names(planned.get("user_groups")),
    }
}

/// The configured password, from the configuration (the plan holds null).
fn configured_password(config: &Value) -> Option<String> {
    config.get("password").as_str().map(str::to_string)
}

/// Empty text is null, as the configuration leaves it out.
fn optional(text: &str) -> Value {
    Value::opt_string(Some(text.to_string()).filter(|t| !t.is_empty()))
}

/// A set of names; none is null unless `shape` had an empty set.
fn name_set(names: &[String], shape: &Value) -> Value {
    if names.is_empty() && !matches!(shape, Value::Set(_)) {
        return Value::Null;
    }
    let mut names = names.to_vec();
    names.sort();
    names.dedup();
    Value::Set(names.into_iter().map(Value::String).collect())
}

/// The state for `connection`. `shape` (the plan, or the prior state)
/// gives what the agent does not record: `password_version`, an empty map
/// or set versus none, and a port written as the protocol's default.
fn state_from(connection: &api::GuacamoleConnection, shape: &Value) -> Value {
    let spec = connection.spec.clone().unwrap_or_default();
    let by_resource = !spec.resource_id.is_empty();
    let port = match spec.port {
        _ if by_resource => Value::Null,
        0 => Value::Null,
        port if shape.get("port").is_null()
            && guacamole::default_port_for(&spec.protocol, spec.parameters.iter())
                == u16::try_from(port).ok() =>
        {
            Value::Null
        }
        port => Value::int(i64::from(port)),
    };
    // Never a credential or the target in the state, whatever the agent
    // reports.
    let parameters: BTreeMap<String, Value> = spec
        .parameters
        .iter()
        .filter(|(name, _)| {
            !guacamole::is_secret(name) && !matches!(name.as_str(), "hostname" | "port")
        })
        .map(|(name, value)| (name.clone(), Value::string(value)))
        .collect();
    let parameters = if parameters.is_empty() && !matches!(shape.get("parameters"), Value::Map(_)) {
        Value::Null
    } else {
        Value::Map(parameters)
    };
    Value::object([
        ("id", Value::string(&connection.id)),
        ("name", Value::string(&spec.name)),
        ("project_id", optional(&spec.project_id)),
        ("parent_group_id", optional(&spec.parent_group_id)),
        ("protocol", Value::string(&spec.protocol)),
        ("resource_id", optional(&spec.resource_id)),
        (
            "hostname",
            if by_resource {
                Value::Null
            } else {
                optional(&spec.hostname)
            },
        ),
        ("port", port),
        ("parameters", parameters),
        ("password", Value::Null),
        ("password_version", shape.get("password_version").clone()),
        ("users", name_set(&spec.users, shape.get("users"))),
        (
            "user_groups",
            name_set(&spec.user_groups, shape.get("user_groups")),
        ),
        ("client_url", optional(&connection.client_url)),
    ])
}

/// An agent error as a diagnostic on the attribute at fault. A missing
/// user or group names itself (sets have no element paths).
fn diagnostic(err: &AgentError, summary: &str) -> Diagnostic {
    let mut diagnostic = err.to_diagnostic(summary);
    if err.reason == Reason::NotFound
        && (err.field.starts_with("spec.users") || err.field.starts_with("spec.user_groups"))
        && !err.subject.is_empty()
        && !diagnostic.detail.contains(&err.subject)
    {
        diagnostic
            .detail
            .push_str(&format!("\n\nNot found: {:?}.", err.subject));
    }
    diagnostic
}

/// Exactly one of two attributes; the error points at the second when both
/// are set, else at the first.
fn exactly_one(config: &Value, first: &str, second: &str, detail: &str, diags: &mut Diagnostics) {
    let (a, b) = (config.get(first), config.get(second));
    if !a.is_known() || !b.is_known() || a.is_null() != b.is_null() {
        return;
    }
    let at = if a.is_null() { first } else { second };
    diags.push(
        Diagnostic::error(format!("Give exactly one of {first} and {second}"), detail)
            .at(AttrPath::attr(at)),
    );
}

/// Checks each parameter against Guacamole's names and values for the
/// protocol, pointing at `parameters["name"]`.
fn validate_parameters(config: &Value, diags: &mut Diagnostics) {
    let Some(protocol) = config.get("protocol").as_str() else {
        return;
    };
    // An unknown protocol has its own error; no parameter can be checked.
    if guacamole::protocol_problem(protocol).is_some() {
        return;
    }
    let Some(parameters) = config.get("parameters").as_map() else {
        return;
    };
    for (name, value) in parameters {
        let Some(value) = value.as_str() else {
            continue;
        };
        if let Some(problem) = guacamole::parameter_problem(protocol, name, value) {
            diags.push(
                Diagnostic::error("Invalid Guacamole parameter", problem)
                    .at(AttrPath::attr("parameters").then_key(name)),
            );
        }
    }
}

#[tonic::async_trait]
impl AgentBacked for GuacamoleConnection {
    type Object = api::GuacamoleConnection;
    const TYPE_NAME: &'static str = "giif_guacamole_connection";
    const WORDS: Words = Words {
        create: "Cannot create the Guacamole connection",
        read: "Cannot read the Guacamole connection",
        update: "Cannot update the Guacamole connection",
        delete: "Cannot delete the Guacamole connection",
        import: "Cannot import the Guacamole connection",
        not_ready: "The Guacamole connection is not ready",
    };
    const LISTING: Listing = Listing {
        kind: api::ObjectKind::GuacamoleConnection,
        name: "Only connections of this name (case-insensitive).",
    };

    fn schema() -> &'static Schema {
        &GUACAMOLE_CONNECTION_SCHEMA
    }

    fn state_from(connection: &api::GuacamoleConnection, shape: &Value) -> Value {
        state_from(connection, shape)
    }

    fn validate(config: &Value, diags: &mut Diagnostics) {
        exactly_one(
            config,
            "project_id",
            "parent_group_id",
            "Set project_id to put the connection in the project's Resources group, or parent_group_id for an \
             explicit Guacamole connection group; not both, not neither.",
            diags,
        );
        exactly_one(
            config,
            "resource_id",
            "hostname",
            "Set resource_id to reach a giif VM or server (the agent fills in its address and credentials), or \
             hostname (and port) for any other host; not both, not neither.",
            diags,
        );
        let (port, resource) = (config.get("port"), config.get("resource_id"));
        if !port.is_null() && port.is_known() && !resource.is_null() && resource.is_known() {
            diags.push(
                Diagnostic::error(
                    "port goes with hostname",
                    "With resource_id the agent knows the console's port; remove port, or use hostname and port \
                     instead of resource_id.",
                )
                .at(AttrPath::attr("port")),
            );
        }
        validate_parameters(config, diags);
        if let (Some(protocol), false) = (
            config.get("protocol").as_str(),
            config.get("password").is_null(),
        ) {
            if guacamole::protocol_problem(protocol).is_none()
                && guacamole::parameter(protocol, "password").is_none()
            {
                diags.push(
                    Diagnostic::error(
                        format!("{protocol} connections have no password"),
                        format!(
                            "Guacamole logs in to {protocol} targets without a password (Kubernetes uses a client \
                             certificate and key); remove password and password_version."
                        ),
                    )
                    .at(AttrPath::attr("password")),
                );
            }
        }
    }

    async fn create(
        ctx: &Ctx<'_>,
        planned: &Value,
    ) -> Result<api::GuacamoleConnection, AgentError> {
        let request = api::CreateGuacamoleConnectionRequest {
            request_id: ctx.request_id.clone(),
            spec: Some(spec_from(planned, configured_password(ctx.config))),
        };
        ctx.agent
            .create_guacamole_connection(request, ctx.timeout)
            .await
    }

    async fn get(ctx: &Ctx<'_>, reference: &str) -> Result<api::GuacamoleConnection, AgentError> {
        ctx.agent
            .get_guacamole_connection(reference, true, ctx.timeout)
            .await
    }

    async fn update(
        ctx: &Ctx<'_>,
        prior: &Value,
        planned: &Value,
    ) -> Result<api::GuacamoleConnection, AgentError> {
        // Terraform's write-only convention: the value goes again only when
        // its version changes.
        let set_password = prior.get("password_version") != planned.get("password_version");
        let password = if set_password {
            configured_password(ctx.config)
        } else {
            None
        };
        let request = api::UpdateGuacamoleConnectionRequest {
            request_id: ctx.request_id.clone(),
            id: state_id(prior),
            spec: Some(spec_from(planned, password)),
            set_password,
        };
        ctx.agent
            .update_guacamole_connection(request, ctx.timeout)
            .await
    }

    async fn delete(ctx: &Ctx<'_>, id: String) -> Result<Option<Diagnostic>, AgentError> {
        let request = api::DeleteGuacamoleConnectionRequest {
            request_id: ctx.request_id.clone(),
            id,
        };
        ctx.agent
            .delete_guacamole_connection(request, ctx.timeout)
            .await
            .map(|_| None)
    }

    fn diagnostic(err: &AgentError, summary: &str, _config: &Value) -> Diagnostic {
        diagnostic(err, summary)
    }

    fn import_not_found(reference: &str) -> String {
        format!(
            "Guacamole has no connection with the id {reference:?}. Import by the connection's id, the number \
             in Guacamole's database: the end of the address of its edit page in the Guacamole UI \
             (`.../manage/mysql/connections/42`), or the `id` of a giif_guacamole_connection."
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::validate_config;

    fn config(extra: &[(&str, Value)]) -> Value {
        let mut config = Value::object([
            ("name", Value::string("student01 desktop")),
            ("project_id", Value::string("prj-1")),
            ("protocol", Value::string("vnc")),
            ("hostname", Value::string("192.168.212.140")),
        ]);
        for (name, value) in extra {
            config.set(*name, value.clone());
        }
        config
    }

    fn parameters(pairs: &[(&str, &str)]) -> Value {
        Value::Map(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), Value::string(*v)))
                .collect(),
        )
    }

    /// What ValidateResourceConfig reports: the schema's rules, then the
    /// resource's.
    fn validate(config: &Value) -> Diagnostics {
        let mut diags = validate_config(&GUACAMOLE_CONNECTION_SCHEMA, config);
        <GuacamoleConnection as AgentBacked>::validate(config, &mut diags);
        diags
    }

    fn paths(diags: &Diagnostics) -> Vec<String> {
        diags
            .0
            .iter()
            .map(|d| d.path.as_ref().map(|p| p.to_string()).unwrap_or_default())
            .collect()
    }

    #[test]
    fn a_good_configuration_passes() {
        let good = config(&[
            ("port", Value::int(5901)),
            (
                "parameters",
                parameters(&[("color-depth", "24"), ("read-only", "true"), ("cursor", "")]),
            ),
            ("password", Value::string("s3cret")),
            ("password_version", Value::int(1)),
            ("users", Value::Set(vec![Value::string("student01")])),
        ]);
        let diags = validate(&good);
        assert!(diags.0.is_empty(), "{diags:?}");
    }

    #[test]
    fn parameter_errors_name_the_parameter_and_the_fix() {
        let diags = validate(&config(&[(
            "parameters",
            parameters(&[
                ("colour-depth", "24"),
                ("password", "x"),
                ("color-depth", "12"),
            ]),
        )]));
        assert_eq!(
            paths(&diags),
            [
                "parameters[\"color-depth\"]",
                "parameters[\"colour-depth\"]",
                "parameters[\"password\"]"
            ]
        );
        assert!(diags.0[1].detail.contains("Did you mean `color-depth`?"));
        assert!(diags.0[2]
            .detail
            .contains("write-only `password` attribute"));
        assert_eq!(diags.0[0].summary, "Invalid Guacamole parameter");
        // The path is Terraform's: an attribute, then a map key.
        assert_eq!(
            diags.0[1].path,
            Some(AttrPath::attr("parameters").then_key("colour-depth"))
        );
    }

    #[test]
    fn parameters_are_checked_for_the_configured_protocol() {
        let rdp_only = parameters(&[("security", "nla")]);
        assert!(validate(&config(&[
            ("protocol", Value::string("rdp")),
            ("parameters", rdp_only.clone())
        ]))
        .0
        .is_empty());
        let diags = validate(&config(&[("parameters", rdp_only.clone())]));
        assert_eq!(paths(&diags), ["parameters[\"security\"]"]);
        // An unknown protocol is one error, on protocol, not one per parameter.
        let diags = validate(&config(&[
            ("protocol", Value::string("spice")),
            ("parameters", rdp_only.clone()),
        ]));
        assert_eq!(paths(&diags), ["protocol"]);
        // Not known yet: checked once it is.
        let diags = validate(&config(&[
            ("protocol", Value::Unknown),
            ("parameters", rdp_only),
        ]));
        assert!(diags.0.is_empty());
    }

    #[test]
    fn exclusive_attributes() {
        let both = validate(&config(&[("resource_id", Value::string("vm-1"))]));
        assert_eq!(paths(&both), ["hostname"]);
        assert_eq!(
            both.0[0].summary,
            "Give exactly one of resource_id and hostname"
        );
        let neither = validate(&config(&[("hostname", Value::Null)]));
        assert_eq!(paths(&neither), ["resource_id"]);
        let groups = validate(&config(&[("parent_group_id", Value::string("7"))]));
        assert_eq!(paths(&groups), ["parent_group_id"]);
        let no_group = validate(&config(&[("project_id", Value::Null)]));
        assert_eq!(paths(&no_group), ["project_id"]);
        assert_eq!(
            no_group.0[0].summary,
            "Give exactly one of project_id and parent_group_id"
        );
        // Unknown until apply: no verdict yet.
        assert!(validate(&config(&[("resource_id", Value::Unknown)]))
            .0
            .is_empty());
        let port = validate(&config(&[
            ("hostname", Value::Null),
            ("resource_id", Value::string("vm-1")),
            ("port", Value::int(5900)),
        ]));
        assert_eq!(paths(&port), ["port"]);
    }

    #[test]
    fn values_of_the_attributes() {
        let diags = validate(&config(&[
            ("hostname", Value::Null),
            ("resource_id", Value::string("prj-9")),
        ]));
        assert_eq!(paths(&diags), ["resource_id"]);
        assert!(diags.0[0].detail.contains("a project's id"));
        let diags = validate(&config(&[(
            "hostname",
            Value::string("vnc://lab.example.org:5901"),
        )]));
        assert_eq!(paths(&diags), ["hostname"]);
        let diags = validate(&config(&[("port", Value::int(70000))]));
        assert_eq!(paths(&diags), ["port"]);
        let diags = validate(&config(&[("users", Value::Set(vec![Value::string(" ")]))]));
        assert_eq!(paths(&diags), ["users"]);
        let diags = validate(&config(&[("name", Value::string(""))]));
        assert_eq!(paths(&diags), ["name"]);
        let diags = validate(&config(&[
            ("protocol", Value::string("kubernetes")),
            ("password", Value::string("s3cret")),
        ]));
        assert_eq!(paths(&diags), ["password"]);
        assert_eq!(
            diags.0[0].summary,
            "kubernetes connections have no password"
        );
        // Unknown (a generated password) is still a password.
        let diags = validate(&config(&[
            ("protocol", Value::string("kubernetes")),
            ("password", Value::Unknown),
        ]));
        assert_eq!(paths(&diags), ["password"]);
    }

    #[test]
    fn the_password_is_write_only_and_sensitive() {
        let schema = &*GUACAMOLE_CONNECTION_SCHEMA;
        let password = schema.attribute("password").unwrap();
        assert!(password.write_only && password.sensitive && !password.is_computed());
        assert!(schema.problems().is_empty(), "{:?}", schema.problems());
        let proto = schema.to_proto();
        let attributes = proto.block.unwrap().attributes;
        let written: Vec<_> = attributes
            .iter()
            .filter(|a| a.write_only)
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(written, ["password"]);
    }

    #[test]
    fn the_spec_sends_what_the_plan_says() {
        let planned = config(&[
            (
                "users",
                Value::Set(vec![Value::string("b"), Value::string("a")]),
            ),
            ("parameters", parameters(&[("read-only", "true")])),
        ]);
        let spec = spec_from(&planned, Some("s3cret".into()));
        assert_eq!(spec.port, 0, "a null port is the protocol's default");
        assert_eq!(spec.users, ["a", "b"]);
        assert!(spec.user_groups.is_empty());
        assert_eq!(spec.password.as_deref(), Some("s3cret"));
        assert_eq!(spec.parameters["read-only"], "true");
        assert_eq!(spec.hostname, "192.168.212.140");
        assert_eq!(spec.parent_group_id, "");
    }

    fn connection(spec: api::GuacamoleConnectionSpec) -> api::GuacamoleConnection {
        api::GuacamoleConnection {
            id: "42".into(),
            spec: Some(spec),
            client_url: "https://guac.example.org/#/client/NDIAYwBteXNxbA".into(),
            parent_group_id: "7".into(),
        }
    }

    #[test]
    fn the_state_reads_back_without_secrets_or_defaults() {
        let mut parameters = std::collections::HashMap::new();
        parameters.insert("read-only".to_string(), "true".to_string());
        parameters.insert("password".to_string(), "leaked".to_string());
        parameters.insert("port".to_string(), "5900".to_string());
        let answer = connection(api::GuacamoleConnectionSpec {
            name: "desk".into(),
            project_id: "prj-1".into(),
            protocol: "vnc".into(),
            hostname: "lab".into(),
            port: 5900,
            parameters,
            password: Some("leaked".into()),
            users: vec!["zed".into(), "amy".into()],
            ..Default::default()
        });
        let shape = config(&[("password_version", Value::int(3))]);
        let state = state_from(&answer, &shape);
        assert_eq!(state.get("id"), &Value::string("42"));
        assert_eq!(state.get("password"), &Value::Null);
        assert_eq!(state.get("password_version"), &Value::int(3));
        assert_eq!(
            state.get("port"),
            &Value::Null,
            "the default port reads as null"
        );
        assert_eq!(
            state.get("parameters"),
            &Value::Map([("read-only".to_string(), Value::string("true"))].into())
        );
        assert_eq!(
            state.get("users"),
            &Value::Set(vec![Value::string("amy"), Value::string("zed")])
        );
        assert_eq!(state.get("user_groups"), &Value::Null);
        assert_eq!(state.get("parent_group_id"), &Value::Null);
        // A port written as the default stays as written.
        let state = state_from(&answer, &config(&[("port", Value::int(5900))]));
        assert_eq!(state.get("port"), &Value::int(5900));
        // Another port is drift, whatever the configuration says.
        let mut moved = answer.clone();
        moved.spec.as_mut().unwrap().port = 5901;
        assert_eq!(state_from(&moved, &shape).get("port"), &Value::int(5901));
    }

    #[test]
    fn the_state_keeps_empty_collections_as_written() {
        let answer = connection(api::GuacamoleConnectionSpec {
            name: "desk".into(),
            parent_group_id: "7".into(),
            protocol: "ssh".into(),
            resource_id: "vm-1".into(),
            hostname: "192.168.212.140".into(),
            port: 22,
            ..Default::default()
        });
        let shape = config(&[
            ("parameters", Value::Map(BTreeMap::new())),
            ("users", Value::Set(vec![])),
        ]);
        let state = state_from(&answer, &shape);
        assert_eq!(state.get("parameters"), &Value::Map(BTreeMap::new()));
        assert_eq!(state.get("users"), &Value::Set(vec![]));
        assert_eq!(state.get("user_groups"), &Value::Null);
        // With resource_id the agent's address is not the configuration's.
        assert_eq!(state.get("hostname"), &Value::Null);
        assert_eq!(state.get("port"), &Value::Null);
        assert_eq!(state.get("resource_id"), &Value::string("vm-1"));
        assert_eq!(state.get("parent_group_id"), &Value::string("7"));
        assert_eq!(state.get("project_id"), &Value::Null);
        // An import has no configuration to go by.
        let imported = state_from(&answer, &Value::Null);
        assert_eq!(imported.get("parameters"), &Value::Null);
        assert_eq!(imported.get("password_version"), &Value::Null);
    }

    #[test]
    fn agent_errors_point_at_the_attribute() {
        let missing_user = AgentError {
            reason: Reason::NotFound,
            message: "no Guacamole user named \"ghost\"".into(),
            field: "spec.users".into(),
            hint: "Create the user in Guacamole first.".into(),
            retryable: false,
            subject: "ghost".into(),
        };
        let d = diagnostic(&missing_user, "Cannot create the Guacamole connection");
        assert_eq!(d.path, Some(AttrPath::attr("users")));
        assert!(d.detail.contains("Create the user in Guacamole first."));
        let bad_parameter = AgentError {
            reason: Reason::InvalidArgument,
            message: "guacd refuses it".into(),
            field: "spec.parameters[\"server-layout\"]".into(),
            hint: String::new(),
            retryable: false,
            subject: String::new(),
        };
        let d = diagnostic(&bad_parameter, "Cannot update the Guacamole connection");
        assert_eq!(
            d.path,
            Some(AttrPath::attr("parameters").then_key("server-layout"))
        );
    }
}

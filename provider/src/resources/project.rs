//! `giif_project`: a project, its VLAN segment and (later) its Guacamole
//! connection group.

use std::sync::LazyLock;

use api::get_project_request::Key;
use giif_proto::agent as api;

use super::agent_backed::{AgentBacked, Progress, Words};
use super::listing::Listing;
use super::{
    await_while_null, keep_planned, non_empty, repair_console_drift, state_id, timeouts_block,
    with_timeouts, Ctx, Operation,
};
use crate::agent::{AgentError, Reason};
use crate::diag::{Diagnostic, Diagnostics};
use crate::schema::{validators, Attribute, Nesting, Schema, Validator};
use crate::tfvalue::Value;

pub static PROJECT_SCHEMA: LazyLock<Schema> = LazyLock::new(|| Schema {
    version: 0,
    description: "A project: a tenant with its own VLAN segment on the shared private subnet \
        `192.168.212.0/24`, its gateway (PAGW), servers, VMs and consoles.",
    attributes: project_attributes(Presence::Resource),
    blocks: vec![timeouts_block(&[
        Operation::Create,
        Operation::Update,
        Operation::Delete,
    ])],
});

/// The same attributes serve the resource and the data source, which
/// computes all but `name`.
#[derive(Clone, Copy, PartialEq)]
pub enum Presence {
    Resource,
    DataSource,
}

pub const MEMBER_ROLE: Validator = Validator {
    rule: "One of `member` (may use the project's consoles) or `manager` (may also manage them).",
    check: |value| {
        value
            .as_str()
            .and_then(giif_proto::rules::member_role_problem)
            .map_or(Ok(()), Err)
    },
};

pub fn project_attributes(presence: Presence) -> Vec<Attribute> {
    let user_set = |a: Attribute| match presence {
        Presence::Resource => a.optional(),
        Presence::DataSource => a.computed(),
    };
    let name = Attribute::string("name")
        .validate(validators::DNS_LABEL)
        .required();
    let name = match presence {
        Presence::Resource => name.force_new().describe(
            "The project's name: a single DNS label, unique regardless of case. Changing it replaces the project.",
        ),
        Presence::DataSource => name.describe("The name of the project to look up, in any case."),
    };
    vec![
        Attribute::string("id").computed().describe("The project's id on the agent."),
        name,
        user_set(Attribute::string("description")).describe("What the project is for."),
        user_set(Attribute::string("owner"))
            .describe("The Guacamole user name of the project's owner. Left out, the principal who created the project owns it. Only the owner or an operator changes it; a user creating a project may name only themselves."),
        user_set(Attribute::string("expires_on"))
            .describe("The date (YYYY-MM-DD) the project ends. On expiry the agent notifies the operators and changes nothing; extending it is an in-place update. A user must set it, at most the site's maximum (`[tenancy] max_project_days`) from today, when the site has one; operators may go beyond.")
            .validate(validators::ISO_DATE),
        user_set(Attribute::nested(
            "members",
            Nesting::Set,
            vec![
                Attribute::string("user").required().describe("A Guacamole user name."),
                Attribute::string("role")
                    .required()
                    .describe("The user's role in the project.")
                    .validate(MEMBER_ROLE),
            ],
        ))
        .describe("Guacamole users who may use the project, with their role."),
        Attribute::number("vlan")
            .computed()
            .describe("The VLAN of the project's segment, allocated from the site's project VLAN pool."),
        Attribute::string("connection_group_id")
            .computed()
            .describe("The id of the project's Guacamole connection group (`Projects/<name>`), whose `Resources` subgroup holds the consoles of its VMs and servers and the `giif_guacamole_connection`s given its `project_id`; null when the site has no Guacamole."),
        Attribute::string("status")
            .computed()
            .volatile()
            .describe("`ready`, or `console_drift` when the project's Guacamole groups were deleted or changed in Guacamole (the next apply puts them back)."),
    ]
}

pub struct Project;

fn spec_from(value: &Value) -> api::ProjectSpec {
    let text = |name: &str| value.get(name).as_str().map(str::to_string);
    let mut members: Vec<api::ProjectMember> = value
        .get("members")
        .elements()
        .unwrap_or_default()
        .iter()
        .map(|m| api::ProjectMember {
            user: m.get("user").as_str().unwrap_or_default().to_string(),
            role: m.get("role").as_str().unwrap_or_default().to_string(),
        })
        .collect();
    members.sort_by(|a, b| a.user.cmp(&b.user));
    api::ProjectSpec {
        name: text("name").unwrap_or_default(),
        description: text("description"),
        owner: text("owner"),
        expires_on: text("expires_on"),
        members,
    }
}

/// The state for `project`. `shape` is the value whose choices the agent
/// cannot record: the `timeouts` block, and an empty `members` set versus
/// none at all.
pub fn state_from(project: &api::Project, shape: &Value) -> Value {
    let spec = project.spec.clone().unwrap_or_default();
    let members = if spec.members.is_empty() {
        match shape.get("members") {
            Value::Set(_) => Value::Set(Vec::new()),
            _ => Value::Null,
        }
    } else {
        Value::Set(
            spec.members
                .iter()
                .map(|m| {
                    Value::object([
                        ("user", Value::string(&m.user)),
                        ("role", Value::string(&m.role)),
                    ])
                })
                .collect(),
        )
    };
    let state = Value::object([
        ("id", Value::string(&project.id)),
        ("name", Value::string(&spec.name)),
        ("description", Value::opt_string(spec.description)),
        ("owner", Value::opt_string(spec.owner)),
        ("expires_on", Value::opt_string(spec.expires_on)),
        ("members", members),
        ("vlan", Value::int(i64::from(project.vlan))),
        (
            "connection_group_id",
            non_empty(&project.connection_group_id),
        ),
        ("status", non_empty(&project.status)),
    ]);
    with_timeouts(state, shape)
}

/// Creation errors with the fix in the detail.
fn create_error(err: &AgentError, name: &str) -> Diagnostic {
    match err.reason {
        Reason::AlreadyExists => err.to_diagnostic(format!("Project {name:?} already exists")),
        Reason::PoolExhausted => err.to_diagnostic(format!(
            "No free VLAN in pool {:?} for project {name:?}",
            err.subject
        )),
        _ => err.to_diagnostic(format!("Cannot create project {name:?}")),
    }
}

#[tonic::async_trait]
impl AgentBacked for Project {
    type Object = api::Project;
    const TYPE_NAME: &'static str = "giif_project";
    const WORDS: Words = Words {
        create: "Cannot create project",
        read: "Cannot read project",
        update: "Cannot update project",
        delete: "Cannot delete project",
        import: "Cannot import project",
        not_ready: "The project is not ready",
    };
    const LISTING: Listing = Listing {
        kind: api::ObjectKind::Project,
        name: "Only the project of this name (case-insensitive).",
    };

    fn schema() -> &'static Schema {
        &PROJECT_SCHEMA
    }

    fn state_from(project: &api::Project, shape: &Value) -> Value {
        state_from(project, shape)
    }

    fn validate(config: &Value, diags: &mut Diagnostics) {
        let Value::Set(members) = config.get("members") else {
            return;
        };
        let mut seen = std::collections::BTreeSet::new();
        for member in members {
            if let Some(user) = member.get("user").as_str() {
                if !seen.insert(user.to_string()) {
                    diags.push(
                        Diagnostic::error(
                            "Duplicate project member",
                            format!("{user:?} is listed more than once in members; give each user one role."),
                        )
                        .at(crate::diag::AttrPath::attr("members")),
                    );
                }
            }
        }
    }

    fn modify_plan(prior: &Value, planned: &mut Value, _diags: &mut Diagnostics) {
        await_while_null(prior, planned, "connection_group_id");
        repair_console_drift(prior, planned, &["connection_group_id"]);
    }

    async fn create(ctx: &Ctx<'_>, planned: &Value) -> Result<api::Project, AgentError> {
        let request = api::CreateProjectRequest {
            request_id: ctx.request_id.clone(),
            spec: Some(spec_from(planned)),
        };
        ctx.agent.create_project(request, ctx.timeout).await
    }

    fn create_error(err: &AgentError, planned: &Value) -> Diagnostic {
        create_error(err, &spec_from(planned).name)
    }

    /// Refreshes go through the batched reads: a plan of many projects
    /// asks the agent once.
    async fn read(ctx: &Ctx<'_>, id: &str) -> Result<Option<api::Project>, AgentError> {
        ctx.agent.read_project(id, ctx.timeout).await
    }

    /// By id, else by name.
    async fn get(ctx: &Ctx<'_>, reference: &str) -> Result<api::Project, AgentError> {
        let by_id = ctx
            .agent
            .get_project(Key::Id(reference.to_string()), ctx.timeout)
            .await;
        match by_id {
            Err(err) if err.is_not_found() => {
                ctx.agent
                    .get_project(Key::Name(reference.to_string()), ctx.timeout)
                    .await
            }
            other => other,
        }
    }

    async fn update(
        ctx: &Ctx<'_>,
        prior: &Value,
        planned: &Value,
    ) -> Result<api::Project, AgentError> {
        let request = api::UpdateProjectRequest {
            request_id: ctx.request_id.clone(),
            id: state_id(prior),
            spec: Some(spec_from(planned)),
        };
        ctx.agent.update_project(request, ctx.timeout).await
    }

    async fn delete(ctx: &Ctx<'_>, id: String) -> Result<Option<Diagnostic>, AgentError> {
        let request = api::DeleteProjectRequest {
            request_id: ctx.request_id.clone(),
            id,
        };
        ctx.agent
            .delete_project(request, ctx.timeout)
            .await
            .map(|_| None)
    }

    /// A project is up once made; only its console tree may need repair.
    fn progress(project: &api::Project) -> Option<Progress> {
        let name = project
            .spec
            .as_ref()
            .map(|s| s.name.as_str())
            .unwrap_or_default();
        Some(Progress {
            subject: format!("The project {name}"),
            console_subject: format!("project {name}"),
            status: project.status.clone(),
            last_error: project.last_error.clone(),
            advice: "Fix the cause and run apply again.",
        })
    }

    fn after_update(state: &mut Value, planned: &Value) {
        keep_planned(state, planned, "connection_group_id");
    }

    fn import_not_found(reference: &str) -> String {
        format!("No project has the id or name {reference:?}. `giif-agent` lists projects; import by either.")
    }
}

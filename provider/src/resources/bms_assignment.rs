//! `giif_bms_assignment`: a bare-metal server given to a project. The agent
//! plugs the server's VLAN into the project gateway's VM, has the gateway
//! bridge it, and sets power and virtual media; changing the project moves
//! the server in place; destroy applies the release policy.

use std::sync::LazyLock;

use giif_proto::agent as api;

use super::agent_backed::{AgentBacked, Progress, Words};
use super::listing::Listing;
use super::{keep_console, plan_console, state_id, timeouts_block, with_timeouts, Ctx, Operation};
use crate::agent::AgentError;
use crate::diag::{Diagnostic, Diagnostics};
use crate::schema::{Attribute, Nesting, Schema, Validator};
use crate::tfvalue::{Type, Value};

const POWER: Validator = Validator {
    rule: "`on` or `off`.",
    check: |value| match value.as_str() {
        None | Some("on" | "off") => Ok(()),
        Some(other) => Err(format!("{other:?} is not \"on\" or \"off\"")),
    },
};

pub(crate) const ISO: Validator = Validator {
    rule: "The name of an image of the site's ISO library (see data source `giif_iso_images`), or a location: a CIFS share (`//fileserver/isos/x.iso`), an NFS export (`host:/path/x.iso`) or an http(s) URL.",
    check: |value| match value.as_str().and_then(giif_proto::rules::boot_iso_problem) {
        None => Ok(()),
        Some(problem) => Err(format!(
            "{:?}: {problem}",
            giif_proto::rules::redact_location(value.as_str().unwrap_or_default())
        )),
    },
};

const RESET: Validator = Validator {
    rule: "`none` or `bmc` (restart the iDRAC).",
    check: |value| match value.as_str() {
        None | Some("none" | "bmc") => Ok(()),
        Some(other) => Err(format!("{other:?} is not \"none\" or \"bmc\"")),
    },
};

pub static BMS_ASSIGNMENT_SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema {
    version: 0,
    description: "A bare-metal server assigned to a project. The agent hot-plugs a NIC tagged with the server's \
        VLAN into the project gateway's VM and has the gateway bridge it into the project segment, then sets the \
        power and the virtual CD. Changing `project_id` moves the server in place (unplugged from the old \
        gateway, plugged into the new one). Destroy applies the `release` policy; a server whose release fails \
        is quarantined (kept out of the pool) and the destroy succeeds with a warning.",
    attributes: vec![
        Attribute::string("id").computed().describe("The assignment's id on the agent."),
        Attribute::string("project_id")
            .required()
            .describe("The project that gets the server. It needs a `giif_pagw`. Changing it moves the server in place."),
        Attribute::string("bms")
            .required()
            .force_new()
            .describe("The server's inventory name (see data source `giif_bms_inventory`). Changing it replaces the assignment."),
        Attribute::string("power_state")
            .optional()
            .describe("`on` or `off`; leave out to leave the power alone. Out-of-band changes show as drift.")
            .validate(POWER),
        Attribute::string("boot_iso")
            .optional()
            .describe("An image to attach as virtual media: the name of an image of the site's ISO library (see data source `giif_iso_images`), or its location. Removing it ejects the media; other media mounted out of band shows as drift.")
            .validate(ISO),
        Attribute::nested(
            "release",
            Nesting::Single,
            vec![
                Attribute::bool("power_off")
                    .optional()
                    .describe("Power the server off on release (default `true`)."),
                Attribute::bool("eject_media")
                    .optional()
                    .describe("Eject the virtual media on release (default `true`)."),
                Attribute::string("reset")
                    .optional()
                    .describe("`none` (default) or `bmc`: restart the iDRAC on release.")
                    .validate(RESET),
                Attribute::bool("erase")
                    .optional()
                    .describe("Erase every disk before the server returns to the pool (default `false`): the drives' cryptographic or secure erase where they have one, an overwrite where not (iDRAC System Erase, Redfish `Drive.SecureErase`). Destroy waits until it is done; if the BMC cannot erase or the erase fails, the server is quarantined with the reason instead of returned."),
            ],
        )
        .optional()
        .describe("What destroy does to the server before it returns to the pool."),
        Attribute::number("vlan").computed().describe("The server's own VLAN, bridged into the project segment."),
        Attribute::string("pagw_nic")
            .computed()
            .describe("The gateway VM's NIC carrying the server's VLAN, such as `net2`."),
        Attribute::new("mac_addresses", Type::list(Type::String))
            .computed()
            .describe("The server's NIC MAC addresses, for DHCP reservations."),
        Attribute::string("console_connection_id")
            .computed()
            .describe("The id of the server's console connection in Guacamole (VNC to its iDRAC), which the agent makes with the assignment; null when the site has no Guacamole."),
        Attribute::string("console_url")
            .computed()
            .describe("The link that opens the server's console in Guacamole's web app; null when the site has no Guacamole."),
        Attribute::string("status")
            .computed()
            .volatile()
            .describe("`ready`, or what the agent last found: `converging`, `failed`, `unreachable`; `console_unavailable` when the server works but its BMC offers no console (a Redfish BMC without Dell's VNC attributes)."),
    ],
    blocks: vec![timeouts_block(&[Operation::Create, Operation::Update, Operation::Delete])],
}
});

pub struct BmsAssignment;

fn spec_from(value: &Value) -> api::BmsAssignmentSpec {
    let text = |name: &str| value.get(name).as_str().unwrap_or_default().to_string();
    let release = value.get("release");
    api::BmsAssignmentSpec {
        project_id: text("project_id"),
        bms: text("bms"),
        power_state: text("power_state"),
        boot_iso: text("boot_iso"),
        release: Some(api::BmsRelease {
            power_off: release.get("power_off").as_bool().unwrap_or(true),
            eject_media: release.get("eject_media").as_bool().unwrap_or(true),
            reset: release.get("reset").as_str().unwrap_or("none").to_string(),
            erase: release.get("erase").as_bool().unwrap_or(false),
        }),
    }
}

/// The state; `release` is configuration only (used on destroy), so it is
/// kept from `shape`.
fn state_from(assignment: &api::BmsAssignment, shape: &Value) -> Value {
    let spec = assignment.spec.clone().unwrap_or_default();
    let nonempty = |s: &str| Value::opt_string(Some(s.to_string()).filter(|s| !s.is_empty()));
    let state = Value::object([
        ("id", Value::string(&assignment.id)),
        ("project_id", Value::string(&spec.project_id)),
        ("bms", Value::string(&spec.bms)),
        ("power_state", nonempty(&spec.power_state)),
        ("boot_iso", nonempty(&spec.boot_iso)),
        ("release", shape.get("release").clone()),
        ("vlan", Value::int(i64::from(assignment.vlan))),
        ("pagw_nic", nonempty(&assignment.pagw_nic)),
        (
            "mac_addresses",
            Value::List(assignment.mac_addresses.iter().map(Value::string).collect()),
        ),
        (
            "console_connection_id",
            nonempty(&assignment.console_connection_id),
        ),
        ("console_url", nonempty(&assignment.console_url)),
        ("status", Value::string(&assignment.status)),
    ]);
    with_timeouts(state, shape)
}

#[tonic::async_trait]
impl AgentBacked for BmsAssignment {
    type Object = api::BmsAssignment;
    const TYPE_NAME: &'static str = "giif_bms_assignment";
    const WORDS: Words = Words {
        create: "Cannot assign the server",
        read: "Cannot read the server assignment",
        update: "Cannot update the server assignment",
        delete: "Cannot release the server",
        import: "Cannot import the server assignment",
        not_ready: "The server assignment is not ready",
    };
    const LISTING: Listing = Listing {
        kind: api::ObjectKind::BmsAssignment,
        name: "Only the assignment of the server of this inventory name (case-insensitive).",
    };

    fn schema() -> &'static Schema {
        &BMS_ASSIGNMENT_SCHEMA
    }

    fn state_from(assignment: &api::BmsAssignment, shape: &Value) -> Value {
        state_from(assignment, shape)
    }

    fn modify_plan(prior: &Value, planned: &mut Value, _diags: &mut Diagnostics) {
        // A NIC removed out of band reads as a null pagw_nic: plan an update
        // that plugs it back. A move may land on another NIC slot.
        let moved = prior.get("project_id") != planned.get("project_id");
        if prior.get("pagw_nic").is_null() || moved {
            planned.set("pagw_nic", Value::Unknown);
        }
        plan_console(prior, planned);
    }

    async fn create(ctx: &Ctx<'_>, planned: &Value) -> Result<api::BmsAssignment, AgentError> {
        let request = api::CreateBmsAssignmentRequest {
            request_id: ctx.request_id.clone(),
            spec: Some(spec_from(planned)),
            wait_seconds: ctx.wait_seconds(),
        };
        ctx.agent.create_bms_assignment(request, ctx.timeout).await
    }

    async fn get(ctx: &Ctx<'_>, reference: &str) -> Result<api::BmsAssignment, AgentError> {
        ctx.agent
            .get_bms_assignment(reference, true, ctx.timeout)
            .await
    }

    async fn update(
        ctx: &Ctx<'_>,
        prior: &Value,
        planned: &Value,
    ) -> Result<api::BmsAssignment, AgentError> {
        let request = api::UpdateBmsAssignmentRequest {
            request_id: ctx.request_id.clone(),
            id: state_id(prior),
            spec: Some(spec_from(planned)),
            wait_seconds: ctx.wait_seconds(),
        };
        ctx.agent.update_bms_assignment(request, ctx.timeout).await
    }

    async fn delete(ctx: &Ctx<'_>, id: String) -> Result<Option<Diagnostic>, AgentError> {
        let request = api::DeleteBmsAssignmentRequest {
            request_id: ctx.request_id.clone(),
            id,
        };
        let answer = ctx
            .agent
            .delete_bms_assignment(request, ctx.timeout)
            .await?;
        Ok((!answer.warning.is_empty())
            .then(|| Diagnostic::warning("The server was released with problems", answer.warning)))
    }

    fn progress(assignment: &api::BmsAssignment) -> Option<Progress> {
        let server = assignment
            .spec
            .as_ref()
            .map(|s| s.bms.as_str())
            .unwrap_or_default();
        Some(Progress {
            subject: format!("The assignment {} of server {server}", assignment.id),
            console_subject: format!("the assignment of server {server}"),
            status: assignment.status.clone(),
            last_error: assignment.last_error.clone(),
            advice: "Fix the cause and run apply again; the agent resumes where it stopped.",
        })
    }

    fn after_update(state: &mut Value, planned: &Value) {
        keep_console(state, planned);
    }

    fn import_not_found(reference: &str) -> String {
        format!("No assignment has the id {reference:?}, and no assigned server has that name.")
    }
}

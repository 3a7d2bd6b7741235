//! `giif_vm`: a project VM, cloned from a site template or created from an
//! ISO. The agent runs the operation (clone, NIC on the project VLAN,
//! cloud-init, disk, power), so it survives a provider timeout.

use giif_proto::status::Status;
use std::net::Ipv4Addr;
use std::sync::LazyLock;

use giif_proto::agent as api;

use super::agent_backed::{AgentBacked, Progress, Words};
use super::listing::Listing;
use super::{
    keep_console, non_empty, plan_console, state_id, timeouts_block, with_timeouts, Ctx, Operation,
};
use crate::agent::AgentError;
use crate::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::schema::{validators, Attribute, Nesting, Schema, Validator};
use crate::tfvalue::{Type, Value};

/// Why `text` is not "dhcp" or a usable `192.168.212.X/24`, if it is not.
fn ip_problem(text: &str) -> Option<String> {
    if text == "dhcp" {
        return None;
    }
    let fix = "use \"dhcp\" or an address like \"192.168.212.140/24\"";
    let Some((address, prefix)) = text.split_once('/') else {
        return Some(format!("{text:?} has no /24 prefix; {fix}"));
    };
    let Ok(address) = address.parse::<Ipv4Addr>() else {
        return Some(format!("{text:?} is not an IPv4 address; {fix}"));
    };
    if prefix != "24" || !giif_pagw::LAN.contains(address) {
        return Some(format!(
            "{text:?} is outside the project subnet 192.168.212.0/24; {fix}"
        ));
    }
    if matches!(address.octets()[3], 0 | 1 | 255) {
        return Some(format!(
            "{text:?} is the network, the gateway (.1) or the broadcast address; {fix}"
        ));
    }
    None
}

const VM_IP: Validator = Validator {
    rule: "`dhcp`, or a static `192.168.212.X/24` other than `.0`, `.1` (the gateway) and `.255`.",
    check: |value| value.as_str().and_then(ip_problem).map_or(Ok(()), Err),
};

const POWER_STATE: Validator = Validator {
    rule: "`on` or `off`.",
    check: |value| match value.as_str() {
        None | Some("on") | Some("off") => Ok(()),
        Some(other) => Err(format!("{other:?} is not \"on\" or \"off\"")),
    },
};

const AT_LEAST_ONE: Validator = Validator {
    rule: "At least 1.",
    check: |value| match value.as_i64() {
        Some(n) if n < 1 => Err(format!("{n} is less than 1")),
        _ => Ok(()),
    },
};

const MEMORY: Validator = Validator {
    rule: "At least 128 (MB).",
    check: |value| match value.as_i64() {
        Some(n) if n < 128 => Err(format!("{n} MB is less than 128 MB")),
        _ => Ok(()),
    },
};

pub static VM_SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema {
    version: 0,
    description: "A project VM on the site's Proxmox VE cluster: cloned from a site template (`template`) or \
        created from an installer ISO (`iso`). Its `net0` is on the node's VM bridge, tagged with the project \
        VLAN, so it is on the project subnet `192.168.212.0/24`. Cores, memory, disk growth, cloud-init and the \
        power state change in place; a refresh reads the VM from Proxmox, so out-of-band changes show in the plan.",
    attributes: vec![
        Attribute::string("id").computed().describe("The VM's id on the agent."),
        Attribute::string("project_id")
            .required()
            .force_new()
            .describe("The project the VM belongs to. Changing it replaces the VM."),
        Attribute::string("name")
            .required()
            .force_new()
            .validate(validators::DNS_LABEL)
            .describe("The VM's name, unique in its project. Changing it replaces the VM."),
        Attribute::string("node")
            .optional_computed()
            .force_new()
            .describe("The Proxmox node; else the agent chooses the node with the fewest VMs. Changing it replaces the VM."),
        Attribute::string("template")
            .optional()
            .force_new()
            .describe("The name of a site template to clone (one of `[proxmox] templates`). Give exactly one of `template` and `iso`."),
        Attribute::string("iso")
            .optional()
            .force_new()
            .describe("An installer ISO to create the VM from: the name of an image of the site's ISO library (see data source `giif_iso_images`), a Proxmox volume (`local:iso/debian.iso`), or a file name ending in `.iso` or `.img` on `local`."),
        Attribute::number("cores")
            .default(Value::int(2))
            .validate(AT_LEAST_ONE)
            .describe("Virtual CPU cores."),
        Attribute::number("memory_mb")
            .default(Value::int(2048))
            .validate(MEMORY)
            .describe("Memory in MB."),
        Attribute::number("disk_gb")
            .default(Value::int(20))
            .validate(AT_LEAST_ONE)
            .describe("The boot disk's size in GB. It grows in place; a smaller size is refused at plan time."),
        Attribute::string("power_state")
            .default(Value::string("on"))
            .validate(POWER_STATE)
            .describe("`on` or `off`. Turning it off is a hard stop."),
        Attribute::nested(
            "cloud_init",
            Nesting::Single,
            vec![
                Attribute::string("user").optional().describe("The default user's name."),
                Attribute::new("ssh_keys", Type::list(Type::String))
                    .optional()
                    .describe("SSH public keys for the user."),
                Attribute::string("ip")
                    .required()
                    .validate(VM_IP)
                    .describe("`dhcp`, or a static `192.168.212.X/24` (the gateway is `.1`); keep it out of the gateway's DHCP pool."),
            ],
        )
        .optional()
        .describe("What cloud-init gives the guest."),
        Attribute::number("vmid").computed().describe("The VM's Proxmox id."),
        Attribute::string("mac_address").computed().describe("The MAC address of `net0`."),
        Attribute::string("console_connection_id")
            .computed()
            .describe("The id of the VM's VNC console connection in Guacamole, which the agent makes with the VM (a `giif_guacamole_connection` can add others); null when the site has no Guacamole."),
        Attribute::string("console_url")
            .computed()
            .describe("The link that opens the VM's console in Guacamole's web app; null when the site has no Guacamole."),
        Attribute::string("status")
            .computed()
            .volatile()
            .describe("`ready`, or what the agent last found: `creating`, `failed`, or `console_drift` (the console was deleted or changed in Guacamole; the next apply puts it back)."),
    ],
    blocks: vec![timeouts_block(&[Operation::Create, Operation::Update, Operation::Delete])],
}
});

pub struct Vm;

fn text(value: &Value, name: &str) -> String {
    value.get(name).as_str().unwrap_or_default().to_string()
}

fn number(value: &Value, name: &str) -> u64 {
    value.get(name).as_i64().unwrap_or_default().max(0) as u64
}

fn spec_from(value: &Value) -> api::VmSpec {
    let ci = value.get("cloud_init");
    api::VmSpec {
        project_id: text(value, "project_id"),
        name: text(value, "name"),
        node: text(value, "node"),
        template: text(value, "template"),
        iso: text(value, "iso"),
        cores: number(value, "cores") as u32,
        memory_mb: number(value, "memory_mb"),
        disk_gb: number(value, "disk_gb"),
        power_state: text(value, "power_state"),
        cloud_init: (!ci.is_null()).then(|| api::VmCloudInit {
            user: text(ci, "user"),
            ssh_keys: ci
                .get("ssh_keys")
                .elements()
                .unwrap_or_default()
                .iter()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect(),
            ip: text(ci, "ip"),
        }),
    }
}

/// Empty text is null, as the configuration leaves it out.
fn optional(text: &str) -> Value {
    Value::opt_string(Some(text.to_string()).filter(|t| !t.is_empty()))
}

fn state_from(vm: &api::Vm, shape: &Value) -> Value {
    let spec = vm.spec.clone().unwrap_or_default();
    let cloud_init = match &spec.cloud_init {
        None => Value::Null,
        Some(ci) => {
            // An empty key list stays as the configuration wrote it.
            let keys_given = !shape.get("cloud_init").get("ssh_keys").is_null();
            let keys = if ci.ssh_keys.is_empty() && !keys_given {
                Value::Null
            } else {
                Value::List(ci.ssh_keys.iter().map(Value::string).collect())
            };
            Value::object([
                ("user", optional(&ci.user)),
                ("ssh_keys", keys),
                ("ip", Value::string(&ci.ip)),
            ])
        }
    };
    let state = Value::object([
        ("id", Value::string(&vm.id)),
        ("project_id", Value::string(&spec.project_id)),
        ("name", Value::string(&spec.name)),
        ("node", Value::string(&vm.node)),
        ("template", optional(&spec.template)),
        ("iso", optional(&spec.iso)),
        ("cores", Value::int(i64::from(spec.cores))),
        ("memory_mb", Value::int(spec.memory_mb as i64)),
        ("disk_gb", Value::int(spec.disk_gb as i64)),
        ("power_state", Value::string(&spec.power_state)),
        ("cloud_init", cloud_init),
        ("vmid", Value::int(i64::from(vm.vmid))),
        ("mac_address", optional(&vm.mac_address)),
        (
            "console_connection_id",
            non_empty(&vm.console_connection_id),
        ),
        ("console_url", non_empty(&vm.console_url)),
        ("status", Value::string(&vm.status)),
    ]);
    with_timeouts(state, shape)
}

#[tonic::async_trait]
impl AgentBacked for Vm {
    type Object = api::Vm;
    const TYPE_NAME: &'static str = "giif_vm";
    const WORDS: Words = Words {
        create: "Cannot create the VM",
        read: "Cannot read the VM",
        update: "Cannot update the VM",
        delete: "Cannot delete the VM",
        import: "Cannot import the VM",
        not_ready: "The VM is not ready",
    };
    const LISTING: Listing = Listing {
        kind: api::ObjectKind::Vm,
        name: "Only VMs of this name (case-insensitive).",
    };

    fn schema() -> &'static Schema {
        &VM_SCHEMA
    }

    fn state_from(vm: &api::Vm, shape: &Value) -> Value {
        state_from(vm, shape)
    }

    fn validate(config: &Value, diags: &mut Diagnostics) {
        let (template, iso) = (config.get("template"), config.get("iso"));
        if !template.is_known() || !iso.is_known() {
            return;
        }
        if template.is_null() == iso.is_null() {
            diags.push(
                Diagnostic::error(
                    "Give exactly one of template and iso",
                    "Set template to clone a site template, or iso to create the VM from an installer ISO; not both, not neither.",
                )
                .at(AttrPath::attr("template")),
            );
        }
    }

    fn modify_plan(prior: &Value, planned: &mut Value, diags: &mut Diagnostics) {
        // A replacement makes a new disk, of any size.
        if planned.get("id").is_unknown() {
            return;
        }
        plan_console(prior, planned);
        let (Some(current), Some(wanted)) = (
            prior.get("disk_gb").as_i64(),
            planned.get("disk_gb").as_i64(),
        ) else {
            return;
        };
        if wanted < current {
            diags.push(
                Diagnostic::error(
                    "Disks only grow",
                    format!(
                        "The disk is {current} GB; it cannot shrink to {wanted} GB. Set disk_gb to {current} or more, \
                         or replace the VM (for example with `terraform apply -replace`)."
                    ),
                )
                .at(AttrPath::attr("disk_gb")),
            );
        }
    }

    async fn create(ctx: &Ctx<'_>, planned: &Value) -> Result<api::Vm, AgentError> {
        let request = api::CreateVmRequest {
            request_id: ctx.request_id.clone(),
            spec: Some(spec_from(planned)),
            wait_seconds: ctx.wait_seconds(),
        };
        ctx.agent.create_vm(request, ctx.timeout).await
    }

    async fn get(ctx: &Ctx<'_>, reference: &str) -> Result<api::Vm, AgentError> {
        ctx.agent.get_vm(reference, true, ctx.timeout).await
    }

    async fn update(ctx: &Ctx<'_>, prior: &Value, planned: &Value) -> Result<api::Vm, AgentError> {
        let request = api::UpdateVmRequest {
            request_id: ctx.request_id.clone(),
            id: state_id(prior),
            spec: Some(spec_from(planned)),
            wait_seconds: ctx.wait_seconds(),
        };
        ctx.agent.update_vm(request, ctx.timeout).await
    }

    async fn delete(ctx: &Ctx<'_>, id: String) -> Result<Option<Diagnostic>, AgentError> {
        let request = api::DeleteVmRequest {
            request_id: ctx.request_id.clone(),
            id,
        };
        ctx.agent
            .delete_vm(request, ctx.timeout)
            .await
            .map(|_| None)
    }

    fn gone(vm: &api::Vm) -> bool {
        Status::VmMissing.is(&vm.status)
    }

    fn progress(vm: &api::Vm) -> Option<Progress> {
        let name = vm
            .spec
            .as_ref()
            .map(|s| s.name.as_str())
            .unwrap_or_default();
        Some(Progress {
            subject: format!("The VM {}", vm.id),
            console_subject: format!("VM {name}"),
            status: vm.status.clone(),
            last_error: vm.last_error.clone(),
            advice: "Fix the cause and run apply again.",
        })
    }

    fn after_update(state: &mut Value, planned: &Value) {
        keep_console(state, planned);
    }

    fn import_not_found(reference: &str) -> String {
        format!("No VM has the id {reference:?}. Import by VM id, or as \"project-name/vm-name\".")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked() {
        assert_eq!(ip_problem("dhcp"), None);
        assert_eq!(ip_problem("192.168.212.140/24"), None);
        for bad in ["10.0.0.2/24", "192.168.212.1/24", "192.168.212.9", "x/24"] {
            assert!(ip_problem(bad).is_some(), "{bad}");
        }
    }
}

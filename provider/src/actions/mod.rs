//! Actions (Terraform 1.14 onwards): one imperative change to a device,
//! invoked with `terraform apply -invoke=action.TYPE.NAME` or from a
//! resource's `lifecycle { action_trigger { ... } }`. Each type is a schema
//! and the agent request its configuration makes; the agent runs it and
//! streams its progress, which Terraform prints as it comes.

use std::sync::LazyLock;

use api::run_action_request::Action as Asked;
use giif_proto::agent as api;

use crate::resources::bms_assignment::ISO;
use crate::schema::{Attribute, Schema, Validator};
use crate::tfvalue::Value;

/// One action type.
pub struct ActionType {
    pub type_name: &'static str,
    pub schema: &'static LazyLock<Schema>,
    /// The agent's request for a wholly known configuration.
    pub request: fn(&Value) -> Asked,
}

pub fn all() -> Vec<ActionType> {
    vec![
        ActionType {
            type_name: "giif_server_power",
            schema: &SERVER_POWER,
            request: |config| {
                Asked::ServerPower(api::ServerPowerAction {
                    server: text(config, "server"),
                    change: power_change(config).into(),
                })
            },
        },
        ActionType {
            type_name: "giif_server_boot_iso",
            schema: &SERVER_BOOT_ISO,
            request: |config| {
                Asked::ServerBootMedia(api::ServerBootMediaAction {
                    server: text(config, "server"),
                    iso: text(config, "iso"),
                })
            },
        },
        ActionType {
            type_name: "giif_vm_power",
            schema: &VM_POWER,
            request: |config| {
                Asked::VmPower(api::VmPowerAction {
                    vm: text(config, "vm"),
                    change: power_change(config).into(),
                })
            },
        },
        ActionType {
            type_name: "giif_pagw_reapply",
            schema: &PAGW_REAPPLY,
            request: |config| {
                Asked::GatewayReapply(api::GatewayReapplyAction {
                    gateway: text(config, "gateway"),
                })
            },
        },
    ]
}

fn text(config: &Value, name: &str) -> String {
    config.get(name).as_str().unwrap_or_default().to_string()
}

const POWER_CHANGES: [(&str, api::PowerChange); 5] = [
    ("on", api::PowerChange::On),
    ("off", api::PowerChange::Off),
    ("shutdown", api::PowerChange::Shutdown),
    ("cycle", api::PowerChange::Cycle),
    ("reset", api::PowerChange::Reset),
];

fn power_change(config: &Value) -> api::PowerChange {
    let asked = config.get("power").as_str().unwrap_or_default();
    POWER_CHANGES
        .iter()
        .find(|(name, _)| *name == asked)
        .map_or(api::PowerChange::Unspecified, |(_, change)| *change)
}

const POWER: Validator = Validator {
    rule: "`on`, `off` (cut the power), `shutdown` (ask the operating system), `cycle` (off, then on) or `reset` (restart without a power cut; a VM is stopped and started).",
    check: |value| match value.as_str() {
        None => Ok(()),
        Some(asked) if POWER_CHANGES.iter().any(|(name, _)| *name == asked) => Ok(()),
        Some(other) => Err(format!(
            "{other:?} is not one of \"on\", \"off\", \"shutdown\", \"cycle\" or \"reset\""
        )),
    },
};

fn server() -> Attribute {
    Attribute::string("server")
        .required()
        .describe("The server: its inventory name (`bms01`) or its assignment's id (`giif_bms_assignment.x.id`).")
}

fn power() -> Attribute {
    Attribute::string("power")
        .required()
        .describe("What to do.")
        .validate(POWER)
}

static SERVER_POWER: LazyLock<Schema> = LazyLock::new(|| {
    Schema {
    version: 0,
    description: "Powers an assigned bare-metal server on or off, shuts it down, cycles or resets it, through its BMC, and \
        waits until the BMC reports the new power state. The assignment's `power_state` is left as configured: a plan \
        afterwards shows the difference, and an apply puts the configured state back.",
    attributes: vec![server(), power()],
    blocks: Vec::new(),
}
});

static SERVER_BOOT_ISO: LazyLock<Schema> = LazyLock::new(|| {
    Schema {
    version: 0,
    description: "Boots an assigned bare-metal server once from an image: attaches it as the virtual CD, makes the next \
        boot start it (where the BMC can), and powers the server on, or cycles it when it was on. For a rescue \
        system or a reinstall; the assignment's `boot_iso` is left as configured.",
    attributes: vec![
        server(),
        Attribute::string("iso")
            .required()
            .describe("The image.")
            .validate(ISO),
    ],
    blocks: Vec::new(),
}
});

static VM_POWER: LazyLock<Schema> = LazyLock::new(|| {
    Schema {
    version: 0,
    description: "Starts, stops, shuts down or restarts a project VM on Proxmox VE. A shutdown asks the guest and stops it \
        after two minutes.",
    attributes: vec![
        Attribute::string("vm")
            .required()
            .describe("The VM: its id (`giif_vm.x.id`) or `project-name/vm-name`."),
        power(),
    ],
    blocks: Vec::new(),
}
});

static PAGW_REAPPLY: LazyLock<Schema> = LazyLock::new(|| {
    Schema {
    version: 0,
    description: "Pushes a project gateway's configuration (DHCP, NAT, floating IPs, VPN, bridged server VLANs) to it \
        again and waits until the gateway has applied it: after the gateway was restored or changed by hand.",
    attributes: vec![Attribute::string("gateway").required().describe(
        "The gateway: its id (`giif_pagw.x.id`), or its project's id or name.",
    )],
    blocks: Vec::new(),
}
});

//! `giif_pagw`: a project's gateway. The agent clones it from the PAGW
//! template, tags its NICs, starts it, waits for it and configures it; the
//! operation runs in the agent, so it survives a provider timeout.

use giif_proto::status::Status;
use std::net::Ipv4Addr;
use std::sync::LazyLock;

use giif_proto::agent as api;

use super::agent_backed::{AgentBacked, Progress, Words};
use super::listing::Listing;
use super::{repair_console_drift, state_id, timeouts_block, with_timeouts, Ctx, Operation};
use crate::agent::AgentError;
use crate::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::schema::{Attribute, Nesting, Schema, Validator};
use crate::tfvalue::{Type, Value};

fn lan_address(text: &str) -> Option<Ipv4Addr> {
    let address: Ipv4Addr = text.trim().parse().ok()?;
    giif_pagw::LAN.contains(address).then_some(address)
}

const DHCP_RANGE: Validator = Validator {
    rule: "Two addresses of 192.168.212.0/24, `first-last`, not including the gateway's `.1`.",
    check: |value| {
        let Some(text) = value.as_str() else {
            return Ok(());
        };
        let fix = "write it like \"192.168.212.20-192.168.212.120\"";
        let (first, last) = text
            .split_once('-')
            .ok_or_else(|| format!("{text:?} is not a range; {fix}"))?;
        let (Some(first), Some(last)) = (lan_address(first), lan_address(last)) else {
            return Err(format!(
                "{text:?} must be two addresses inside the project subnet 192.168.212.0/24; {fix}"
            ));
        };
        if first > last {
            return Err(format!("{text:?} ends before it starts; {fix}"));
        }
        if (first..=last).contains(&giif_pagw::DEFAULT_LAN_ADDRESS)
            || first.octets()[3] == 0
            || last.octets()[3] == 255
        {
            return Err(format!(
                "{text:?} includes the gateway (.1), the network or the broadcast address; {fix}"
            ));
        }
        Ok(())
    },
};

const IPV4_LIST: Validator = Validator {
    rule: "IPv4 addresses.",
    check: |value| {
        for item in value.elements().unwrap_or_default() {
            if let Some(text) = item.as_str() {
                text.parse::<Ipv4Addr>()
                    .map_err(|_| format!("{text:?} is not an IPv4 address"))?;
            }
        }
        Ok(())
    },
};

const WIREGUARD_ADDRESS: Validator = Validator {
    rule: "An address of the WireGuard subnet 192.168.213.0/24 other than the gateway's `.1`.",
    check: |value| {
        match value.as_str().map(|t| t.parse::<Ipv4Addr>()) {
        None => Ok(()),
        Some(Ok(a)) if giif_pagw::WIREGUARD.host(a) && a != giif_pagw::DEFAULT_WIREGUARD_ADDRESS => Ok(()),
        Some(_) => Err(format!(
            "{:?} is not a client address of 192.168.213.0/24 (the gateway is .1); use for example \"192.168.213.10\"",
            value.as_str().unwrap_or_default()
        )),
    }
    },
};

pub static PAGW_SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema {
    version: 0,
    description: "A project's gateway (PAGW): the VM that is the project's router on `192.168.212.0/24` — DHCP, \
        SNAT to its public IP, WireGuard VPN (server `192.168.213.1`, port 51820), optional PPTP, and 1-to-1 NAT \
        for floating IPs. The agent clones it from the site's PAGW template onto the slot's node, tags `net0` with \
        the project VLAN and `net1` with the public bridge, starts it, waits for it and configures it.",
    attributes: vec![
        Attribute::string("id").computed().describe("The gateway's id on the agent."),
        Attribute::string("project_id")
            .required()
            .force_new()
            .describe("The project this gateway serves. Changing it replaces the gateway."),
        Attribute::string("public_ip")
            .optional_computed()
            .force_new()
            .describe("A specific PAGW slot (its public IP); else a free slot is allocated. Changing it replaces the gateway."),
        Attribute::string("dhcp_range")
            .default(Value::string(format!(
                "{}-{}",
                giif_pagw::DEFAULT_DHCP_FIRST,
                giif_pagw::DEFAULT_DHCP_LAST
            )))
            .describe("The DHCP pool, `first-last`. Keep static addresses out of it (by convention `.130`-`.230`).")
            .validate(DHCP_RANGE),
        Attribute::new("dns_servers", Type::list(Type::String))
            .default(Value::List(Vec::new()))
            .describe("DNS servers handed out by DHCP; empty means the gateway itself.")
            .validate(IPV4_LIST),
        Attribute::nested(
            "wireguard",
            Nesting::Single,
            vec![Attribute::nested(
                "peers",
                Nesting::Set,
                vec![
                    Attribute::string("name").required().describe("A name for the client."),
                    Attribute::string("public_key").required().describe("The client's WireGuard public key (base64)."),
                    Attribute::string("address")
                        .required()
                        .describe("The client's address.")
                        .validate(WIREGUARD_ADDRESS),
                ],
            )
            .required()
            .describe("The VPN clients.")],
        )
        .optional()
        .describe("The WireGuard VPN; leave out to turn it off."),
        Attribute::bool("pptp").default(Value::Bool(false)).describe("Whether the legacy PPTP VPN runs."),
        Attribute::number("vlan").computed().describe("The project VLAN the gateway's `net0` is tagged with."),
        Attribute::number("vmid").computed().describe("The gateway VM's Proxmox id."),
        Attribute::string("node").computed().describe("The Proxmox node the gateway runs on."),
        Attribute::string("wireguard_public_key")
            .computed()
            .volatile()
            .describe("The gateway's WireGuard public key, for the clients' configuration."),
        Attribute::string("wireguard_endpoint")
            .computed()
            .volatile()
            .describe("Where WireGuard clients connect, `public_ip:51820`, while WireGuard is on: a client's `Endpoint`."),
        Attribute::string("wireguard_allowed_ips")
            .computed()
            .volatile()
            .describe("What a WireGuard client routes through the gateway, `192.168.212.0/23` (the project segment and \
                the VPN subnet), while WireGuard is on: a client's `AllowedIPs`; give the client its peer `address` \
                with the same `/23`."),
        Attribute::string("status")
            .computed()
            .volatile()
            .describe("`ready`, or what the agent last found: `creating`, `failed`, `unreachable`."),
    ],
    blocks: vec![timeouts_block(&[Operation::Create, Operation::Update, Operation::Delete])],
}
});

pub struct Pagw;

fn spec_from(value: &Value) -> api::GatewaySpec {
    let text = |name: &str| value.get(name).as_str().unwrap_or_default().to_string();
    let (first, last) = text("dhcp_range")
        .split_once('-')
        .map(|(a, b)| (a.trim().to_string(), b.trim().to_string()))
        .unwrap_or_default();
    let wireguard = value.get("wireguard");
    let mut peers: Vec<api::WireguardPeer> = wireguard
        .get("peers")
        .elements()
        .unwrap_or_default()
        .iter()
        .map(|p| api::WireguardPeer {
            name: p.get("name").as_str().unwrap_or_default().to_string(),
            public_key: p.get("public_key").as_str().unwrap_or_default().to_string(),
            address: p.get("address").as_str().unwrap_or_default().to_string(),
        })
        .collect();
    peers.sort_by(|a, b| a.name.cmp(&b.name));
    api::GatewaySpec {
        project_id: text("project_id"),
        public_ip: text("public_ip"),
        dhcp_first: first,
        dhcp_last: last,
        dns_servers: value
            .get("dns_servers")
            .elements()
            .unwrap_or_default()
            .iter()
            .filter_map(|d| d.as_str().map(str::to_string))
            .collect(),
        wireguard: !wireguard.is_null(),
        wireguard_peers: peers,
        pptp: value.get("pptp").as_bool().unwrap_or(false),
    }
}

fn state_from(gateway: &api::Gateway, shape: &Value) -> Value {
    let spec = gateway.spec.clone().unwrap_or_default();
    let wireguard = if spec.wireguard {
        let peers = spec
            .wireguard_peers
            .iter()
            .map(|p| {
                Value::object([
                    ("name", Value::string(&p.name)),
                    ("public_key", Value::string(&p.public_key)),
                    ("address", Value::string(&p.address)),
                ])
            })
            .collect();
        Value::object([("peers", Value::Set(peers))])
    } else {
        Value::Null
    };
    let state = Value::object([
        ("id", Value::string(&gateway.id)),
        ("project_id", Value::string(&spec.project_id)),
        ("public_ip", Value::string(&gateway.public_ip)),
        // The agent reports a gateway whose DHCP server is not running with
        // an empty range, which the plan shows as a change back.
        (
            "dhcp_range",
            Value::string(
                match spec.dhcp_first.is_empty() && spec.dhcp_last.is_empty() {
                    true => String::new(),
                    false => format!("{}-{}", spec.dhcp_first, spec.dhcp_last),
                },
            ),
        ),
        (
            "dns_servers",
            Value::List(spec.dns_servers.iter().map(Value::string).collect()),
        ),
        ("wireguard", wireguard),
        ("pptp", Value::Bool(spec.pptp)),
        ("vlan", Value::int(i64::from(gateway.vlan))),
        ("vmid", Value::int(i64::from(gateway.vmid))),
        ("node", Value::string(&gateway.node)),
        (
            "wireguard_public_key",
            Value::opt_string(Some(gateway.wireguard_public_key.clone()).filter(|k| !k.is_empty())),
        ),
        (
            "wireguard_endpoint",
            Value::opt_string((spec.wireguard && !gateway.public_ip.is_empty()).then(|| {
                format!(
                    "{}:{}",
                    gateway.public_ip,
                    giif_pagw::DEFAULT_WIREGUARD_PORT
                )
            })),
        ),
        (
            "wireguard_allowed_ips",
            Value::opt_string(
                spec.wireguard
                    .then(|| giif_pagw::VPN_ALLOWED_IPS.to_string()),
            ),
        ),
        ("status", Value::string(&gateway.status)),
    ]);
    with_timeouts(state, shape)
}

#[tonic::async_trait]
impl AgentBacked for Pagw {
    type Object = api::Gateway;
    const TYPE_NAME: &'static str = "giif_pagw";
    const WORDS: Words = Words {
        create: "Cannot create the gateway",
        read: "Cannot read the gateway",
        update: "Cannot update the gateway",
        delete: "Cannot delete the gateway",
        import: "Cannot import the gateway",
        not_ready: "The gateway is not ready",
    };
    const LISTING: Listing = Listing {
        kind: api::ObjectKind::Gateway,
        name: "Only the gateway of the project of this name (case-insensitive).",
    };

    fn schema() -> &'static Schema {
        &PAGW_SCHEMA
    }

    fn state_from(gateway: &api::Gateway, shape: &Value) -> Value {
        state_from(gateway, shape)
    }

    fn validate(config: &Value, diags: &mut Diagnostics) {
        let peers = config.get("wireguard").get("peers");
        let mut seen_names = std::collections::BTreeSet::new();
        let mut seen_addresses = std::collections::BTreeSet::new();
        for peer in peers.elements().unwrap_or_default() {
            let name = peer.get("name").as_str().map(str::to_string);
            let address = peer.get("address").as_str().map(str::to_string);
            if let Some(name) = name.filter(|n| !seen_names.insert(n.clone())) {
                diags.push(
                    Diagnostic::error(
                        "Duplicate WireGuard peer",
                        format!("The peer name {name:?} is used twice."),
                    )
                    .at(AttrPath::attr("wireguard")),
                );
            }
            if let Some(address) = address.filter(|a| !seen_addresses.insert(a.clone())) {
                diags.push(
                    Diagnostic::error(
                        "Duplicate WireGuard address",
                        format!("{address} is given to two peers."),
                    )
                    .at(AttrPath::attr("wireguard")),
                );
            }
        }
    }

    fn modify_plan(prior: &Value, planned: &mut Value, _diags: &mut Diagnostics) {
        // Toolbox connections deleted or changed in Guacamole: an update
        // puts them back.
        repair_console_drift(prior, planned, &[]);
    }

    async fn create(ctx: &Ctx<'_>, planned: &Value) -> Result<api::Gateway, AgentError> {
        let request = api::CreateGatewayRequest {
            request_id: ctx.request_id.clone(),
            spec: Some(spec_from(planned)),
            wait_seconds: ctx.wait_seconds(),
        };
        ctx.agent.create_gateway(request, ctx.timeout).await
    }

    async fn get(ctx: &Ctx<'_>, reference: &str) -> Result<api::Gateway, AgentError> {
        ctx.agent.get_gateway(reference, true, ctx.timeout).await
    }

    async fn update(
        ctx: &Ctx<'_>,
        prior: &Value,
        planned: &Value,
    ) -> Result<api::Gateway, AgentError> {
        let request = api::UpdateGatewayRequest {
            request_id: ctx.request_id.clone(),
            id: state_id(prior),
            spec: Some(spec_from(planned)),
            wait_seconds: ctx.wait_seconds(),
        };
        ctx.agent.update_gateway(request, ctx.timeout).await
    }

    async fn delete(ctx: &Ctx<'_>, id: String) -> Result<Option<Diagnostic>, AgentError> {
        let request = api::DeleteGatewayRequest {
            request_id: ctx.request_id.clone(),
            id,
        };
        ctx.agent
            .delete_gateway(request, ctx.timeout)
            .await
            .map(|_| None)
    }

    fn gone(gateway: &api::Gateway) -> bool {
        Status::VmMissing.is(&gateway.status)
    }

    fn progress(gateway: &api::Gateway) -> Option<Progress> {
        Some(Progress {
            subject: format!("The gateway {}", gateway.id),
            console_subject: format!("gateway {}", gateway.id),
            status: gateway.status.clone(),
            last_error: gateway.last_error.clone(),
            advice: "Fix the cause and run apply again: Terraform replaces the tainted gateway, and the agent \
                     reuses this project's slot.",
        })
    }

    fn import_not_found(reference: &str) -> String {
        format!("No gateway has the id {reference:?}, and no project with that id or name has one.")
    }
}

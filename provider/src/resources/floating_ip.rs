//! `giif_floating_ip`: a public address from the site's pool, held by a
//! project and, when it has a target, NATed 1-to-1 by the project's gateway.

use std::net::Ipv4Addr;
use std::sync::LazyLock;

use giif_proto::agent as api;

use super::agent_backed::{AgentBacked, Words};
use super::listing::Listing;
use super::{state_id, timeouts_block, with_timeouts, Ctx, Operation};
use crate::agent::AgentError;
use crate::diag::Diagnostic;
use crate::schema::{Attribute, Schema, Validator};
use crate::tfvalue::Value;

const TARGET: Validator = Validator {
    rule: "A host address of the project subnet 192.168.212.0/24, not the gateway's `.1`; by convention a static address (`.130`-`.230`).",
    check: |value| {
        let Some(text) = value.as_str() else {
            return Ok(());
        };
        match text.parse::<Ipv4Addr>() {
            Ok(a) if giif_pagw::LAN.host(a) && a != giif_pagw::DEFAULT_LAN_ADDRESS => Ok(()),
            Ok(a) if giif_pagw::LAN.contains(a) => Err(format!(
                "{text} is the project subnet's network, gateway or broadcast address; point it at a host, such as 192.168.212.140"
            )),
            Ok(_) => Err(format!("{text} is outside the project subnet 192.168.212.0/24; point it at a host of the project, such as 192.168.212.140")),
            Err(_) => Err(format!("{text:?} is not an IPv4 address; write it like \"192.168.212.140\"")),
        }
    },
};

const ADDRESS: Validator = Validator {
    rule: "An IPv4 address of the site's floating IP pool.",
    check: |value| match value.as_str() {
        Some(text) if text.parse::<Ipv4Addr>().is_err() => {
            Err(format!("{text:?} is not an IPv4 address"))
        }
        _ => Ok(()),
    },
};

pub static FLOATING_IP_SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema {
    version: 0,
    description: "A floating IP: a public address from the site's pool held by a project. With `target_ip`, the \
        project's gateway NATs it 1-to-1 to that private address (DNAT in, SNAT out); re-pointing it is an in-place \
        update.",
    attributes: vec![
        Attribute::string("id").computed().describe("The floating IP's id on the agent."),
        Attribute::string("project_id").required().force_new().describe("The project holding the address. Changing it replaces the floating IP."),
        Attribute::string("address")
            .optional_computed()
            .force_new()
            .describe("A specific address of the pool; else the lowest free one is allocated. Changing it replaces the floating IP.")
            .validate(ADDRESS),
        Attribute::string("target_ip")
            .optional()
            .describe("The private address it stands for. Leave out to hold the address without NAT.")
            .validate(TARGET),
        Attribute::string("gateway_public_ip")
            .computed()
            .describe("The public IP of the project's gateway that does the NAT."),
    ],
    blocks: vec![timeouts_block(&[Operation::Create, Operation::Update, Operation::Delete])],
}
});

pub struct FloatingIp;

fn spec_from(value: &Value) -> api::FloatingIpSpec {
    api::FloatingIpSpec {
        project_id: value
            .get("project_id")
            .as_str()
            .unwrap_or_default()
            .to_string(),
        address: value
            .get("address")
            .as_str()
            .unwrap_or_default()
            .to_string(),
        target_ip: value.get("target_ip").as_str().map(str::to_string),
    }
}

fn state_from(ip: &api::FloatingIp, shape: &Value) -> Value {
    let state = Value::object([
        ("id", Value::string(&ip.id)),
        ("project_id", Value::string(&ip.project_id)),
        ("address", Value::string(&ip.address)),
        ("target_ip", Value::opt_string(ip.target_ip.clone())),
        (
            "gateway_public_ip",
            Value::opt_string(Some(ip.gateway_public_ip.clone()).filter(|g| !g.is_empty())),
        ),
    ]);
    with_timeouts(state, shape)
}

#[tonic::async_trait]
impl AgentBacked for FloatingIp {
    type Object = api::FloatingIp;
    const TYPE_NAME: &'static str = "giif_floating_ip";
    const WORDS: Words = Words {
        create: "Cannot create the floating IP",
        read: "Cannot read the floating IP",
        update: "Cannot re-point the floating IP",
        delete: "Cannot release the floating IP",
        import: "Cannot import the floating IP",
        not_ready: "The floating IP is not ready",
    };
    const LISTING: Listing = Listing {
        kind: api::ObjectKind::FloatingIp,
        name: "Only the floating IP of this address.",
    };

    fn schema() -> &'static Schema {
        &FLOATING_IP_SCHEMA
    }

    fn state_from(ip: &api::FloatingIp, shape: &Value) -> Value {
        state_from(ip, shape)
    }

    async fn create(ctx: &Ctx<'_>, planned: &Value) -> Result<api::FloatingIp, AgentError> {
        let request = api::CreateFloatingIpRequest {
            request_id: ctx.request_id.clone(),
            spec: Some(spec_from(planned)),
        };
        ctx.agent.create_floating_ip(request, ctx.timeout).await
    }

    async fn get(ctx: &Ctx<'_>, reference: &str) -> Result<api::FloatingIp, AgentError> {
        ctx.agent
            .get_floating_ip(reference, true, ctx.timeout)
            .await
    }

    async fn update(
        ctx: &Ctx<'_>,
        prior: &Value,
        planned: &Value,
    ) -> Result<api::FloatingIp, AgentError> {
        let request = api::UpdateFloatingIpRequest {
            request_id: ctx.request_id.clone(),
            id: state_id(prior),
            spec: Some(spec_from(planned)),
        };
        ctx.agent.update_floating_ip(request, ctx.timeout).await
    }

    async fn delete(ctx: &Ctx<'_>, id: String) -> Result<Option<Diagnostic>, AgentError> {
        let request = api::DeleteFloatingIpRequest {
            request_id: ctx.request_id.clone(),
            id,
        };
        ctx.agent
            .delete_floating_ip(request, ctx.timeout)
            .await
            .map(|_| None)
    }

    fn import_not_found(reference: &str) -> String {
        format!("No floating IP has the id or address {reference:?}.")
    }
}

//! `giif_floating_ip`: a public address from the site's pool, held by a
//! project and, when it has a target, NATed 1-to-1 by the project's gateway.

use std::net::Ipv4Addr;
use std::sync::LazyLock;

use giif_proto::agent as api;

use super::{
    deleted, state_id, timeouts_block, with_timeouts, CreateFailure, Ctx, Operation, Resource,
};
use crate::diag::{Diagnostic, Diagnostics};
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

pub struct FloatingIpResource;

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
impl Resource for FloatingIpResource {
    fn type_name(&self) -> &'static str {
        "giif_floating_ip"
    }

    fn schema(&self) -> &Schema {
        &FLOATING_IP_SCHEMA
    }

    async fn create(&self, ctx: &Ctx<'_>, planned: &Value) -> Result<Value, CreateFailure> {
        let request = api::CreateFloatingIpRequest {
            request_id: ctx.request_id.clone(),
            spec: Some(spec_from(planned)),
        };
        let ip = ctx
            .agent
            .create_floating_ip(request, ctx.timeout)
            .await
            .map_err(|err| Diagnostics::from(err.to_diagnostic("Cannot create the floating IP")))?;
        Ok(state_from(&ip, planned))
    }

    async fn read(&self, ctx: &Ctx<'_>, state: &Value) -> Result<Option<Value>, Diagnostics> {
        match ctx
            .agent
            .get_floating_ip(&state_id(state), true, ctx.timeout)
            .await
        {
            Ok(ip) => Ok(Some(state_from(&ip, state))),
            Err(err) if err.is_not_found() => Ok(None),
            Err(err) => Err(err.to_diagnostic("Cannot read the floating IP").into()),
        }
    }

    async fn update(
        &self,
        ctx: &Ctx<'_>,
        prior: &Value,
        planned: &Value,
    ) -> Result<Value, Diagnostics> {
        let request = api::UpdateFloatingIpRequest {
            request_id: ctx.request_id.clone(),
            id: state_id(prior),
            spec: Some(spec_from(planned)),
        };
        let ip = ctx
            .agent
            .update_floating_ip(request, ctx.timeout)
            .await
            .map_err(|err| err.to_diagnostic("Cannot re-point the floating IP"))?;
        Ok(state_from(&ip, planned))
    }

    async fn delete(&self, ctx: &Ctx<'_>, prior: &Value) -> Result<(), Diagnostics> {
        let request = api::DeleteFloatingIpRequest {
            request_id: ctx.request_id.clone(),
            id: state_id(prior),
        };
        deleted(
            ctx.agent.delete_floating_ip(request, ctx.timeout).await,
            "Cannot release the floating IP",
        )
    }

    async fn import(&self, ctx: &Ctx<'_>, id: &str) -> Result<Value, Diagnostics> {
        match ctx.agent.get_floating_ip(id, true, ctx.timeout).await {
            Ok(ip) => Ok(state_from(&ip, &Value::Null)),
            Err(err) if err.is_not_found() => Err(Diagnostic::error(
                "Cannot import the floating IP",
                format!("No floating IP has the id or address {id:?}."),
            )
            .into()),
            Err(err) => Err(err.to_diagnostic("Cannot import the floating IP").into()),
        }
    }
}

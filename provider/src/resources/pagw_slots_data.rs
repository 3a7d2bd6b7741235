//! `data "giif_pagw_slots"`: the site's PAGW slots, free or taken.

use std::sync::LazyLock;

use super::{Ctx, DataSource};
use crate::diag::Diagnostics;
use crate::schema::{Attribute, Nesting, Schema, Validator};
use crate::tfvalue::Value;

const SLOT_STATE: Validator = Validator {
    rule: "One of `free`, `taken` or `any`.",
    check: |value| match value.as_str() {
        None | Some("free") | Some("taken") | Some("any") => Ok(()),
        Some(other) => Err(format!(
            "{other:?} is not a slot state; use \"free\", \"taken\" or \"any\""
        )),
    },
};

static PAGW_SLOTS_SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema {
    version: 0,
    description: "The site's PAGW slots: the public addresses project gateways can take, and which project holds each.",
    attributes: vec![
        Attribute::string("state")
            .default(Value::string("any"))
            .describe("Which slots to list.")
            .validate(SLOT_STATE),
        Attribute::nested(
            "slots",
            Nesting::List,
            vec![
                Attribute::string("public_ip").computed().describe("The slot's public address."),
                Attribute::string("netmask").computed().describe("Its netmask."),
                Attribute::string("gateway").computed().describe("Its upstream gateway."),
                Attribute::string("host").computed().describe("The Proxmox node that hosts its gateway VM."),
                Attribute::bool("default_project")
                    .computed()
                    .describe("Whether it is kept for the default project (idle hardware)."),
                Attribute::string("project_id").computed().describe("The project holding it, if taken."),
                Attribute::string("gateway_id").computed().describe("The gateway in it, if taken."),
            ],
        )
        .computed()
        .describe("The slots, in inventory order."),
    ],
    blocks: vec![],
}
});

pub struct PagwSlotsDataSource;

#[tonic::async_trait]
impl DataSource for PagwSlotsDataSource {
    fn type_name(&self) -> &'static str {
        "giif_pagw_slots"
    }

    fn schema(&self) -> &Schema {
        &PAGW_SLOTS_SCHEMA
    }

    async fn read(&self, ctx: &Ctx<'_>, config: &Value) -> Result<Value, Diagnostics> {
        let wanted = config.get("state").as_str().unwrap_or("any").to_string();
        let slots = ctx
            .agent
            .list_pagw_slots(ctx.timeout)
            .await
            .map_err(|err| Diagnostics::from(err.to_diagnostic("Cannot list the PAGW slots")))?;
        let opt = |s: &str| Value::opt_string(Some(s.to_string()).filter(|s| !s.is_empty()));
        let listed = slots
            .iter()
            .filter(|s| match wanted.as_str() {
                "free" => s.project_id.is_empty(),
                "taken" => !s.project_id.is_empty(),
                _ => true,
            })
            .map(|s| {
                Value::object([
                    ("public_ip", Value::string(&s.public_ip)),
                    ("netmask", Value::string(&s.netmask)),
                    ("gateway", Value::string(&s.gateway)),
                    ("host", Value::string(&s.host)),
                    ("default_project", Value::Bool(s.default_project)),
                    ("project_id", opt(&s.project_id)),
                    ("gateway_id", opt(&s.gateway_id)),
                ])
            })
            .collect();
        Ok(Value::object([
            ("state", Value::string(wanted)),
            ("slots", Value::List(listed)),
        ]))
    }
}

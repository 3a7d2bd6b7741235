//! `data "giif_bms_inventory"`: the site's bare-metal servers, free or
//! assigned, optionally by tag.

use std::sync::LazyLock;

use giif_proto::agent as api;

use super::{Ctx, DataSource};
use crate::diag::Diagnostics;
use crate::schema::{Attribute, Schema, Validator};
use crate::tfvalue::{Type, Value};

const STATE: Validator = Validator {
    rule: "`free`, `assigned` or `any`.",
    check: |value| match value.as_str() {
        None | Some("free" | "assigned" | "any") => Ok(()),
        Some(other) => Err(format!(
            "{other:?} is not \"free\", \"assigned\" or \"any\""
        )),
    },
};

fn server_type() -> Type {
    Type::object([
        ("name", Type::String),
        ("service_tag", Type::String),
        ("model", Type::String),
        ("vlan", Type::Number),
        ("tags", Type::list(Type::String)),
        ("macs", Type::list(Type::String)),
        ("state", Type::String),
        ("project_id", Type::String),
    ])
}

static BMS_INVENTORY_SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema {
    version: 0,
    description: "The site's bare-metal servers, for picking one to assign.",
    attributes: vec![
        Attribute::string("state")
            .optional()
            .describe("`free`, `assigned` or `any` (default). Quarantined servers show only under `any`.")
            .validate(STATE),
        Attribute::string("tag")
            .optional()
            .describe("Only servers with this inventory tag."),
        Attribute::new("servers", Type::list(server_type()))
            .computed()
            .describe("The servers: `name`, `service_tag`, `model`, `vlan`, `tags`, `macs`, `state` (`free`, \
                `assigned`, `quarantined`) and `project_id` (empty unless assigned)."),
    ],
    blocks: vec![],
}
});

pub struct BmsInventoryDataSource;

fn server_value(server: &api::BmsServer) -> Value {
    let strings = |items: &[String]| Value::List(items.iter().map(Value::string).collect());
    Value::object([
        ("name", Value::string(&server.name)),
        ("service_tag", Value::string(&server.service_tag)),
        ("model", Value::string(&server.model)),
        ("vlan", Value::int(i64::from(server.vlan))),
        ("tags", strings(&server.tags)),
        ("macs", strings(&server.macs)),
        ("state", Value::string(&server.state)),
        ("project_id", Value::string(&server.project_id)),
    ])
}

#[tonic::async_trait]
impl DataSource for BmsInventoryDataSource {
    fn type_name(&self) -> &'static str {
        "giif_bms_inventory"
    }

    fn schema(&self) -> &Schema {
        &BMS_INVENTORY_SCHEMA
    }

    async fn read(&self, ctx: &Ctx<'_>, config: &Value) -> Result<Value, Diagnostics> {
        let request = api::ListBmsRequest {
            state: config.get("state").as_str().unwrap_or("any").to_string(),
            tag: config.get("tag").as_str().unwrap_or_default().to_string(),
        };
        let servers = ctx
            .agent
            .list_bms(request, ctx.timeout)
            .await
            .map_err(|err| err.to_diagnostic("Cannot list the bare-metal servers"))?;
        let mut state = config.clone();
        state.set(
            "servers",
            Value::List(servers.servers.iter().map(server_value).collect()),
        );
        Ok(state)
    }
}

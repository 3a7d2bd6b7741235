//! `data "giif_project"`: a project looked up by name.

use std::sync::LazyLock;

use giif_proto::agent::get_project_request::Key;

use super::project::{project_attributes, state_from, Presence};
use super::{Ctx, DataSource};
use crate::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::schema::Schema;
use crate::tfvalue::Value;

static PROJECT_DATA_SCHEMA: LazyLock<Schema> = LazyLock::new(|| Schema {
    version: 0,
    description: "Looks up an existing project by name (case-insensitively), for configurations \
        that add to a project managed elsewhere.",
    attributes: project_attributes(Presence::DataSource),
    blocks: vec![],
});

pub struct ProjectDataSource;

#[tonic::async_trait]
impl DataSource for ProjectDataSource {
    fn type_name(&self) -> &'static str {
        "giif_project"
    }

    fn schema(&self) -> &Schema {
        &PROJECT_DATA_SCHEMA
    }

    async fn read(&self, ctx: &Ctx<'_>, config: &Value) -> Result<Value, Diagnostics> {
        let name = config.get("name").as_str().unwrap_or_default().to_string();
        match ctx.agent.get_project(Key::Name(name.clone()), ctx.timeout).await {
            Ok(project) => Ok(state_from(&project, &Value::Null)),
            Err(err) if err.is_not_found() => Err(Diagnostic::error(
                format!("No project named {name:?}"),
                "No project on the agent has this name. Check the spelling, or create it with a giif_project resource.",
            )
            .at(AttrPath::attr("name"))
            .into()),
            Err(err) => Err(err.to_diagnostic("Cannot look up project").into()),
        }
    }
}

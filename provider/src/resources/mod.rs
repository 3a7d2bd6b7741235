//! The resource and data source interface every type implements, and the
//! registry of the types this provider serves.

mod bms_assignment;
mod bms_inventory;
mod floating_ip;
mod pagw;
mod pagw_slots_data;
mod project;
mod project_data;
mod timeouts;
mod vm;

use std::time::Duration;

use crate::agent::AgentClient;
use crate::diag::Diagnostics;
use crate::schema::Schema;
use crate::tfvalue::Value;

pub use timeouts::{timeouts_block, Operation};

/// What an operation gets besides its values.
pub struct Ctx<'a> {
    pub agent: &'a AgentClient,
    /// The idempotency key of this change, chosen at plan time.
    pub request_id: String,
    pub timeout: Duration,
    /// The configuration of a create or update (ApplyResourceChange's
    /// `config`): the only place write-only values are found, since the
    /// plan holds them null. Null for reads, imports and deletes.
    pub config: &'a Value,
}

impl Ctx<'_> {
    /// How long the agent may wait for a long change before answering:
    /// the timeout less a few seconds for the answer to travel.
    pub fn wait_seconds(&self) -> u32 {
        self.timeout.as_secs().saturating_sub(5).clamp(1, 3600) as u32
    }
}

/// The agent id every resource keeps in its `id` attribute.
pub fn state_id(state: &Value) -> String {
    state.get("id").as_str().unwrap_or_default().to_string()
}

/// The outcome of a delete: already gone counts as deleted.
pub fn deleted<T>(
    result: Result<T, crate::agent::AgentError>,
    summary: &str,
) -> Result<(), Diagnostics> {
    match result {
        Ok(_) => Ok(()),
        Err(err) if err.is_not_found() => Ok(()),
        Err(err) => Err(err.to_diagnostic(summary).into()),
    }
}

/// A failed create. When the object already exists somewhere, `partial`
/// carries its state so Terraform keeps it (tainted) instead of orphaning it.
pub struct CreateFailure {
    pub partial: Option<Value>,
    pub diags: Diagnostics,
}

impl From<Diagnostics> for CreateFailure {
    fn from(diags: Diagnostics) -> Self {
        Self {
            partial: None,
            diags,
        }
    }
}

#[tonic::async_trait]
pub trait Resource: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> &Schema;
    /// Checks across attributes that the schema's validators cannot express.
    fn validate(&self, _config: &Value, _diags: &mut Diagnostics) {}
    /// Checks and adjusts an in-place update's plan beyond the schema's
    /// rules: a size that may only grow, a computed value that drift made
    /// unknown. Runs after the schema planned it. Default: nothing.
    fn modify_plan(&self, _prior: &Value, _planned: &mut Value, _diags: &mut Diagnostics) {}
    async fn create(&self, ctx: &Ctx<'_>, planned: &Value) -> Result<Value, CreateFailure>;
    /// `Ok(None)` when the object is gone.
    async fn read(&self, ctx: &Ctx<'_>, state: &Value) -> Result<Option<Value>, Diagnostics>;
    async fn update(
        &self,
        ctx: &Ctx<'_>,
        prior: &Value,
        planned: &Value,
    ) -> Result<Value, Diagnostics>;
    /// Deleting an object that is already gone succeeds.
    async fn delete(&self, ctx: &Ctx<'_>, prior: &Value) -> Result<(), Diagnostics>;
    async fn import(&self, ctx: &Ctx<'_>, id: &str) -> Result<Value, Diagnostics>;
}

#[tonic::async_trait]
pub trait DataSource: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> &Schema;
    async fn read(&self, ctx: &Ctx<'_>, config: &Value) -> Result<Value, Diagnostics>;
}

/// Every type the provider serves.
pub struct Registry {
    pub resources: Vec<Box<dyn Resource>>,
    pub data_sources: Vec<Box<dyn DataSource>>,
}

impl Registry {
    pub fn new() -> Self {
        Self {
            resources: vec![
                Box::new(project::ProjectResource),
                Box::new(pagw::PagwResource),
                Box::new(floating_ip::FloatingIpResource),
                Box::new(vm::VmResource),
                Box::new(bms_assignment::BmsAssignmentResource),
            ],
            data_sources: vec![
                Box::new(project_data::ProjectDataSource),
                Box::new(pagw_slots_data::PagwSlotsDataSource),
                Box::new(bms_inventory::BmsInventoryDataSource),
            ],
        }
    }
    pub fn resource(&self, type_name: &str) -> Option<&dyn Resource> {
        self.resources
            .iter()
            .find(|r| r.type_name() == type_name)
            .map(|r| r.as_ref())
    }
    pub fn data_source(&self, type_name: &str) -> Option<&dyn DataSource> {
        self.data_sources
            .iter()
            .find(|d| d.type_name() == type_name)
            .map(|d| d.as_ref())
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

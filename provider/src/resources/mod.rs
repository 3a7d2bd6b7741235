//! The resource and data source interface every type implements, and the
//! registry of the types this provider serves.

mod agent_backed;
pub(crate) mod bms_assignment;
mod bms_inventory;
mod floating_ip;
mod guacamole_connection;
mod iso_images_data;
pub mod listing;
mod pagw;
mod pagw_slots_data;
mod project;
mod project_data;
mod timeouts;
mod vm;

use giif_proto::status::Status;
use std::time::Duration;

use crate::agent::AgentClient;
use crate::diag::{Diagnostic, Diagnostics};
use crate::schema::Schema;
use crate::tfvalue::Value;

pub use agent_backed::{AgentBacked, AgentResource};
pub use timeouts::{timeouts_block, with_timeouts, Operation};

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
    /// Warnings from a create or update that succeeded, for Terraform to
    /// show. Only ApplyResourceChange hands them on: reads, imports and data
    /// sources have none to give.
    pub warnings: std::sync::Mutex<Diagnostics>,
}

impl Ctx<'_> {
    pub fn warn(&self, warning: Diagnostic) {
        self.warnings
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(warning);
    }

    /// The warnings gathered so far, taken.
    pub fn take_warnings(&self) -> Diagnostics {
        std::mem::take(
            &mut *self
                .warnings
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

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

/// For a computed id the agent may only fill in later, such as the console
/// connection of a VM made before the site had Guacamole: while the state
/// holds null, an update plans it unknown, so the agent may fill it in;
/// once known it is planned unchanged. A plan without changes leaves it
/// alone, so it never makes a diff of its own.
pub fn await_while_null(prior: &Value, planned: &mut Value, name: &str) {
    if prior.get(name).is_null() && planned != prior {
        planned.set(name, Value::Unknown);
    }
}

/// After an update, an id the plan promised and the agent's answer lacks
/// stays as planned (Terraform rejects a result that contradicts a known
/// plan); the next refresh reports what the agent then finds.
pub fn keep_planned(state: &mut Value, planned: &Value, name: &str) {
    let promised = planned.get(name);
    if state.get(name).is_null() && promised.is_known() && !promised.is_null() {
        state.set(name, promised.clone());
    }
}

/// Whether an agent status means the resource is up (its console may
/// still need repair).
pub fn is_up(status: &str) -> bool {
    Status::parse(status).is_some_and(Status::is_up)
}

/// Plans the repair of console drift: an update whose result (status and
/// console ids) the agent decides.
pub fn repair_console_drift(prior: &Value, planned: &mut Value, computed: &[&str]) {
    if prior
        .get("status")
        .as_str()
        .is_some_and(|status| Status::ConsoleDrift.is(status))
    {
        planned.set("status", Value::Unknown);
        for name in computed {
            planned.set(*name, Value::Unknown);
        }
    }
}

/// After a create or update: a console the agent could not put back is
/// worth a warning that says why. The resource itself is up, and every plan
/// proposes the repair again until the cause is gone.
pub fn warn_if_console_drifted(ctx: &Ctx<'_>, what: &str, status: &str, last_error: &str) {
    if !Status::ConsoleDrift.is(status) {
        return;
    }
    let why = last_error.trim().trim_end_matches('.');
    let why = if why.is_empty() {
        "giif-agent's log names the cause"
    } else {
        why
    };
    ctx.warn(Diagnostic::warning(
        format!("The Guacamole objects of {what} could not be put back"),
        format!(
            "{why}.\n\nThe resource itself is up and its status stays {}; every plan \
             proposes the repair again. Remove what is in the way in Guacamole, then apply again.",
            Status::ConsoleDrift
        ),
    ));
}

/// The console attributes of VMs and server assignments.
const CONSOLE: [&str; 2] = ["console_connection_id", "console_url"];

/// Plans a resource's console attributes: awaited while null, planned
/// unknown when the console drifted (see [`repair_console_drift`]).
pub fn plan_console(prior: &Value, planned: &mut Value) {
    for name in CONSOLE {
        await_while_null(prior, planned, name);
    }
    repair_console_drift(prior, planned, &CONSOLE);
}

/// Keeps the console attributes an update's plan promised
/// (see [`keep_planned`]).
pub fn keep_console(state: &mut Value, planned: &Value) {
    for name in CONSOLE {
        keep_planned(state, planned, name);
    }
}

/// Empty text from the agent is null in Terraform.
pub fn non_empty(text: &str) -> Value {
    Value::opt_string(Some(text.to_string()).filter(|t| !t.is_empty()))
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
    /// The `config` block of the type's list block (`terraform query`).
    fn list_schema(&self) -> &Schema;
    /// At most `limit` objects the list block's `config` finds, with their
    /// states when `with_state`.
    async fn list(
        &self,
        ctx: &Ctx<'_>,
        filter: &Value,
        with_state: bool,
        limit: usize,
    ) -> Result<Vec<listing::Listed>, Diagnostics>;
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
    pub actions: Vec<crate::actions::ActionType>,
}

impl Registry {
    pub fn new() -> Self {
        Self {
            resources: vec![
                Box::new(AgentResource::<project::Project>::new()),
                Box::new(AgentResource::<pagw::Pagw>::new()),
                Box::new(AgentResource::<floating_ip::FloatingIp>::new()),
                Box::new(AgentResource::<vm::Vm>::new()),
                Box::new(AgentResource::<bms_assignment::BmsAssignment>::new()),
                Box::new(AgentResource::<guacamole_connection::GuacamoleConnection>::new()),
            ],
            data_sources: vec![
                Box::new(project_data::ProjectDataSource),
                Box::new(pagw_slots_data::PagwSlotsDataSource),
                Box::new(bms_inventory::BmsInventoryDataSource),
                Box::new(iso_images_data::IsoImagesDataSource),
            ],
            actions: crate::actions::all(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_filled_in_later_stay_stable_once_known() {
        let name = "console_connection_id";
        let known = Value::object([(name, Value::string("17"))]);
        let none = Value::object([(name, Value::Null)]);

        // No change: nothing to fill in, no diff.
        let mut planned = none.clone();
        await_while_null(&none, &mut planned, name);
        assert_eq!(planned, none);
        // A change: the agent may fill it in.
        let mut planned = none.clone();
        planned.set("cores", Value::int(4));
        await_while_null(&none, &mut planned, name);
        assert_eq!(planned.get(name), &Value::Unknown);
        let mut planned = known.clone();
        await_while_null(&known, &mut planned, name);
        assert_eq!(planned.get(name), &Value::string("17"));

        // The agent's answer lacks the promised id: the plan's stands.
        let mut state = none.clone();
        keep_planned(&mut state, &known, name);
        assert_eq!(state.get(name), &Value::string("17"));
        // Nothing was promised: the answer stands.
        let mut state = none.clone();
        keep_planned(&mut state, &Value::object([(name, Value::Unknown)]), name);
        assert_eq!(state.get(name), &Value::Null);
        let mut state = Value::object([(name, Value::string("18"))]);
        keep_planned(&mut state, &known, name);
        assert_eq!(state.get(name), &Value::string("18"));
        assert_eq!(non_empty(""), Value::Null);
        assert_eq!(non_empty("5"), Value::string("5"));
    }

    /// A typo in an attribute name would read as null, silently: every
    /// resource's state has exactly its schema's attributes and blocks.
    #[test]
    fn every_state_has_exactly_the_schemas_names() {
        use agent_backed::state_keys_match_schema;
        let results = [
            state_keys_match_schema::<project::Project>(),
            state_keys_match_schema::<pagw::Pagw>(),
            state_keys_match_schema::<floating_ip::FloatingIp>(),
            state_keys_match_schema::<vm::Vm>(),
            state_keys_match_schema::<bms_assignment::BmsAssignment>(),
            state_keys_match_schema::<guacamole_connection::GuacamoleConnection>(),
        ];
        let problems: Vec<String> = results.into_iter().filter_map(Result::err).collect();
        assert!(problems.is_empty(), "{problems:#?}");
        // And the registry serves exactly these.
        assert_eq!(Registry::new().resources.len(), 6);
    }

    #[test]
    fn every_schema_is_sound() {
        let registry = Registry::new();
        for resource in &registry.resources {
            let problems = resource.schema().problems();
            assert!(
                problems.is_empty(),
                "{}: {problems:?}",
                resource.type_name()
            );
        }
        for source in &registry.data_sources {
            let schema = source.schema();
            assert!(schema.problems().is_empty(), "{}", source.type_name());
            // Terraform has write-only attributes for managed resources only.
            assert_eq!(schema.write_only().count(), 0, "{}", source.type_name());
        }
    }
}

//! One schema definition per resource, data source and the provider. It
//! drives GetProviderSchema, plan-time validation, planning and the docs.

mod model;
mod plan;
mod to_proto;
mod validate;
pub mod validators;

pub use model::{Attribute, Block, Kind, Nesting, Presence, Schema, Validator};
pub use plan::{plan_change, PlanOutcome};
pub use validate::validate_config;

//! Tenancy: who calls the agent (principals bound to certificates), what
//! each may do (one policy table), how much each may hold (quotas), and how
//! long a user may keep a project.
//!
//! - [`principal`]: roles, principals and the caller of one call.
//! - [`policy`]: the table of rules every RPC is checked against.
//! - [`access`]: a caller's standing in a project, and the project-level
//!   rules that are not a table lookup (owner changes, console targets).
//! - [`quota`]: limits, usage and the refusal that names both.
//! - [`settings`]: the `[tenancy]` section of `agent.toml`.

pub mod access;
pub mod authenticate;
pub mod gate;
pub mod policy;
pub mod principal;
pub mod quota;
pub mod settings;

pub use access::{ProjectAccess, Standing};
pub use gate::Gate;
pub use policy::{Need, Rpc};
pub use principal::{Caller, Principal, Role};
pub use quota::{Quota, QuotaKind, Usage};
pub use settings::TenancySettings;

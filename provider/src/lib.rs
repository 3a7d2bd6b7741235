//! The giif Terraform provider: tfplugin6 at the edge, the agent API behind
//! it. The provider holds no state and no hardware credentials.

pub mod actions;
pub mod agent;
pub mod diag;
pub mod docs;
pub mod logging;
pub mod plugin;
pub mod provider_config;
pub mod resources;
pub mod schema;
pub mod server;
pub mod tfvalue;

/// The provider's source address. The explicit hostname makes Terraform and
/// OpenTofu resolve the same provider.
pub const PROVIDER_ADDRESS: &str = "registry.terraform.io/giif/giif";

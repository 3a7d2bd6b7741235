//! The wire contracts of giif, generated at build time.
//!
//! - [`agent`]: the agent API (`giif.agent.v1`), ours.
//! - [`tfplugin6`]: the Terraform plugin protocol v6 (the subset we serve).
//! - [`plugin`]: go-plugin's controller and stdio services.
//! - [`guacamole`]: Guacamole's connection parameters, shared by provider and agent.

pub mod agent_tls;
pub mod guacamole;
pub mod requests;
pub mod rules;
pub mod status;
pub mod tls_incoming;

#[allow(clippy::all)]
pub mod agent {
    tonic::include_proto!("giif.agent.v1");
}

#[allow(clippy::all)]
pub mod tfplugin6 {
    tonic::include_proto!("tfplugin6");
}

#[allow(clippy::all)]
pub mod plugin {
    tonic::include_proto!("plugin");
}

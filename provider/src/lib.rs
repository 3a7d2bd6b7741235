//! The giif Terraform provider: tfplugin6 at the edge, the agent API behind it.
pub mod tfvalue;

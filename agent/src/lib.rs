//! The giif on-site agent.
pub mod pki;

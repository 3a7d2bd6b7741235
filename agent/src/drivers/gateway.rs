//! Project gateways (PAGW): the capability trait, the desired-configuration
//! model ([`GatewayConfig`]) with its validation, and [`drift`].
//!
//! A gateway is configured as a whole: the driver renders the complete
//! desired configuration and the gateway converges to it, so applying the
//! same configuration twice changes nothing, and removing a DNAT rule or a
//! peer is just leaving it out. Nothing is ever appended.
//!
//! # The PAGW guest protocol
//!
//! What the [`pagw`](super::pagw) driver and a gateway say to each other
//! (`giif-pagw-apply`, `giif-pagw-show`, the configuration document, exit
//! codes) is specified in `docs/design/gateways.md`. The document is
//! `giif-pagw`'s own type, so the agent renders and validates exactly what
//! the gateway parses.

mod drift;
mod model;
mod validate;

use std::time::Duration;

pub use drift::{drift, Difference};
pub use model::*;
pub use validate::{FieldProblem, InvalidConfig};

use super::error::DriverError;

/// What one apply did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplyReport {
    /// False when the gateway already ran exactly this configuration.
    pub changed: bool,
    /// What the gateway changed, in its own words.
    pub changes: Vec<String>,
    /// SHA-256 of the configuration now in force (the stored file).
    pub revision: String,
    /// The gateway's WireGuard public key, while WireGuard is on.
    pub wireguard_public_key: Option<String>,
}

/// What a gateway runs right now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveGateway {
    /// Read from the running services; `None` when nothing was applied
    /// since the gateway booted (a fresh clone of the template).
    pub config: Option<GatewayConfig>,
    pub wireguard_public_key: Option<String>,
    /// SHA-256 of the stored configuration file, which boot re-applies.
    pub revision: Option<String>,
    /// False when the live state was changed behind the stored file's back.
    pub matches_stored: bool,
    /// What the next apply of the stored file would change, in the
    /// gateway's words (a hand-added nft rule, a stopped dnsmasq).
    pub drift: Vec<String>,
}

/// A project gateway: configured as a whole, read back live.
#[async_trait::async_trait]
pub trait Gateway: Send + Sync {
    /// The gateway in logs and errors, such as `pagw:203.0.113.10`.
    fn target(&self) -> &str;

    /// Waits until the gateway answers (it boots after its VM starts);
    /// returns its live state. Fails transiently when `timeout` runs out.
    async fn wait_until_reachable(&self, timeout: Duration) -> Result<LiveGateway, DriverError>;

    /// Makes the gateway run exactly `desired`. Invalid configurations are
    /// refused (permanently) before anything is sent.
    async fn apply(&self, desired: &GatewayConfig) -> Result<ApplyReport, DriverError>;

    /// The gateway's live state.
    async fn read(&self) -> Result<LiveGateway, DriverError>;

    /// Where the live state differs from `desired`.
    async fn drift(&self, desired: &GatewayConfig) -> Result<Vec<Difference>, DriverError> {
        let live = self.read().await?;
        Ok(drift(&desired.clone().canonical(), live.config.as_ref()))
    }
}

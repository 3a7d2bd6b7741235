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
//! What the [`pagw`](super::pagw) driver and a PAGW guest say to each other.
//! The guest is a Debian VM cloned from the PAGW template; cloud-init gives
//! it its public address (`ipconfig1`) and an admin user that may run the
//! two `giif-pagw-*` tools with `sudo` and no password. The driver logs in
//! over SSH with that user's password (the host key pinned on first use)
//! and runs one command per exec channel:
//!
//! 1. `sudo giif-pagw-apply --sha256 <hex> -` with the whole configuration
//!    document (below) on stdin, then EOF. The tool checks the SHA-256 of
//!    what it read, parses strictly (every field required, unknown fields
//!    rejected), validates (including that `wan.address` is the address
//!    cloud-init gave this very VM), then, holding `/run/giif-pagw.lock`,
//!    reconciles the running system: `br0` with the LAN address on the
//!    project NIC (`net0`) and the vNICs of the bridged BMS VLANs, the WAN
//!    address and route on `net1`, dnsmasq (DHCP range, DNS servers),
//!    nftables table `inet giif` (masquerade, one DNAT+SNAT pair per
//!    floating IP), `wg0` (its key pair is generated on the gateway on first
//!    use, in `/etc/wireguard/wg0.key`, and never leaves it) and pptpd.
//!    Last it installs the document as `/etc/giif/pagw.json`, which boot
//!    re-applies.
//!    - exit 0, stdout one JSON object: `{"format":1,"changed":bool,
//!      "changes":["nftables: added DNAT 203.0.113.50 -> 192.168.212.130",
//!      ...],"sha256":"<hex of the document>","wireguard_public_key":
//!      "<base64>"|null}`; `changed` is false (and `changes` empty) when the
//!      gateway already ran exactly this configuration.
//!    - exit 2: the document was refused, nothing changed; stderr says why,
//!      one `field: reason` line per problem.
//!    - exit 75 (`EX_TEMPFAIL`): busy (the lock, nft or dpkg), nothing
//!      changed; try again.
//! 2. `sudo giif-pagw-show --json`: the LIVE state, read from the running
//!    services, not from the file, so drift shows: `{"format":1,
//!    "hostname":..,"config_file":{"path":..,"sha256":..}|null,"in_sync":
//!    bool (live equals the stored file),"live":<document>|null (null:
//!    nothing applied since boot),"wireguard_public_key":..|null,
//!    "interfaces":[{"name":"ens18","netdev":"net0","vlan":101,"role":"lan",
//!    "master":"br0"},..]}`. Exit 75 when busy, as above.
//! 3. `sudo giif-pagw-apply /etc/giif/pagw.json` re-applies the stored file
//!    and `cat /etc/giif/pagw.json` prints it; for people, not the driver.
//!
//! The configuration document, format 1 (JSON; the driver renders it in
//! canonical order: DNAT rules by floating IP, peers by name):
//!
//! ```json
//! {
//!   "format": 1,
//!   "project_vlan": 101,
//!   "wan": { "address": "203.0.113.10/24", "gateway": "203.0.113.1" },
//!   "lan": { "address": "192.168.212.1/24" },
//!   "dhcp": { "first": "192.168.212.20", "last": "192.168.212.120", "dns_servers": [] },
//!   "snat": true,
//!   "bridge": { "bms_vlans": [3001] },
//!   "dnat": [ { "public": "203.0.113.50", "private": "192.168.212.130" } ],
//!   "wireguard": { "listen_port": 51820, "address": "192.168.213.1/24",
//!                  "peers": [ { "name": "alice", "public_key": "<base64>", "address": "192.168.213.2" } ] },
//!   "pptp": false
//! }
//! ```
//!
//! `"wireguard": null` turns WireGuard off. No secret is ever in the
//! document, the answers or the driver's logs: peers are known by their
//! public keys, and the gateway's own private key stays on the gateway.

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

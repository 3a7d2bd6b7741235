//! The desired configuration of one project gateway, as a whole.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

/// The project segment every gateway serves (each project on its own VLAN).
pub const LAN_NETWORK: Ipv4Addr = Ipv4Addr::new(192, 168, 212, 0);
pub const LAN_PREFIX: u8 = 24;
/// The gateway's own address on the project segment.
pub const DEFAULT_LAN_ADDRESS: Ipv4Addr = Ipv4Addr::new(192, 168, 212, 1);
/// The default DHCP pool.
pub const DEFAULT_DHCP_FIRST: Ipv4Addr = Ipv4Addr::new(192, 168, 212, 20);
pub const DEFAULT_DHCP_LAST: Ipv4Addr = Ipv4Addr::new(192, 168, 212, 120);
/// Where static hosts (and so floating-IP targets) live by convention.
pub const STATIC_FIRST: Ipv4Addr = Ipv4Addr::new(192, 168, 212, 130);
pub const STATIC_LAST: Ipv4Addr = Ipv4Addr::new(192, 168, 212, 230);
/// The WireGuard server subnet; clients use a /23 so they reach the
/// project segment without extra routes.
pub const WIREGUARD_NETWORK: Ipv4Addr = Ipv4Addr::new(192, 168, 213, 0);
pub const WIREGUARD_PREFIX: u8 = 24;
pub const DEFAULT_WIREGUARD_ADDRESS: Ipv4Addr = Ipv4Addr::new(192, 168, 213, 1);
pub const DEFAULT_WIREGUARD_PORT: u16 = 51820;

/// Everything one project gateway should do. The driver renders all of it
/// and the gateway converges to it; nothing is ever appended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// The project segment's VLAN (`net0` of the gateway VM).
    pub project_vlan: u16,
    /// The slot's public address (`net1`), SNAT source and WireGuard endpoint.
    pub public: PublicAddress,
    /// The gateway on the project segment (`/24`), normally `.1`.
    pub lan_address: Ipv4Addr,
    pub dhcp: DhcpConfig,
    /// Masquerade the project segment behind the public address.
    pub snat: bool,
    /// BMS VLANs whose vNICs (hot-plugged by the hypervisor driver) are
    /// bridged into the project segment.
    pub bms_vlans: BTreeSet<u16>,
    /// 1-to-1 NAT: one rule per floating IP.
    pub dnat: Vec<DnatRule>,
    /// `None`: no WireGuard on this gateway.
    pub wireguard: Option<WireGuardConfig>,
    pub pptp: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicAddress {
    pub address: Ipv4Addr,
    pub netmask: Ipv4Addr,
    pub gateway: Ipv4Addr,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DhcpConfig {
    pub first: Ipv4Addr,
    pub last: Ipv4Addr,
    /// Handed out to clients in this order; empty means the gateway itself
    /// (its dnsmasq forwards to the site's resolvers).
    pub dns_servers: Vec<Ipv4Addr>,
}

impl Default for DhcpConfig {
    fn default() -> Self {
        Self {
            first: DEFAULT_DHCP_FIRST,
            last: DEFAULT_DHCP_LAST,
            dns_servers: Vec::new(),
        }
    }
}

/// A floating IP and the private host it stands for (both directions:
/// DNAT in, SNAT out).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnatRule {
    pub public: Ipv4Addr,
    pub private: Ipv4Addr,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireGuardConfig {
    pub listen_port: u16,
    /// The server's address in the WireGuard subnet (`/24`).
    pub address: Ipv4Addr,
    pub peers: Vec<WireGuardPeer>,
}

impl Default for WireGuardConfig {
    fn default() -> Self {
        Self {
            listen_port: DEFAULT_WIREGUARD_PORT,
            address: DEFAULT_WIREGUARD_ADDRESS,
            peers: Vec::new(),
        }
    }
}

/// A VPN client. Only its public key is ever known here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireGuardPeer {
    pub name: String,
    /// Base64 of the client's 32-byte Curve25519 public key.
    pub public_key: String,
    /// The client's address in the WireGuard subnet (its allowed IP).
    pub address: Ipv4Addr,
}

impl GatewayConfig {
    /// A gateway with the conventional defaults: LAN `.1`, DHCP `.20`-`.120`
    /// handing out the gateway as resolver, SNAT on, nothing else.
    pub fn new(project_vlan: u16, public: PublicAddress) -> Self {
        Self {
            project_vlan,
            public,
            lan_address: DEFAULT_LAN_ADDRESS,
            dhcp: DhcpConfig::default(),
            snat: true,
            bms_vlans: BTreeSet::new(),
            dnat: Vec::new(),
            wireguard: None,
            pptp: false,
        }
    }

    /// The same configuration in canonical order (DNAT rules by floating
    /// IP, peers by name), as the gateway reports it back.
    pub fn canonical(mut self) -> Self {
        self.dnat.sort_by_key(|rule| rule.public);
        if let Some(wireguard) = &mut self.wireguard {
            wireguard.peers.sort_by(|a, b| a.name.cmp(&b.name));
        }
        self
    }
}

/// The prefix length of a contiguous netmask, or `None`.
pub fn prefix_len(netmask: Ipv4Addr) -> Option<u8> {
    let bits = u32::from(netmask);
    let ones = bits.leading_ones();
    (bits.checked_shl(ones).unwrap_or(0) == 0).then_some(ones as u8)
}

/// The netmask of a prefix length (0-32).
pub fn netmask(prefix: u8) -> Ipv4Addr {
    Ipv4Addr::from(
        u32::MAX
            .checked_shl(32 - u32::from(prefix.min(32)))
            .unwrap_or(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netmasks_and_prefixes() {
        assert_eq!(prefix_len(Ipv4Addr::new(255, 255, 255, 0)), Some(24));
        assert_eq!(prefix_len(Ipv4Addr::new(255, 255, 255, 255)), Some(32));
        assert_eq!(prefix_len(Ipv4Addr::new(0, 0, 0, 0)), Some(0));
        assert_eq!(prefix_len(Ipv4Addr::new(255, 0, 255, 0)), None);
        assert_eq!(netmask(24), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(netmask(0), Ipv4Addr::new(0, 0, 0, 0));
        assert_eq!(netmask(32), Ipv4Addr::new(255, 255, 255, 255));
    }
}

//! The desired configuration of one project gateway, as a whole.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

/// The address rules every gateway follows, defined once in `giif-pagw`.
pub use giif_pagw::{
    Mac, DEFAULT_DHCP_FIRST, DEFAULT_DHCP_LAST, DEFAULT_LAN_ADDRESS, DEFAULT_WIREGUARD_ADDRESS,
    DEFAULT_WIREGUARD_PORT, STATIC_FIRST, STATIC_LAST, VPN_ALLOWED_IPS,
};

/// The gateway VM's NICs by the MAC address the hypervisor gave them: the
/// guest sees no VLAN tags, so a MAC is how it tells them apart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayNics {
    /// `net0`, on the project VLAN.
    pub lan: Mac,
    /// `net1`, on the public bridge.
    pub wan: Mac,
    /// Hot-plugged server NICs by the server's VLAN, bridged into the project segment.
    pub servers: BTreeMap<u16, Mac>,
}

/// Everything one project gateway should do. The driver renders all of it
/// and the gateway converges to it; nothing is ever appended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// The project segment's VLAN (`net0` of the gateway VM).
    pub project_vlan: u16,
    pub nics: GatewayNics,
    /// The slot's public address (`net1`), SNAT source and WireGuard endpoint.
    pub public: PublicAddress,
    /// The gateway on the project segment (`/24`), normally `.1`.
    pub lan_address: Ipv4Addr,
    /// `None`: no DHCP server (what a gateway whose dnsmasq stopped reports).
    pub dhcp: Option<DhcpConfig>,
    /// Masquerade the project segment behind the public address.
    pub snat: bool,
    /// 1-to-1 NAT: one rule per floating IP.
    pub dnat: Vec<DnatRule>,
    /// `None`: no WireGuard on this gateway.
    pub wireguard: Option<WireGuardConfig>,
    pub pptp: bool,
    /// OpenSSH public keys that may run the project toolbox on the gateway
    /// (as its restricted `giif-toolbox` account); empty: no toolbox.
    pub toolbox_keys: Vec<String>,
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
    pub fn new(project_vlan: u16, nics: GatewayNics, public: PublicAddress) -> Self {
        Self {
            project_vlan,
            nics,
            public,
            lan_address: DEFAULT_LAN_ADDRESS,
            dhcp: Some(DhcpConfig::default()),
            snat: true,
            dnat: Vec::new(),
            wireguard: None,
            pptp: false,
            toolbox_keys: Vec::new(),
        }
    }

    /// The VLANs of the servers bridged into the project segment.
    pub fn server_vlans(&self) -> impl Iterator<Item = u16> + '_ {
        self.nics.servers.keys().copied()
    }

    /// The same configuration in canonical order (DNAT rules by floating
    /// IP, peers by name), as the gateway reports it back.
    pub fn canonical(mut self) -> Self {
        self.dnat.sort_by_key(|rule| rule.public);
        if let Some(wireguard) = &mut self.wireguard {
            wireguard.peers.sort_by(|a, b| a.name.cmp(&b.name));
        }
        self.toolbox_keys.sort();
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

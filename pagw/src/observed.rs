//! What a gateway runs right now, as read from the live system (links and
//! addresses, routes, the nftables table, the running dnsmasq, wg0,
//! pptpd). The real system and giif-sim's in-memory one both report it in
//! this shape, so one planner serves both.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::document::{Cidr, Mac};

/// The LAN bridge every project NIC and server NIC is enslaved to.
pub const BRIDGE: &str = "br0";
/// The WireGuard device.
pub const WIREGUARD_DEVICE: &str = "wg0";

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    pub links: Vec<Link>,
    /// The IPv4 default route: via, and the link it leaves by.
    pub default_route: Option<(Ipv4Addr, String)>,
    pub ip_forward: bool,
    /// Table `inet giif`; `None` when there is no such table.
    pub nat: Option<Nat>,
    /// The configuration of the dnsmasq giif started, while it runs.
    pub dhcp: Option<String>,
    pub wireguard: Option<WireGuardDevice>,
    /// The configuration of the pptpd giif started, while it runs.
    pub pptp: Option<String>,
    /// The toolbox account's `authorized_keys`, if there is one.
    pub toolbox: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub name: String,
    /// `None` for links without an Ethernet address (wg0).
    pub mac: Option<Mac>,
    pub master: Option<String>,
    pub up: bool,
    /// IPv4 addresses only: the gateway manages no IPv6.
    pub addresses: Vec<Cidr>,
    /// A bridge (br0), as opposed to a NIC.
    pub bridge: bool,
}

impl Link {
    pub fn nic(name: impl Into<String>, mac: Mac) -> Self {
        Self {
            name: name.into(),
            mac: Some(mac),
            master: None,
            up: true,
            addresses: Vec::new(),
            bridge: false,
        }
    }
}

/// Table `inet giif` read back as rules giif writes, plus whatever else is
/// in it (someone's hand edit), which no document ever contains.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Nat {
    /// `ip saddr NET oifname IF masquerade`: (NET, IF).
    pub masquerade: Vec<(Cidr, String)>,
    /// `ip daddr PUBLIC dnat ip to PRIVATE` in the prerouting chain.
    pub dnat: BTreeMap<Ipv4Addr, Ipv4Addr>,
    /// `ip saddr PRIVATE oifname IF snat ip to PUBLIC`: PRIVATE -> (PUBLIC, IF).
    pub snat: BTreeMap<Ipv4Addr, (Ipv4Addr, String)>,
    /// The `forward` filter chain's rules giif writes, in order:
    /// `established`, `dnat` (forwarded because a floating IP's DNAT let
    /// it in) and `drop from IF` (anything else new from the WAN).
    pub forward: Vec<ForwardRule>,
    /// Chains and rules giif does not write, described for people.
    pub foreign: Vec<String>,
}

/// A rule of the `forward` chain: the WAN reaches the project only
/// through floating IPs (and answers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ForwardRule {
    /// `ct state established,related accept`
    Established,
    /// `ct status dnat accept`
    Dnat,
    /// `iifname IF drop`
    DropFrom(String),
}

/// wg0 as `wg show` reports it (never its private key).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WireGuardDevice {
    pub listen_port: u16,
    /// `None` while the device has no private key.
    pub public_key: Option<String>,
    /// Peer public key -> allowed IPs.
    pub peers: BTreeMap<String, Vec<Cidr>>,
}

impl Observed {
    pub fn link(&self, name: &str) -> Option<&Link> {
        self.links.iter().find(|link| link.name == name)
    }

    pub fn link_mut(&mut self, name: &str) -> Option<&mut Link> {
        self.links.iter_mut().find(|link| link.name == name)
    }

    pub fn link_by_mac(&self, mac: Mac) -> Option<&Link> {
        self.links
            .iter()
            .find(|link| link.mac == Some(mac) && !link.bridge)
    }

    /// The address cloud-init gave the NIC with `mac` (its first address
    /// that is not a floating IP's /32): who this gateway is.
    pub fn identity(&self, mac: Mac) -> Option<Cidr> {
        self.link_by_mac(mac)?
            .addresses
            .iter()
            .copied()
            .find(|address| address.prefix < 32)
    }
}

//! Checking a gateway configuration before anything is sent: every problem,
//! each naming its field, so the provider can point at the attribute.

use std::collections::BTreeSet;
use std::fmt;
use std::net::Ipv4Addr;

use base64::Engine as _;

use super::model::*;

/// One field and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldProblem {
    /// Such as `dnat[203.0.113.50].private` or `wireguard.peers[alice].address`.
    pub field: String,
    pub message: String,
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// A configuration no gateway should run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid gateway configuration: {}", join(.problems))]
pub struct InvalidConfig {
    pub problems: Vec<FieldProblem>,
}

fn join(problems: &[FieldProblem]) -> String {
    problems
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// A subnet, for membership tests.
#[derive(Clone, Copy)]
struct Net {
    network: Ipv4Addr,
    prefix: u8,
}

impl Net {
    fn mask(self) -> u32 {
        u32::from(netmask(self.prefix))
    }
    fn contains(self, address: Ipv4Addr) -> bool {
        u32::from(address) & self.mask() == u32::from(self.network) & self.mask()
    }
    /// Inside, and neither the network nor the broadcast address.
    fn host(self, address: Ipv4Addr) -> bool {
        let host_bits = u32::from(address) & !self.mask();
        self.contains(address) && host_bits != 0 && host_bits != !self.mask()
    }
}

const LAN: Net = Net {
    network: LAN_NETWORK,
    prefix: LAN_PREFIX,
};
const WIREGUARD: Net = Net {
    network: WIREGUARD_NETWORK,
    prefix: WIREGUARD_PREFIX,
};

impl GatewayConfig {
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        let mut problems = Vec::new();
        let mut bad =
            |field: String, message: String| problems.push(FieldProblem { field, message });
        let lan_text = format!("{LAN_NETWORK}/{LAN_PREFIX}");

        if !(1..=4094).contains(&self.project_vlan) {
            bad(
                "project_vlan".into(),
                format!("{} is not a VLAN id (1-4094)", self.project_vlan),
            );
        }

        let public = self.public;
        match prefix_len(public.netmask) {
            Some(prefix @ 8..=30) => {
                let wan = Net {
                    network: public.address,
                    prefix,
                };
                if !wan.host(public.address) || !unicast(public.address) {
                    bad(
                        "public.address".into(),
                        format!(
                            "{} is not a host address with netmask {}",
                            public.address, public.netmask
                        ),
                    );
                }
                if !wan.host(public.gateway) || public.gateway == public.address {
                    bad(
                        "public.gateway".into(),
                        format!(
                            "{} is not another host in the public subnet",
                            public.gateway
                        ),
                    );
                }
            }
            _ => bad(
                "public.netmask".into(),
                format!("{} is not a netmask from /8 to /30", public.netmask),
            ),
        }
        if LAN.contains(public.address) {
            bad(
                "public.address".into(),
                format!(
                    "{} is inside the project segment {lan_text}",
                    public.address
                ),
            );
        }

        if !LAN.host(self.lan_address) {
            bad(
                "lan_address".into(),
                format!("{} is not a host address in {lan_text}", self.lan_address),
            );
        }

        let (first, last) = (self.dhcp.first, self.dhcp.last);
        for (field, address) in [("dhcp.first", first), ("dhcp.last", last)] {
            if !LAN.host(address) {
                bad(
                    field.into(),
                    format!("{address} is not a host address in {lan_text}"),
                );
            }
        }
        if u32::from(first) > u32::from(last) {
            bad(
                "dhcp.last".into(),
                format!("{last} is before dhcp.first {first}"),
            );
        }
        let in_pool = |a: Ipv4Addr| (u32::from(first)..=u32::from(last)).contains(&u32::from(a));
        if in_pool(self.lan_address) {
            bad(
                "dhcp".into(),
                format!(
                    "the range {first}-{last} contains the gateway's address {}",
                    self.lan_address
                ),
            );
        }
        let mut seen = BTreeSet::new();
        for (i, server) in self.dhcp.dns_servers.iter().enumerate() {
            let field = format!("dhcp.dns_servers[{i}]");
            if !unicast(*server) {
                bad(field.clone(), format!("{server} is not a unicast address"));
            }
            if !seen.insert(*server) {
                bad(field, format!("{server} is listed twice"));
            }
        }
        if self.dhcp.dns_servers.len() > 3 {
            bad("dhcp.dns_servers".into(), "list at most 3 servers".into());
        }

        for vlan in &self.bms_vlans {
            if !(1..=4094).contains(vlan) {
                bad(
                    format!("bms_vlans[{vlan}]"),
                    format!("{vlan} is not a VLAN id (1-4094)"),
                );
            }
            if *vlan == self.project_vlan {
                bad(
                    format!("bms_vlans[{vlan}]"),
                    "is the project VLAN itself".into(),
                );
            }
        }

        let (mut publics, mut privates) = (BTreeSet::new(), BTreeSet::new());
        for rule in &self.dnat {
            let field = |f: &str| format!("dnat[{}].{f}", rule.public);
            if !unicast(rule.public) || LAN.contains(rule.public) || WIREGUARD.contains(rule.public)
            {
                bad(
                    field("public"),
                    format!("{} is not a public unicast address", rule.public),
                );
            }
            if rule.public == public.address {
                bad(
                    field("public"),
                    "is the gateway's own public address".into(),
                );
            }
            if !publics.insert(rule.public) {
                bad(field("public"), "has two rules".into());
            }
            if !LAN.host(rule.private) {
                bad(
                    field("private"),
                    format!("{} is not a host address in {lan_text}", rule.private),
                );
            } else if rule.private == self.lan_address {
                bad(
                    field("private"),
                    format!("{} is the gateway itself", rule.private),
                );
            } else if in_pool(rule.private) {
                bad(
                    field("private"),
                    format!("{} is in the DHCP range {first}-{last}; use a static address (by convention {STATIC_FIRST}-{STATIC_LAST})", rule.private),
                );
            }
            if !privates.insert(rule.private) {
                bad(
                    field("private"),
                    format!(
                        "{} is already the target of another floating IP",
                        rule.private
                    ),
                );
            }
        }

        if let Some(wireguard) = &self.wireguard {
            let wg_text = format!("{WIREGUARD_NETWORK}/{WIREGUARD_PREFIX}");
            if wireguard.listen_port == 0 {
                bad("wireguard.listen_port".into(), "0 is not a port".into());
            }
            if !WIREGUARD.host(wireguard.address) {
                bad(
                    "wireguard.address".into(),
                    format!("{} is not a host address in {wg_text}", wireguard.address),
                );
            }
            let (mut names, mut keys, mut addresses) =
                (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
            for peer in &wireguard.peers {
                let field = |f: &str| format!("wireguard.peers[{}].{f}", peer.name);
                if !peer_name_ok(&peer.name) {
                    bad(
                        field("name"),
                        "use 1-32 letters, digits, '.', '_' or '-'".into(),
                    );
                }
                if !names.insert(peer.name.as_str()) {
                    bad(field("name"), "is listed twice".into());
                }
                if !wireguard_key_ok(&peer.public_key) {
                    bad(
                        field("public_key"),
                        "is not a WireGuard public key (base64 of 32 bytes)".into(),
                    );
                }
                if !keys.insert(peer.public_key.as_str()) {
                    bad(field("public_key"), "is used by another peer".into());
                }
                if !WIREGUARD.host(peer.address) || peer.address == wireguard.address {
                    bad(
                        field("address"),
                        format!(
                            "{} is not a client address in {wg_text} (not the server's)",
                            peer.address
                        ),
                    );
                }
                if !addresses.insert(peer.address) {
                    bad(
                        field("address"),
                        format!("{} is used by another peer", peer.address),
                    );
                }
            }
        }

        match problems.is_empty() {
            true => Ok(()),
            false => Err(InvalidConfig { problems }),
        }
    }
}

fn unicast(a: Ipv4Addr) -> bool {
    !(a.is_unspecified() || a.is_broadcast() || a.is_multicast() || a.is_loopback())
}

fn peer_name_ok(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

fn wireguard_key_ok(key: &str) -> bool {
    base64::engine::general_purpose::STANDARD
        .decode(key)
        .is_ok_and(|bytes| bytes.len() == 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> GatewayConfig {
        let mut config = GatewayConfig::new(
            101,
            PublicAddress {
                address: Ipv4Addr::new(203, 0, 113, 10),
                netmask: Ipv4Addr::new(255, 255, 255, 0),
                gateway: Ipv4Addr::new(203, 0, 113, 1),
            },
        );
        config.dnat.push(DnatRule {
            public: Ipv4Addr::new(203, 0, 113, 50),
            private: Ipv4Addr::new(192, 168, 212, 130),
        });
        config.wireguard = Some(WireGuardConfig {
            peers: vec![WireGuardPeer {
                name: "alice".into(),
                public_key: base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
                address: Ipv4Addr::new(192, 168, 213, 2),
            }],
            ..WireGuardConfig::default()
        });
        config
    }

    fn fields(config: &GatewayConfig) -> Vec<String> {
        config
            .validate()
            .err()
            .map(|e| e.problems.into_iter().map(|p| p.field).collect())
            .unwrap_or_default()
    }

    #[test]
    fn the_defaults_are_valid() {
        assert_eq!(config().validate(), Ok(()));
    }

    #[test]
    fn each_problem_names_its_field() {
        let mut bad = config();
        bad.dnat.push(DnatRule {
            public: Ipv4Addr::new(203, 0, 113, 51),
            private: Ipv4Addr::new(192, 168, 212, 1),
        });
        bad.dnat.push(DnatRule {
            public: Ipv4Addr::new(203, 0, 113, 52),
            private: Ipv4Addr::new(192, 168, 212, 50),
        });
        bad.dhcp.dns_servers.push(Ipv4Addr::new(224, 0, 0, 1));
        bad.bms_vlans.insert(101);
        bad.public.netmask = Ipv4Addr::new(255, 0, 255, 0);
        if let Some(wireguard) = &mut bad.wireguard {
            wireguard.peers[0].address = Ipv4Addr::new(192, 168, 213, 1);
            wireguard.peers[0].public_key = "not a key".into();
        }
        assert_eq!(
            fields(&bad),
            [
                "public.netmask",
                "dhcp.dns_servers[0]",
                "bms_vlans[101]",
                "dnat[203.0.113.51].private",
                "dnat[203.0.113.52].private",
                "wireguard.peers[alice].public_key",
                "wireguard.peers[alice].address",
            ]
        );
        let message = bad.validate().unwrap_err().to_string();
        assert!(
            message.contains("dnat[203.0.113.52].private: 192.168.212.50 is in the DHCP range"),
            "{message}"
        );
    }

    #[test]
    fn the_dhcp_range_stays_in_the_segment_and_off_the_gateway() {
        let mut bad = config();
        bad.dnat.clear();
        bad.dhcp.first = Ipv4Addr::new(192, 168, 212, 1);
        bad.dhcp.last = Ipv4Addr::new(192, 168, 213, 10);
        assert_eq!(fields(&bad), ["dhcp.last", "dhcp"]);
    }
}

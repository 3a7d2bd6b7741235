//! What `giif-pagw-apply` checks before it touches anything: the values of
//! a parsed document, and that the document is meant for this gateway (its
//! WAN address must be the one cloud-init gave the VM).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use base64::Engine as _;

use super::document::{Cidr, Document};

/// The project segment every gateway serves.
pub const LAN: Cidr = Cidr {
    address: Ipv4Addr::new(192, 168, 212, 0),
    prefix: 24,
};
/// The WireGuard server subnet.
pub const WIREGUARD: Cidr = Cidr {
    address: Ipv4Addr::new(192, 168, 213, 0),
    prefix: 24,
};

/// Every problem, each as `field: reason`; empty when the document is good.
pub fn problems(doc: &Document, cloud_init_wan: Option<Cidr>) -> Vec<String> {
    let mut out = Vec::new();
    let mut bad = |field: String, reason: String| out.push(format!("{field}: {reason}"));

    if !(1..=4094).contains(&doc.project_vlan) {
        bad(
            "project_vlan".into(),
            format!("{} is not a VLAN id (1-4094)", doc.project_vlan),
        );
    }

    let wan = doc.wan.address;
    if !(8..=30).contains(&wan.prefix) || !host_in(wan, wan.address) {
        bad(
            "wan.address".into(),
            format!("{wan} is not a host address in a /8-/30 subnet"),
        );
    }
    if let Some(ours) = cloud_init_wan {
        if ours != wan {
            bad(
                "wan.address".into(),
                format!("{wan} is not this gateway's address {ours} (set by cloud-init); refusing a configuration meant for another gateway"),
            );
        }
    }
    if !host_in(wan, doc.wan.gateway) || doc.wan.gateway == wan.address {
        bad(
            "wan.gateway".into(),
            format!(
                "{} is not another host in {}",
                doc.wan.gateway,
                Cidr::new(wan.network(), wan.prefix)
            ),
        );
    }

    let lan = doc.lan.address;
    if lan.prefix != LAN.prefix || !host_in(LAN, lan.address) {
        bad(
            "lan.address".into(),
            format!("{lan} is not a host address in {LAN}"),
        );
    }

    let (first, last) = (doc.dhcp.first, doc.dhcp.last);
    for (field, address) in [("dhcp.first", first), ("dhcp.last", last)] {
        if !host_in(LAN, address) {
            bad(
                field.into(),
                format!("{address} is not a host address in {LAN}"),
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
    if in_pool(lan.address) {
        bad(
            "dhcp".into(),
            format!(
                "the range {first}-{last} contains the gateway's own address {}",
                lan.address
            ),
        );
    }
    let mut seen = BTreeSet::new();
    for (i, server) in doc.dhcp.dns_servers.iter().enumerate() {
        if !unicast(*server) {
            bad(
                format!("dhcp.dns_servers[{i}]"),
                format!("{server} is not a unicast address"),
            );
        }
        if !seen.insert(*server) {
            bad(
                format!("dhcp.dns_servers[{i}]"),
                format!("{server} is listed twice"),
            );
        }
    }
    if doc.dhcp.dns_servers.len() > 3 {
        bad("dhcp.dns_servers".into(), "list at most 3 servers".into());
    }

    let mut vlans = BTreeSet::new();
    for (i, vlan) in doc.bridge.bms_vlans.iter().enumerate() {
        let field = format!("bridge.bms_vlans[{i}]");
        if !(1..=4094).contains(vlan) {
            bad(field.clone(), format!("{vlan} is not a VLAN id (1-4094)"));
        }
        if *vlan == doc.project_vlan {
            bad(field.clone(), format!("{vlan} is the project VLAN itself"));
        }
        if !vlans.insert(*vlan) {
            bad(field, format!("{vlan} is listed twice"));
        }
    }

    let (mut publics, mut privates) = (BTreeSet::new(), BTreeSet::new());
    for (i, rule) in doc.dnat.iter().enumerate() {
        if !unicast(rule.public) || host_in(LAN, rule.public) || rule.public == wan.address {
            bad(
                format!("dnat[{i}].public"),
                format!(
                    "{} is not a floating public address (not the gateway's own, not private)",
                    rule.public
                ),
            );
        }
        if !publics.insert(rule.public) {
            bad(
                format!("dnat[{i}].public"),
                format!("{} has two rules", rule.public),
            );
        }
        if !host_in(LAN, rule.private) || rule.private == lan.address || in_pool(rule.private) {
            bad(
                format!("dnat[{i}].private"),
                format!("{} is not a static host address in {LAN} (not the gateway, not in the DHCP range)", rule.private),
            );
        }
        if !privates.insert(rule.private) {
            bad(
                format!("dnat[{i}].private"),
                format!(
                    "{} is already the target of another floating address",
                    rule.private
                ),
            );
        }
    }

    if let Some(wg) = &doc.wireguard {
        if wg.listen_port == 0 {
            bad("wireguard.listen_port".into(), "0 is not a port".into());
        }
        if wg.address.prefix != WIREGUARD.prefix || !host_in(WIREGUARD, wg.address.address) {
            bad(
                "wireguard.address".into(),
                format!("{} is not a host address in {WIREGUARD}", wg.address),
            );
        }
        let (mut names, mut keys, mut addresses) =
            (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
        for (i, peer) in wg.peers.iter().enumerate() {
            let field = |f: &str| format!("wireguard.peers[{i}].{f}");
            if !peer_name_ok(&peer.name) {
                bad(
                    field("name"),
                    format!(
                        "{:?} is not a peer name (1-32 of letters, digits, '.', '_', '-')",
                        peer.name
                    ),
                );
            }
            if !names.insert(peer.name.clone()) {
                bad(field("name"), format!("{:?} is listed twice", peer.name));
            }
            if !wireguard_key_ok(&peer.public_key) {
                bad(
                    field("public_key"),
                    "is not a WireGuard key (base64 of 32 bytes)".into(),
                );
            }
            if !keys.insert(peer.public_key.clone()) {
                bad(field("public_key"), "is used by another peer".into());
            }
            if !host_in(WIREGUARD, peer.address) || peer.address == wg.address.address {
                bad(
                    field("address"),
                    format!(
                        "{} is not a client address in {WIREGUARD} (not the server's)",
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
    out
}

/// A usable host address inside `net` (neither its network nor broadcast).
fn host_in(net: Cidr, address: Ipv4Addr) -> bool {
    net.contains(address) && address != net.network() && address != net.broadcast()
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

pub fn wireguard_key_ok(key: &str) -> bool {
    base64::engine::general_purpose::STANDARD
        .decode(key)
        .map(|bytes| bytes.len() == 32)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::super::document::*;
    use super::*;

    fn doc() -> Document {
        Document {
            format: FORMAT,
            project_vlan: 101,
            wan: Wan {
                address: "203.0.113.10/24".parse().unwrap(),
                gateway: Ipv4Addr::new(203, 0, 113, 1),
            },
            lan: Lan {
                address: "192.168.212.1/24".parse().unwrap(),
            },
            dhcp: Dhcp {
                first: Ipv4Addr::new(192, 168, 212, 20),
                last: Ipv4Addr::new(192, 168, 212, 120),
                dns_servers: vec![],
            },
            snat: true,
            bridge: Bridge {
                bms_vlans: vec![3001],
            },
            dnat: vec![Dnat {
                public: Ipv4Addr::new(203, 0, 113, 50),
                private: Ipv4Addr::new(192, 168, 212, 130),
            }],
            wireguard: None,
            pptp: false,
        }
    }

    #[test]
    fn a_good_document_has_no_problems() {
        assert_eq!(
            problems(&doc(), Some("203.0.113.10/24".parse().unwrap())),
            Vec::<String>::new()
        );
    }

    #[test]
    fn problems_name_their_field() {
        let mut bad = doc();
        bad.dnat[0].private = Ipv4Addr::new(192, 168, 212, 50);
        bad.bridge.bms_vlans.push(101);
        let found = problems(&bad, Some("203.0.113.11/24".parse().unwrap()));
        assert!(
            found
                .iter()
                .any(|p| p.starts_with("dnat[0].private: 192.168.212.50")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|p| p.starts_with("bridge.bms_vlans[1]: 101 is the project VLAN")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|p| p.contains("not this gateway's address 203.0.113.11/24")),
            "{found:?}"
        );
    }
}

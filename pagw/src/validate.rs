//! What a document must satisfy before anything is touched: checked by the
//! agent before it sends a document and by the gateway before it applies
//! one, with the same code. Every problem names its field.

use std::collections::BTreeSet;
use std::fmt;
use std::net::Ipv4Addr;

use base64::Engine as _;

use crate::document::*;

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

impl Document {
    /// Every problem of the document's values; empty when it is good.
    pub fn problems(&self) -> Vec<FieldProblem> {
        let mut out = Vec::new();
        let mut bad = |field: String, message: String| out.push(FieldProblem { field, message });

        if self.format != FORMAT {
            bad(
                "format".into(),
                format!("{} is not format {FORMAT}", self.format),
            );
        }
        if !(1..=4094).contains(&self.project_vlan) {
            bad(
                "project_vlan".into(),
                format!("{} is not a VLAN id (1-4094)", self.project_vlan),
            );
        }

        let mut macs = BTreeSet::new();
        for (field, mac) in [("nics.lan", self.nics.lan), ("nics.wan", self.nics.wan)] {
            if !macs.insert(mac) {
                bad(field.into(), format!("{mac} is listed twice"));
            }
        }
        let mut vlans = BTreeSet::new();
        for nic in &self.nics.servers {
            let field = format!("nics.servers[{}]", nic.vlan);
            if !(1..=4094).contains(&nic.vlan) {
                bad(
                    field.clone(),
                    format!("{} is not a VLAN id (1-4094)", nic.vlan),
                );
            }
            if nic.vlan == self.project_vlan {
                bad(
                    field.clone(),
                    format!("{} is the project VLAN itself", nic.vlan),
                );
            }
            if !vlans.insert(nic.vlan) {
                bad(field.clone(), format!("VLAN {} is listed twice", nic.vlan));
            }
            if !macs.insert(nic.mac) {
                bad(
                    format!("{field}.mac"),
                    format!("{} is another NIC's MAC", nic.mac),
                );
            }
        }
        for mac in &macs {
            if mac.0[0] & 1 == 1 {
                bad(
                    "nics".into(),
                    format!("{mac} is a multicast MAC, not a NIC's"),
                );
            }
        }

        let wan = self.wan.address;
        if !(8..=30).contains(&wan.prefix) || !wan.host(wan.address) || !unicast(wan.address) {
            bad(
                "wan.address".into(),
                format!("{wan} is not a host address in a /8-/30 subnet"),
            );
        }
        if LAN.contains(wan.address) || WIREGUARD.contains(wan.address) {
            bad(
                "wan.address".into(),
                format!("{} is inside the project's private subnets", wan.address),
            );
        }
        if !wan.host(self.wan.gateway) || self.wan.gateway == wan.address {
            bad(
                "wan.gateway".into(),
                format!(
                    "{} is not another host in {}",
                    self.wan.gateway,
                    Cidr::new(wan.network(), wan.prefix)
                ),
            );
        }

        let lan = self.lan.address;
        if lan.prefix != LAN.prefix || !LAN.host(lan.address) {
            bad(
                "lan.address".into(),
                format!("{lan} is not a host address in {LAN}"),
            );
        }

        let pool = self.dhcp.as_ref().map(|dhcp| (dhcp.first, dhcp.last));
        let in_pool = |a: Ipv4Addr| {
            pool.is_some_and(|(first, last)| {
                (u32::from(first)..=u32::from(last)).contains(&u32::from(a))
            })
        };
        if let Some(dhcp) = &self.dhcp {
            let (first, last) = (dhcp.first, dhcp.last);
            for (field, address) in [("dhcp.first", first), ("dhcp.last", last)] {
                if !LAN.host(address) {
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
            for (i, server) in dhcp.dns_servers.iter().enumerate() {
                let field = format!("dhcp.dns_servers[{i}]");
                if !unicast(*server) {
                    bad(field.clone(), format!("{server} is not a unicast address"));
                }
                if !seen.insert(*server) {
                    bad(field, format!("{server} is listed twice"));
                }
            }
            if dhcp.dns_servers.len() > 3 {
                bad("dhcp.dns_servers".into(), "list at most 3 servers".into());
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
            if rule.public == wan.address {
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
                    format!("{} is not a host address in {LAN}", rule.private),
                );
            } else if rule.private == lan.address {
                bad(
                    field("private"),
                    format!("{} is the gateway itself", rule.private),
                );
            } else if in_pool(rule.private) {
                bad(
                    field("private"),
                    format!(
                        "{} is in the DHCP range; use a static address (by convention {STATIC_FIRST}-{STATIC_LAST})",
                        rule.private
                    ),
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

        if let Some(wg) = &self.wireguard {
            if wg.listen_port == 0 {
                bad("wireguard.listen_port".into(), "0 is not a port".into());
            }
            if wg.address.prefix != WIREGUARD.prefix || !WIREGUARD.host(wg.address.address) {
                bad(
                    "wireguard.address".into(),
                    format!("{} is not a host address in {WIREGUARD}", wg.address),
                );
            }
            let (mut names, mut keys, mut addresses) =
                (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
            for peer in &wg.peers {
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
                if !WIREGUARD.host(peer.address) || peer.address == wg.address.address {
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
        if let Some(toolbox) = &self.toolbox {
            let mut seen = BTreeSet::new();
            for (i, key) in toolbox.authorized_keys.iter().enumerate() {
                let field = format!("toolbox.authorized_keys[{i}]");
                if !public_key_ok(key) {
                    bad(
                        field.clone(),
                        "is not one OpenSSH public key line (type, base64, optional comment)"
                            .into(),
                    );
                }
                if !seen.insert(key.split_whitespace().nth(1).unwrap_or_default()) {
                    bad(field, "is listed twice".into());
                }
            }
        }
        out
    }
}

/// One `authorized_keys` key without options: the gateway adds its own.
fn public_key_ok(line: &str) -> bool {
    const TYPES: [&str; 5] = [
        "ssh-ed25519",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "ssh-rsa",
    ];
    let mut words = line.split(' ');
    let (Some(kind), Some(blob)) = (words.next(), words.next()) else {
        return false;
    };
    !line.contains(['\n', '\r', '"'])
        && TYPES.contains(&kind)
        && base64::engine::general_purpose::STANDARD
            .decode(blob)
            .is_ok_and(|b| b.len() > 16)
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

/// Base64 of 32 bytes, as `wg` prints keys.
pub fn wireguard_key_ok(key: &str) -> bool {
    base64::engine::general_purpose::STANDARD
        .decode(key)
        .is_ok_and(|bytes| bytes.len() == 32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::tests::{document, mac};

    fn fields(doc: &Document) -> Vec<String> {
        doc.problems().into_iter().map(|p| p.field).collect()
    }

    #[test]
    fn the_defaults_are_valid() {
        assert_eq!(document().problems(), []);
    }

    #[test]
    fn each_problem_names_its_field() {
        let mut bad = document();
        bad.dnat.push(Dnat {
            public: Ipv4Addr::new(203, 0, 113, 51),
            private: Ipv4Addr::new(192, 168, 212, 1),
        });
        bad.dnat.push(Dnat {
            public: Ipv4Addr::new(203, 0, 113, 52),
            private: Ipv4Addr::new(192, 168, 212, 50),
        });
        if let Some(dhcp) = &mut bad.dhcp {
            dhcp.dns_servers.push(Ipv4Addr::new(224, 0, 0, 1));
        }
        bad.nics.servers.push(ServerNic {
            vlan: 101,
            mac: mac(1),
        });
        bad.wan.address.prefix = 31;
        if let Some(wg) = &mut bad.wireguard {
            wg.peers[0].address = Ipv4Addr::new(192, 168, 213, 1);
            wg.peers[0].public_key = "not a key".into();
        }
        assert_eq!(
            fields(&bad),
            [
                "nics.servers[101]",
                "nics.servers[101].mac",
                "wan.address",
                "wan.gateway",
                "dhcp.dns_servers[0]",
                "dnat[203.0.113.51].private",
                "dnat[203.0.113.52].private",
                "wireguard.peers[alice].public_key",
                "wireguard.peers[alice].address",
            ]
        );
        let text = bad
            .problems()
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            text.contains("dnat[203.0.113.52].private: 192.168.212.50 is in the DHCP range"),
            "{text}"
        );
    }

    #[test]
    fn toolbox_keys_are_plain_public_keys() {
        let mut doc = document();
        let key = format!(
            "ssh-ed25519 {} toolbox",
            base64::engine::general_purpose::STANDARD.encode([1u8; 51])
        );
        doc.toolbox = Some(Toolbox {
            authorized_keys: vec![key.clone(), format!("command=\"sh\" {key}"), key],
        });
        assert_eq!(
            fields(&doc),
            ["toolbox.authorized_keys[1]", "toolbox.authorized_keys[2]"]
        );
    }

    #[test]
    fn the_dhcp_range_stays_in_the_segment_and_off_the_gateway() {
        let mut bad = document();
        bad.dnat.clear();
        bad.dhcp = Some(Dhcp {
            first: Ipv4Addr::new(192, 168, 212, 1),
            last: Ipv4Addr::new(192, 168, 213, 10),
            dns_servers: vec![],
        });
        assert_eq!(fields(&bad), ["dhcp.last", "dhcp"]);
        bad.dhcp = None;
        assert_eq!(fields(&bad), Vec::<String>::new());
    }
}

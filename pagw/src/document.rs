//! The gateway configuration document (`/etc/giif/pagw.json`), format 2:
//! the one definition the agent renders, the gateway tool applies and
//! giif-sim's fake guest reads. Parsed strictly (every field required,
//! unknown fields refused) and kept in canonical order, so two equal
//! configurations compare and print the same.
//!
//! Format 2 names every NIC by the MAC address Proxmox gave it: inside the
//! guest there are no VLAN tags, so a MAC is the only way to tell the
//! project NIC from the public one or from a server's segment.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The format this crate reads and writes. Format 1 named NICs by VLAN.
pub const FORMAT: u32 = 2;

/// The project segment every gateway serves (each project on its own VLAN).
pub const LAN: Cidr = Cidr::new(Ipv4Addr::new(192, 168, 212, 0), 24);
/// The gateway's own address on the project segment.
pub const DEFAULT_LAN_ADDRESS: Ipv4Addr = Ipv4Addr::new(192, 168, 212, 1);
/// The default DHCP pool.
pub const DEFAULT_DHCP_FIRST: Ipv4Addr = Ipv4Addr::new(192, 168, 212, 20);
pub const DEFAULT_DHCP_LAST: Ipv4Addr = Ipv4Addr::new(192, 168, 212, 120);
/// Where static hosts (and so floating-IP targets) live by convention.
pub const STATIC_FIRST: Ipv4Addr = Ipv4Addr::new(192, 168, 212, 130);
pub const STATIC_LAST: Ipv4Addr = Ipv4Addr::new(192, 168, 212, 230);
/// The WireGuard server subnet; clients use the /23 [`VPN_ALLOWED_IPS`] so
/// they reach the project segment without extra routes.
pub const WIREGUARD: Cidr = Cidr::new(Ipv4Addr::new(192, 168, 213, 0), 24);
pub const DEFAULT_WIREGUARD_ADDRESS: Ipv4Addr = Ipv4Addr::new(192, 168, 213, 1);
pub const DEFAULT_WIREGUARD_PORT: u16 = 51820;
/// What a WireGuard client routes through the gateway.
pub const VPN_ALLOWED_IPS: Cidr = Cidr::new(Ipv4Addr::new(192, 168, 212, 0), 23);
/// The restricted account the project toolbox's Guacamole connections
/// log in as; its keys may only run `giif-pagw-toolbox`.
pub const TOOLBOX_USER: &str = "giif-toolbox";
/// Addresses pptpd hands out (outside the DHCP and static ranges).
pub const PPTP_FIRST: Ipv4Addr = Ipv4Addr::new(192, 168, 212, 231);
pub const PPTP_LAST: Ipv4Addr = Ipv4Addr::new(192, 168, 212, 250);

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    pub format: u32,
    /// The project segment's VLAN: a label (the guest sees no tags).
    pub project_vlan: u16,
    pub nics: Nics,
    pub wan: Wan,
    pub lan: Lan,
    /// `null` turns DHCP off (and is what a gateway whose dnsmasq is not
    /// running reports); the field itself must be present.
    #[serde(deserialize_with = "Option::deserialize")]
    pub dhcp: Option<Dhcp>,
    pub snat: bool,
    pub dnat: Vec<Dnat>,
    /// `null` turns WireGuard off; the field itself must be present.
    #[serde(deserialize_with = "Option::deserialize")]
    pub wireguard: Option<WireGuard>,
    pub pptp: bool,
    /// `null` (or absent): no toolbox account keys.
    #[serde(default)]
    pub toolbox: Option<Toolbox>,
}

/// Who may use the project toolbox: OpenSSH public keys, each allowed only
/// to run `giif-pagw-toolbox` as [`TOOLBOX_USER`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Toolbox {
    pub authorized_keys: Vec<String>,
}

/// The gateway's NICs by the MAC address the hypervisor gave them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nics {
    /// The project NIC (`net0`), enslaved to `br0`.
    pub lan: Mac,
    /// The public NIC (`net1`): WAN address, default route, floating IPs.
    pub wan: Mac,
    /// Bare-metal servers' segments (hot-plugged), enslaved to `br0`.
    pub servers: Vec<ServerNic>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerNic {
    /// The server's VLAN: a label, as `project_vlan`.
    pub vlan: u16,
    pub mac: Mac,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wan {
    pub address: Cidr,
    pub gateway: Ipv4Addr,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lan {
    pub address: Cidr,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dhcp {
    pub first: Ipv4Addr,
    pub last: Ipv4Addr,
    /// Empty: clients get the gateway itself (dnsmasq forwards).
    pub dns_servers: Vec<Ipv4Addr>,
}

/// A floating IP and the private host it stands for (DNAT in, SNAT out).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dnat {
    pub public: Ipv4Addr,
    pub private: Ipv4Addr,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireGuard {
    pub listen_port: u16,
    pub address: Cidr,
    pub peers: Vec<Peer>,
}

/// A VPN client, known only by its public key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Peer {
    pub name: String,
    pub public_key: String,
    pub address: Ipv4Addr,
}

/// An interface address with its prefix length, written `a.b.c.d/n`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cidr {
    pub address: Ipv4Addr,
    pub prefix: u8,
}

impl Cidr {
    pub const fn new(address: Ipv4Addr, prefix: u8) -> Self {
        Self { address, prefix }
    }
    pub fn mask(&self) -> u32 {
        match self.prefix {
            0 => 0,
            p => u32::MAX << (32 - u32::from(p.min(32))),
        }
    }
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.address) & self.mask())
    }
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.address) | !self.mask())
    }
    pub fn contains(&self, other: Ipv4Addr) -> bool {
        u32::from(other) & self.mask() == u32::from(self.network())
    }
    /// Inside, and neither the network nor the broadcast address.
    pub fn host(&self, other: Ipv4Addr) -> bool {
        self.contains(other) && other != self.network() && other != self.broadcast()
    }
    /// The netmask, such as `255.255.255.0`.
    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.mask())
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

impl FromStr for Cidr {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{text:?} is not an address with a prefix length (a.b.c.d/n)");
        let (address, prefix) = text.split_once('/').ok_or_else(bad)?;
        let address = address.parse().map_err(|_| bad())?;
        // Digits only: `u8::from_str` would also take "+24".
        if prefix.is_empty() || prefix.len() > 2 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        if prefix > 32 {
            return Err(bad());
        }
        Ok(Self { address, prefix })
    }
}

impl TryFrom<String> for Cidr {
    type Error = String;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<Cidr> for String {
    fn from(cidr: Cidr) -> Self {
        cidr.to_string()
    }
}

/// An Ethernet address, written and compared in lower case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Mac(pub [u8; 6]);

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl FromStr for Mac {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{text:?} is not a MAC address (six hex pairs joined by ':')");
        let mut bytes = [0u8; 6];
        let mut parts = text.split(':');
        for byte in &mut bytes {
            let part = parts.next().ok_or_else(bad)?;
            if part.len() != 2 {
                return Err(bad());
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| bad())?;
        }
        match parts.next() {
            Some(_) => Err(bad()),
            None => Ok(Self(bytes)),
        }
    }
}

impl TryFrom<String> for Mac {
    type Error = String;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<Mac> for String {
    fn from(mac: Mac) -> Self {
        mac.to_string()
    }
}

/// Why bytes are not a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Another format: an older or newer gateway tool.
    Format {
        found: u64,
    },
    Invalid(String),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Format { found } => write!(
                f,
                "format: {found} is not supported (this gateway reads format {FORMAT})"
            ),
            Self::Invalid(reason) => f.write_str(reason),
        }
    }
}

impl Document {
    /// A gateway with the conventional defaults: LAN `.1`, DHCP `.20`-`.120`
    /// handing out the gateway as resolver, SNAT on, nothing else.
    pub fn new(project_vlan: u16, nics: Nics, wan: Wan) -> Self {
        Self {
            format: FORMAT,
            project_vlan,
            nics,
            wan,
            lan: Lan {
                address: Cidr::new(DEFAULT_LAN_ADDRESS, LAN.prefix),
            },
            dhcp: Some(Dhcp {
                first: DEFAULT_DHCP_FIRST,
                last: DEFAULT_DHCP_LAST,
                dns_servers: Vec::new(),
            }),
            snat: true,
            dnat: Vec::new(),
            wireguard: None,
            pptp: false,
            toolbox: None,
        }
    }

    /// Parses bytes as a document without judging its values. The format
    /// is checked first, so an older or newer document is named as such
    /// rather than reported as a pile of unknown fields.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| ParseError::Invalid("the configuration is not UTF-8".into()))?;
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ParseError::Invalid(e.to_string()))?;
        match value.get("format").and_then(serde_json::Value::as_u64) {
            Some(found) if found != u64::from(FORMAT) => return Err(ParseError::Format { found }),
            _ => {}
        }
        serde_json::from_value(value).map_err(|e| ParseError::Invalid(e.to_string()))
    }

    /// The same configuration in canonical order (order never matters to
    /// the gateway, only to comparisons and printing).
    pub fn canonical(mut self) -> Self {
        self.nics.servers.sort_by_key(|nic| (nic.vlan, nic.mac));
        self.dnat.sort_by_key(|rule| rule.public);
        if let Some(wireguard) = &mut self.wireguard {
            wireguard.peers.sort_by(|a, b| a.name.cmp(&b.name));
        }
        if let Some(toolbox) = &mut self.toolbox {
            toolbox.authorized_keys.sort();
        }
        self
    }

    /// The canonical text (pretty JSON and a final newline) and its
    /// SHA-256 in hex: what the agent sends and the gateway stores.
    pub fn render(&self) -> (String, String) {
        let text = self.clone().canonical().to_pretty_json();
        let sha256 = sha256_hex(text.as_bytes());
        (text, sha256)
    }

    pub fn to_pretty_json(&self) -> String {
        // Plain data always serializes.
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn mac(last: u8) -> Mac {
        Mac([0xbc, 0x24, 0x11, 0, 0, last])
    }

    pub fn document() -> Document {
        let mut doc = Document::new(
            101,
            Nics {
                lan: mac(1),
                wan: mac(2),
                servers: vec![ServerNic {
                    vlan: 3001,
                    mac: mac(3),
                }],
            },
            Wan {
                address: "203.0.113.10/24".parse().unwrap(),
                gateway: Ipv4Addr::new(203, 0, 113, 1),
            },
        );
        doc.dnat.push(Dnat {
            public: Ipv4Addr::new(203, 0, 113, 50),
            private: Ipv4Addr::new(192, 168, 212, 130),
        });
        doc.wireguard = Some(WireGuard {
            listen_port: DEFAULT_WIREGUARD_PORT,
            address: Cidr::new(DEFAULT_WIREGUARD_ADDRESS, 24),
            peers: vec![Peer {
                name: "alice".into(),
                public_key: base64::Engine::encode(
                    &base64::engine::general_purpose::STANDARD,
                    [7u8; 32],
                ),
                address: Ipv4Addr::new(192, 168, 213, 2),
            }],
        });
        doc
    }

    #[test]
    fn rendering_is_canonical_and_round_trips() {
        let doc = document();
        let mut reversed = doc.clone();
        reversed.dnat.push(Dnat {
            public: Ipv4Addr::new(203, 0, 113, 49),
            private: Ipv4Addr::new(192, 168, 212, 131),
        });
        let mut sorted = reversed.clone();
        sorted.dnat.reverse();
        assert_eq!(reversed.render(), sorted.render());
        let (text, sha) = doc.render();
        assert!(text.contains("\"wan\": \"bc:24:11:00:00:02\""), "{text}");
        assert_eq!(sha, sha256_hex(text.as_bytes()));
        assert_eq!(Document::parse(text.as_bytes()).unwrap(), doc.canonical());
    }

    #[test]
    fn other_formats_are_named_as_such() {
        let (text, _) = document().render();
        let old = text.replace("\"format\": 2", "\"format\": 1");
        assert_eq!(
            Document::parse(old.as_bytes()).unwrap_err().to_string(),
            "format: 1 is not supported (this gateway reads format 2)"
        );
        let missing = text.replace("\"pptp\": false", "\"pptp\": false, \"extra\": 1");
        assert!(matches!(
            Document::parse(missing.as_bytes()),
            Err(ParseError::Invalid(reason)) if reason.contains("unknown field `extra`")
        ));
        let no_dhcp_field = text.replacen("\"dhcp\": {", "\"dhcp_\": {", 1);
        assert!(Document::parse(no_dhcp_field.as_bytes()).is_err());
    }

    #[test]
    fn addresses_parse_strictly() {
        let cidr: Cidr = "203.0.113.10/24".parse().unwrap();
        assert_eq!(cidr.network(), Ipv4Addr::new(203, 0, 113, 0));
        assert_eq!(cidr.broadcast(), Ipv4Addr::new(203, 0, 113, 255));
        assert_eq!(cidr.netmask(), Ipv4Addr::new(255, 255, 255, 0));
        assert!(cidr.host(Ipv4Addr::new(203, 0, 113, 1)));
        assert!(!cidr.host(Ipv4Addr::new(203, 0, 113, 255)));
        for bad in [
            "203.0.113.10",
            "203.0.113.10/33",
            "203.0.113.10/+4",
            "x/24",
            "1.2.3.4/",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
        assert_eq!(
            "BC:24:11:0a:00:01".parse::<Mac>().unwrap().to_string(),
            "bc:24:11:0a:00:01"
        );
        for bad in [
            "bc:24:11:0a:00",
            "bc:24:11:0a:00:01:02",
            "bc-24-11-0a-00-01",
            "bc:24:11:0a:00:1",
        ] {
            assert!(bad.parse::<Mac>().is_err(), "{bad}");
        }
    }
}

//! The gateway configuration document (`/etc/giif/pagw.json`, format 1) as
//! the guest's `giif-pagw-apply` reads it: parsed strictly (every field
//! required, unknown fields rejected) and kept in canonical order so two
//! equal configurations compare and print the same.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The only format this guest understands.
pub const FORMAT: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    pub format: u32,
    pub project_vlan: u16,
    pub wan: Wan,
    pub lan: Lan,
    pub dhcp: Dhcp,
    pub snat: bool,
    pub bridge: Bridge,
    pub dnat: Vec<Dnat>,
    /// `null` turns WireGuard off; the field itself must be present.
    #[serde(deserialize_with = "Option::deserialize")]
    pub wireguard: Option<WireGuard>,
    pub pptp: bool,
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

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bridge {
    /// BMS VLANs whose vNICs are bridged into the project segment.
    pub bms_vlans: Vec<u16>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Peer {
    pub name: String,
    pub public_key: String,
    pub address: Ipv4Addr,
}

/// An interface address with its prefix length, written `a.b.c.d/n`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cidr {
    pub address: Ipv4Addr,
    pub prefix: u8,
}

impl Cidr {
    pub fn new(address: Ipv4Addr, prefix: u8) -> Self {
        Self { address, prefix }
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
    fn mask(&self) -> u32 {
        match self.prefix {
            0 => 0,
            p => u32::MAX << (32 - u32::from(p.min(32))),
        }
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
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
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

impl Document {
    /// Parses the bytes `giif-pagw-apply` read, without judging the values.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let text =
            std::str::from_utf8(bytes).map_err(|_| "the configuration is not UTF-8".to_string())?;
        let document: Document = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if document.format != FORMAT {
            return Err(format!(
                "format: {} is not supported (this gateway reads format {FORMAT})",
                document.format
            ));
        }
        Ok(document)
    }

    /// The same configuration in canonical order (the order never matters
    /// to the gateway, only to comparisons and printing).
    pub fn canonical(mut self) -> Self {
        self.bridge.bms_vlans.sort_unstable();
        self.dnat.sort_by_key(|rule| rule.public);
        if let Some(wireguard) = &mut self.wireguard {
            wireguard.peers.sort_by(|a, b| a.name.cmp(&b.name));
        }
        self
    }

    pub fn to_pretty_json(&self) -> String {
        // Serializing plain data to JSON cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_parsing_is_strict() {
        let cidr: Cidr = "203.0.113.10/24".parse().unwrap();
        assert_eq!(cidr.network(), Ipv4Addr::new(203, 0, 113, 0));
        assert_eq!(cidr.broadcast(), Ipv4Addr::new(203, 0, 113, 255));
        assert!(cidr.contains(Ipv4Addr::new(203, 0, 113, 1)));
        assert!(!cidr.contains(Ipv4Addr::new(203, 0, 114, 1)));
        for bad in [
            "203.0.113.10",
            "203.0.113.10/33",
            "203.0.113.10/+4",
            "203.0.113/24",
            "x/24",
            "1.2.3.4/",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }
}

//! A gateway system held in memory: giif-sim's fake guest and the unit
//! tests run the real tools' planning against it, so the simulator cannot
//! drift from the real gateway. Each step changes the state the way the
//! real commands change the kernel's.

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::document::{Cidr, Document, Mac};
use crate::observed::*;
use crate::plan::Step;
use crate::tool::{System, SystemError};

#[derive(Clone, Debug)]
pub struct MemorySystem {
    pub hostname: String,
    pub live: Observed,
    /// The stored document (kept across reboots, as the disk is).
    pub stored: Option<String>,
    /// wg0's private key (kept across reboots); never shown.
    wireguard_key: Option<[u8; 32]>,
    /// Programs this gateway lacks (`pptpd`, say).
    pub lacking: Vec<String>,
}

impl MemorySystem {
    /// A freshly booted gateway: its NICs (by name and MAC), cloud-init's
    /// address and route on the WAN NIC, nothing else.
    pub fn new(hostname: impl Into<String>) -> Self {
        Self {
            hostname: hostname.into(),
            live: Observed::default(),
            stored: None,
            wireguard_key: None,
            lacking: Vec::new(),
        }
    }

    /// A (re)boot with these NICs: the live state is what the kernel and
    /// cloud-init make of them (the WAN NIC with `wan` and `gateway`);
    /// the stored document and the WireGuard key survive.
    pub fn boot(
        &mut self,
        nics: &[(String, Mac)],
        wan_mac: Option<Mac>,
        wan: Option<(Cidr, Option<std::net::Ipv4Addr>)>,
    ) {
        self.live = Observed::default();
        self.set_nics(nics);
        if let (Some(mac), Some((address, gateway))) = (wan_mac, wan) {
            if let Some(link) = self.live.links.iter_mut().find(|l| l.mac == Some(mac)) {
                link.addresses.push(address);
                if let Some(gateway) = gateway {
                    self.live.default_route = Some((gateway, link.name.clone()));
                }
            }
        }
    }

    /// NICs hot-plugged or unplugged: new ones appear unconfigured, gone
    /// ones vanish with their bridge membership.
    pub fn set_nics(&mut self, nics: &[(String, Mac)]) {
        self.live.links.retain(|link| {
            link.mac.is_none() || link.bridge || nics.iter().any(|(_, mac)| link.mac == Some(*mac))
        });
        for (name, mac) in nics {
            if self.live.link_by_mac(*mac).is_none() {
                self.live.links.push(Link::nic(name.clone(), *mac));
            }
        }
    }

    /// The private key's public half, in the shape `wg` prints. A stand-in
    /// for Curve25519: stable, well-formed, revealing nothing.
    fn public_key(private: &[u8; 32]) -> String {
        let public = Sha256::new()
            .chain_update(b"giif wg0 public key")
            .chain_update(private)
            .finalize();
        base64::engine::general_purpose::STANDARD.encode(public)
    }
}

impl System for MemorySystem {
    fn hostname(&self) -> String {
        self.hostname.clone()
    }

    fn leases_path(&self) -> &str {
        "/var/lib/giif/dnsmasq.leases"
    }

    fn observe(&mut self) -> Result<Observed, SystemError> {
        Ok(self.live.clone())
    }

    fn run(&mut self, step: &Step) -> Result<(), SystemError> {
        let missing = |name: &str| SystemError::Failed(format!("Cannot find device \"{name}\""));
        let live = &mut self.live;
        match step {
            Step::IpForward => live.ip_forward = true,
            Step::SetUp { link } => live.link_mut(link).ok_or_else(|| missing(link))?.up = true,
            Step::CreateBridge => live.links.push(Link {
                name: BRIDGE.into(),
                mac: None,
                master: None,
                up: false,
                addresses: Vec::new(),
                bridge: true,
            }),
            Step::Enslave { link, .. } => {
                let link = live.link_mut(link).ok_or_else(|| missing(link))?;
                link.master = Some(BRIDGE.into());
                link.up = true;
            }
            Step::Release { link } => {
                live.link_mut(link).ok_or_else(|| missing(link))?.master = None
            }
            Step::Addresses { link, add, remove } => {
                let link = live.link_mut(link).ok_or_else(|| missing(link))?;
                link.addresses.retain(|a| !remove.contains(a));
                link.addresses.extend(add);
            }
            Step::DefaultRoute { via, link } => live.default_route = Some((*via, link.clone())),
            Step::Nat { nat, .. } => live.nat = Some(nat.clone()),
            Step::StartDhcp { conf } => live.dhcp = Some(conf.clone()),
            Step::StopDhcp => live.dhcp = None,
            Step::WireGuard { config, .. } => {
                let private = *self.wireguard_key.get_or_insert_with(rand_key);
                let live = &mut self.live;
                if live.link(WIREGUARD_DEVICE).is_none() {
                    live.links.push(Link {
                        name: WIREGUARD_DEVICE.into(),
                        mac: None,
                        master: None,
                        up: false,
                        addresses: Vec::new(),
                        bridge: false,
                    });
                }
                if let Some(link) = live.link_mut(WIREGUARD_DEVICE) {
                    link.addresses = vec![config.address];
                    link.up = true;
                }
                live.wireguard = Some(WireGuardDevice {
                    listen_port: config.listen_port,
                    public_key: Some(Self::public_key(&private)),
                    peers: config
                        .peers
                        .iter()
                        .map(|p| (p.public_key.clone(), vec![Cidr::new(p.address, 32)]))
                        .collect(),
                });
            }
            Step::RemoveWireGuard => {
                live.links.retain(|l| l.name != WIREGUARD_DEVICE);
                live.wireguard = None;
            }
            Step::StartPptp { conf } => live.pptp = Some(conf.clone()),
            Step::StopPptp => live.pptp = None,
            Step::Toolbox { authorized_keys } => live.toolbox = authorized_keys.clone(),
        }
        Ok(())
    }

    fn stored(&self) -> Result<Option<String>, SystemError> {
        Ok(self.stored.clone())
    }

    fn store(&mut self, text: &str) -> Result<(), SystemError> {
        self.stored = Some(text.to_string());
        Ok(())
    }

    fn missing(&self, doc: &Document) -> Vec<String> {
        crate::linux::missing_programs(doc, |program| !self.lacking.iter().any(|p| p == program))
    }
}

/// A fresh random key, from the OS's randomness without another crate:
/// std's hasher is seeded from it.
fn rand_key() -> [u8; 32] {
    use std::hash::{BuildHasher, Hasher};
    let mut key = [0u8; 32];
    for chunk in key.chunks_mut(8) {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(0x9e37_79b9_7f4a_7c15);
        chunk.copy_from_slice(&hasher.finish().to_le_bytes());
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::tests::{document, mac};
    use crate::tool::{apply, show, EXIT_INVALID, EXIT_TEMPFAIL};

    fn gateway() -> MemorySystem {
        let mut system = MemorySystem::new("pagw-test");
        let nics = [
            ("ens18".to_string(), mac(1)),
            ("ens19".to_string(), mac(2)),
            ("ens20".to_string(), mac(3)),
        ];
        system.boot(
            &nics,
            Some(mac(2)),
            Some((
                "203.0.113.10/24".parse().unwrap(),
                Some("203.0.113.1".parse().unwrap()),
            )),
        );
        system
    }

    fn json(output: &crate::tool::Output) -> serde_json::Value {
        assert_eq!(output.status, 0, "{}", output.stderr);
        serde_json::from_str(&output.stdout).unwrap()
    }

    #[test]
    fn applying_twice_changes_nothing_the_second_time() {
        let mut system = gateway();
        let (text, sha) = document().render();
        let first = json(&apply(&mut system, text.as_bytes(), Some(&sha)));
        assert_eq!(first["changed"], true);
        assert!(first["wireguard_public_key"].is_string());
        let changes = first["changes"].to_string();
        for expected in [
            "ens18: enslaved to br0 (lan)",
            "ens20: enslaved to br0 (server segment, VLAN 3001)",
            "ens19: added address 203.0.113.50/32",
            "nftables: added DNAT 203.0.113.50 -> 192.168.212.130",
            "wg0: added peer alice",
        ] {
            assert!(changes.contains(expected), "{expected} in {changes}");
        }
        let second = json(&apply(&mut system, text.as_bytes(), Some(&sha)));
        assert_eq!(second["changed"], false);
        assert_eq!(
            second["wireguard_public_key"],
            first["wireguard_public_key"]
        );
        let shown = json(&show(&mut system));
        assert_eq!(shown["in_sync"], true);
        assert_eq!(
            shown["live"],
            serde_json::to_value(document().canonical()).unwrap()
        );
    }

    #[test]
    fn a_hand_edit_is_drift_and_the_next_apply_repairs_it() {
        let mut system = gateway();
        let (text, _) = document().render();
        json(&apply(&mut system, text.as_bytes(), None));
        if let Some(nat) = &mut system.live.nat {
            nat.foreign
                .push("rule `tcp dport 22 accept` in chain prerouting".into());
        }
        system.live.dhcp = None;
        let shown = json(&show(&mut system));
        assert_eq!(shown["in_sync"], false);
        assert_eq!(shown["live"]["dhcp"], serde_json::Value::Null);
        let drift = shown["drift"].to_string();
        assert!(
            drift.contains("not written by giif") && drift.contains("dnsmasq"),
            "{drift}"
        );
        let repaired = json(&apply(&mut system, text.as_bytes(), None));
        assert_eq!(repaired["changed"], true);
        assert_eq!(json(&show(&mut system))["in_sync"], true);
    }

    #[test]
    fn refusals_and_missing_nics_change_nothing() {
        let mut system = gateway();
        let before = system.live.clone();
        let mut other = document();
        other.wan.address = "203.0.113.11/24".parse().unwrap();
        let refused = apply(&mut system, other.render().0.as_bytes(), None);
        assert_eq!(refused.status, EXIT_INVALID, "{}", refused.stderr);
        assert!(
            refused
                .stderr
                .contains("not this gateway's address 203.0.113.10/24"),
            "{}",
            refused.stderr
        );
        let mut hot_plugged = document();
        hot_plugged.nics.servers[0].mac = mac(9);
        let later = apply(&mut system, hot_plugged.render().0.as_bytes(), None);
        assert_eq!(later.status, EXIT_TEMPFAIL, "{}", later.stderr);
        system.lacking.push("pptpd".into());
        let mut pptp = document();
        pptp.pptp = true;
        let lacking = apply(&mut system, pptp.render().0.as_bytes(), None);
        assert!(
            lacking.stderr.contains("pptp: pptpd is not installed"),
            "{}",
            lacking.stderr
        );
        assert_eq!(system.live, before);
        assert_eq!(system.stored, None);
    }
}

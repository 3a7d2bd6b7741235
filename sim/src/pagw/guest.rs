//! One gateway VM as the guest sees itself: its disk (the stored
//! configuration file and the WireGuard key, kept across stop/start), its
//! live state (what `ip`, `nft`, `wg` and dnsmasq are doing right now) and
//! the two tools the agent runs, `giif-pagw-apply` and `giif-pagw-show`.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Instant;

use base64::Engine as _;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::document::{Cidr, Document};
use super::{changes, validate};

pub const CONFIG_PATH: &str = "/etc/giif/pagw.json";
/// Largest configuration `giif-pagw-apply` accepts on stdin.
pub const MAX_CONFIG_BYTES: usize = 1 << 20;

/// Kept across stop/start, dropped with the VM.
#[derive(Clone, Debug, Default)]
pub struct Disk {
    pub config_file: Option<String>,
    /// `/etc/wireguard/wg0.key`; never leaves the gateway.
    pub wireguard_private_key: Option<[u8; 32]>,
}

#[derive(Clone, Debug)]
pub struct GuestVm {
    pub vmid: u32,
    pub node: String,
    /// The VM's `netN` entries as Proxmox shows them.
    pub nets: BTreeMap<String, String>,
    /// The WAN address and router cloud-init configured (`ipconfig1`).
    pub cloud_init_wan: Cidr,
    pub cloud_init_gateway: Option<Ipv4Addr>,
    pub running: bool,
    /// When sshd answers after a start (the guest takes a while to boot).
    pub up_at: Instant,
    pub boots: u32,
    /// Commands answered since the VM was created (lets tests prove a
    /// refused command was not retried).
    pub commands: u64,
    pub disk: Disk,
    /// `None` until a configuration is in force.
    pub live: Option<Document>,
}

/// What a tool printed and how it exited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub status: u32,
}

impl Output {
    pub fn ok(stdout: String) -> Self {
        Self {
            stdout,
            stderr: String::new(),
            status: 0,
        }
    }
    pub fn fail(status: u32, stderr: impl Into<String>) -> Self {
        let mut stderr = stderr.into();
        if !stderr.ends_with('\n') {
            stderr.push('\n');
        }
        Self {
            stdout: String::new(),
            stderr,
            status,
        }
    }
}

/// Exit status for input the tool refuses (nothing was changed).
pub const EXIT_INVALID: u32 = 2;
/// `EX_TEMPFAIL`: busy, nothing was changed, try again.
pub const EXIT_TEMPFAIL: u32 = 75;

impl GuestVm {
    pub fn new(
        vmid: u32,
        node: String,
        nets: BTreeMap<String, String>,
        wan: Cidr,
        gateway: Option<Ipv4Addr>,
    ) -> Self {
        Self {
            vmid,
            node,
            nets,
            cloud_init_wan: wan,
            cloud_init_gateway: gateway,
            running: false,
            up_at: Instant::now(),
            boots: 0,
            commands: 0,
            disk: Disk::default(),
            live: None,
        }
    }

    /// A (re)boot: the services come up from the stored file, so whatever
    /// was changed behind the file's back is gone.
    pub fn boot(&mut self, up_at: Instant) {
        self.running = true;
        self.up_at = up_at;
        self.boots += 1;
        self.live = self.stored().map(Document::canonical);
    }

    pub fn reachable(&self, now: Instant) -> bool {
        self.running && now >= self.up_at
    }

    /// The stored configuration, if there is a readable one.
    pub fn stored(&self) -> Option<Document> {
        self.disk
            .config_file
            .as_deref()
            .and_then(|text| Document::parse(text.as_bytes()).ok())
    }

    pub fn hostname(&self) -> String {
        format!(
            "pagw-{}",
            self.cloud_init_wan.address.to_string().replace('.', "-")
        )
    }

    /// `giif-pagw-apply --sha256 HEX -`: validate, reconcile, store.
    pub fn apply(&mut self, input: &[u8], expect_sha256: Option<&str>) -> Output {
        const TOOL: &str = "giif-pagw-apply";
        if input.len() > MAX_CONFIG_BYTES {
            return Output::fail(
                EXIT_INVALID,
                format!("{TOOL}: the configuration is larger than {MAX_CONFIG_BYTES} bytes"),
            );
        }
        let sha256 = hex::encode(Sha256::digest(input));
        if let Some(expected) = expect_sha256 {
            if !expected.eq_ignore_ascii_case(&sha256) {
                return Output::fail(
                    EXIT_INVALID,
                    format!("{TOOL}: the configuration read has SHA-256 {sha256}, not {expected} (truncated upload?); nothing changed"),
                );
            }
        }
        let document = match Document::parse(input) {
            Ok(document) => document.canonical(),
            Err(reason) => {
                return Output::fail(
                    EXIT_INVALID,
                    format!("{TOOL}: invalid configuration: {reason}; nothing changed"),
                )
            }
        };
        let problems = validate::problems(&document, Some(self.cloud_init_wan));
        if !problems.is_empty() {
            let mut message = format!("{TOOL}: invalid configuration; nothing changed:");
            for problem in problems {
                message.push_str("\n  ");
                message.push_str(&problem);
            }
            return Output::fail(EXIT_INVALID, message);
        }

        let mut changes = changes::between(self.live.as_ref(), &document);
        if document.wireguard.is_some() && self.disk.wireguard_private_key.is_none() {
            self.disk.wireguard_private_key = Some(rand::random());
            changes.push("wg0: generated the server key pair (/etc/wireguard/wg0.key)".into());
        }
        let text = String::from_utf8_lossy(input).into_owned();
        if self.disk.config_file.as_deref() != Some(text.as_str()) {
            self.disk.config_file = Some(text);
            changes.push(format!("stored {CONFIG_PATH}"));
        }
        self.live = Some(document);
        let result = json!({
            "format": 1,
            "changed": !changes.is_empty(),
            "changes": changes,
            "sha256": sha256,
            "wireguard_public_key": self.wireguard_public_key(),
        });
        Output::ok(result.to_string() + "\n")
    }

    /// `giif-pagw-apply FILE`: re-apply the stored file (what boot does).
    pub fn reapply_stored(&mut self) -> Output {
        match self.disk.config_file.clone() {
            Some(text) => self.apply(text.as_bytes(), None),
            None => Output::fail(
                1,
                format!("giif-pagw-apply: {CONFIG_PATH}: No such file or directory"),
            ),
        }
    }

    /// The public half of wg0's key, while wg0 is up.
    pub fn wireguard_public_key(&self) -> Option<String> {
        let live_wireguard = self
            .live
            .as_ref()
            .is_some_and(|live| live.wireguard.is_some());
        let private = self.disk.wireguard_private_key.filter(|_| live_wireguard)?;
        // A stand-in for Curve25519: the simulator only needs a stable,
        // well-formed public key that reveals nothing of the private one.
        let public = Sha256::new()
            .chain_update(b"giif-sim wg0 public key")
            .chain_update(private)
            .finalize();
        Some(base64::engine::general_purpose::STANDARD.encode(public))
    }

    /// `giif-pagw-show --json`: the live state, read from the running
    /// services, next to what the stored file says.
    pub fn show(&self) -> serde_json::Value {
        let stored = self.stored().map(Document::canonical);
        let config_file = self.disk.config_file.as_ref().map(|text| {
            json!({
                "path": CONFIG_PATH,
                "sha256": hex::encode(Sha256::digest(text.as_bytes())),
            })
        });
        json!({
            "format": 1,
            "hostname": self.hostname(),
            "config_file": config_file,
            "in_sync": stored == self.live,
            "live": self.live,
            "wireguard_public_key": self.wireguard_public_key(),
            "interfaces": self.interfaces(),
        })
    }

    /// The guest's NICs, named as a Debian guest names virtio NICs on
    /// Proxmox (`net0` is `ens18`, `net1` is `ens19`, ...).
    fn interfaces(&self) -> Vec<serde_json::Value> {
        let bridged = |vlan: Option<u16>| match (&self.live, vlan) {
            (Some(live), Some(vlan)) => live.bridge.bms_vlans.contains(&vlan),
            _ => false,
        };
        let mut nics: Vec<(u32, &String)> = self
            .nets
            .iter()
            .filter_map(|(key, value)| Some((key.strip_prefix("net")?.parse().ok()?, value)))
            .collect();
        nics.sort_by_key(|(index, _)| *index);
        nics.into_iter()
            .map(|(index, value)| {
                let vlan = net_tag(value);
                let (role, master) = match index {
                    0 => ("lan", self.live.as_ref().map(|_| "br0")),
                    1 => ("wan", None),
                    _ if bridged(vlan) => ("bms", Some("br0")),
                    _ => ("bms", None),
                };
                json!({ "name": format!("ens{}", 18 + index), "netdev": format!("net{index}"), "vlan": vlan, "role": role, "master": master })
            })
            .collect()
    }
}

/// The `tag=` of a Proxmox `netN` property string.
pub fn net_tag(value: &str) -> Option<u16> {
    value
        .split(',')
        .find_map(|part| part.strip_prefix("tag="))
        .and_then(|tag| tag.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{"format":1,"project_vlan":101,
        "wan":{"address":"203.0.113.10/24","gateway":"203.0.113.1"},
        "lan":{"address":"192.168.212.1/24"},
        "dhcp":{"first":"192.168.212.20","last":"192.168.212.120","dns_servers":[]},
        "snat":true,"bridge":{"bms_vlans":[]},"dnat":[],
        "wireguard":{"listen_port":51820,"address":"192.168.213.1/24","peers":[]},"pptp":false}"#;

    fn vm() -> GuestVm {
        let mut vm = GuestVm::new(
            300,
            "pve1".into(),
            BTreeMap::new(),
            "203.0.113.10/24".parse().unwrap(),
            None,
        );
        vm.boot(Instant::now());
        vm
    }

    fn result(output: &Output) -> serde_json::Value {
        assert_eq!(output.status, 0, "{}", output.stderr);
        serde_json::from_str(&output.stdout).unwrap()
    }

    #[test]
    fn applying_twice_changes_nothing_the_second_time() {
        let mut vm = vm();
        let first = result(&vm.apply(DOC.as_bytes(), None));
        assert_eq!(first["changed"], true);
        let second = result(&vm.apply(DOC.as_bytes(), None));
        assert_eq!(second["changed"], false);
        assert_eq!(second["changes"], serde_json::json!([]));
        assert_eq!(
            first["wireguard_public_key"],
            second["wireguard_public_key"]
        );
    }

    #[test]
    fn boot_brings_back_the_stored_file() {
        let mut vm = vm();
        result(&vm.apply(DOC.as_bytes(), None));
        if let Some(live) = &mut vm.live {
            live.snat = false;
        }
        assert_eq!(vm.show()["in_sync"], false);
        vm.boot(Instant::now());
        assert_eq!(vm.show()["in_sync"], true);
        assert_eq!(vm.live.as_ref().map(|l| l.snat), Some(true));
    }

    #[test]
    fn refusals_change_nothing() {
        let mut vm = vm();
        let refused = vm.apply(
            DOC.replace("\"pptp\":false", "\"pptp\":\"no\"").as_bytes(),
            None,
        );
        assert_eq!(refused.status, EXIT_INVALID);
        assert!(
            refused
                .stderr
                .starts_with("giif-pagw-apply: invalid configuration: invalid type"),
            "{}",
            refused.stderr
        );
        assert!(
            vm.live.is_none()
                && vm.disk.config_file.is_none()
                && vm.disk.wireguard_private_key.is_none()
        );
    }
}

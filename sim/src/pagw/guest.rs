//! One gateway VM as the guest sees itself: its Proxmox NICs, what
//! cloud-init set up, and its operating system as a giif-pagw
//! [`MemorySystem`] (the disk's configuration file and wg0's key survive
//! stop/start; `live` is what `ip`, `nft`, `wg` and dnsmasq do right now).
//! `giif-pagw-apply` and `giif-pagw-show` are the gateway's own tools from
//! giif-pagw, so the simulator plans exactly as a real gateway does.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Instant;

use giif_pagw::memory::MemorySystem;
use giif_pagw::observed::Observed;
use giif_pagw::tool::{self, Output, CONFIG_PATH};
use giif_pagw::{Cidr, Mac};
use russh::keys::PublicKey;
use serde_json::json;

use crate::pve::NetDevice;

/// What cloud-init sets up at boot from the VM's configuration.
#[derive(Clone, Debug)]
pub struct CloudInit {
    /// N of the `ipconfigN` that gave the WAN address: it goes on `netN`
    /// (1, the public NIC, unless only `ipconfig0` has an address).
    pub net: u32,
    pub wan: Cidr,
    pub gateway: Option<Ipv4Addr>,
    /// `ciuser`, or the template's admin user: whom `sshkeys` are for.
    pub user: String,
    /// `sshkeys`: the keys `user` may log in with.
    pub authorized_keys: Vec<PublicKey>,
}

#[derive(Clone, Debug)]
pub struct GuestVm {
    pub vmid: u32,
    pub node: String,
    /// The VM's `netN` entries as Proxmox shows them.
    pub nets: BTreeMap<String, String>,
    pub cloud_init: CloudInit,
    pub running: bool,
    /// When sshd answers after a start (the guest takes a while to boot).
    pub up_at: Instant,
    pub boots: u32,
    /// Commands answered since the VM was created (lets tests prove a
    /// refused command was not retried).
    pub commands: u64,
    /// `stored` is the disk's `/etc/giif/pagw.json`; `live` is empty while
    /// the VM is stopped.
    pub system: MemorySystem,
}

impl GuestVm {
    pub fn new(
        vmid: u32,
        node: String,
        nets: BTreeMap<String, String>,
        cloud_init: CloudInit,
    ) -> Self {
        Self {
            vmid,
            node,
            nets,
            system: MemorySystem::new(hostname(cloud_init.wan)),
            cloud_init,
            running: false,
            up_at: Instant::now(),
            boots: 0,
            commands: 0,
        }
    }

    /// A (re)boot: the kernel finds the NICs, cloud-init addresses the WAN
    /// NIC, and the guest's systemd unit re-applies the stored file, so
    /// whatever was changed behind the file's back is gone.
    pub fn boot(&mut self, up_at: Instant) {
        self.running = true;
        self.up_at = up_at;
        self.boots += 1;
        self.system.hostname = hostname(self.cloud_init.wan);
        let nics = self.nics();
        let wan_mac = self.mac(self.cloud_init.net);
        let wan = (self.cloud_init.wan, self.cloud_init.gateway);
        self.system.boot(&nics, wan_mac, Some(wan));
        if self.system.stored.is_some() {
            let output = tool::reapply_stored(&mut self.system);
            if output.status != 0 {
                tracing::warn!(vmid = self.vmid, status = output.status, stderr = %output.stderr.trim(), "PAGW guest: re-applying the stored configuration at boot failed");
            }
        }
    }

    /// Powered off: nothing runs; the disk stays.
    pub fn stop(&mut self) {
        self.running = false;
        self.system.live = Observed::default();
    }

    /// NICs hot-plugged or unplugged: a running kernel sees them come and go.
    pub fn replug(&mut self, nets: BTreeMap<String, String>) {
        self.nets = nets;
        if self.running {
            let nics = self.nics();
            self.system.set_nics(&nics);
        }
    }

    pub fn reachable(&self, now: Instant) -> bool {
        self.running && now >= self.up_at
    }

    /// The NICs as the guest names virtio NICs on Proxmox (`net0` is
    /// `ens18`, `net1` is `ens19`, ...), with the MACs Proxmox gave them.
    pub fn nics(&self) -> Vec<(String, Mac)> {
        let mut nics: Vec<(u32, Mac)> = self
            .nets
            .iter()
            .filter_map(|(key, value)| {
                Some((key.strip_prefix("net")?.parse().ok()?, net_mac(value)?))
            })
            .collect();
        nics.sort_by_key(|(index, _)| *index);
        nics.into_iter()
            .map(|(index, mac)| (format!("ens{}", 18 + index), mac))
            .collect()
    }

    fn mac(&self, index: u32) -> Option<Mac> {
        self.nets
            .get(&format!("net{index}"))
            .and_then(|value| net_mac(value))
    }

    /// Whether cloud-init authorized `key` for `user`.
    pub fn authorizes(&self, user: &str, key: &PublicKey) -> bool {
        user == self.cloud_init.user
            && self
                .cloud_init
                .authorized_keys
                .iter()
                .any(|authorized| authorized.key_data() == key.key_data())
    }

    /// `giif-pagw-apply [--sha256 HEX] -`.
    pub fn apply(&mut self, input: &[u8], expect_sha256: Option<&str>) -> Output {
        tool::apply(&mut self.system, input, expect_sha256)
    }

    /// `giif-pagw-apply /etc/giif/pagw.json`.
    pub fn reapply_stored(&mut self) -> Output {
        tool::reapply_stored(&mut self.system)
    }

    /// `giif-pagw-show --json`.
    pub fn show(&mut self) -> Output {
        tool::show(&mut self.system)
    }

    /// `cat /etc/giif/pagw.json`.
    pub fn cat(&self) -> Output {
        match &self.system.stored {
            Some(text) => Output::ok(text.clone()),
            None => Output::fail(1, format!("cat: {CONFIG_PATH}: No such file or directory")),
        }
    }

    /// What `giif-pagw-show --json` prints, for the admin state. A stopped
    /// guest runs nothing, so it has no live configuration either.
    pub fn show_json(&mut self) -> serde_json::Value {
        let output = self.show();
        let mut shown = serde_json::from_str(&output.stdout)
            .unwrap_or_else(|_| json!({ "status": output.status, "stderr": output.stderr }));
        if !self.running {
            shown["live"] = serde_json::Value::Null;
        }
        shown
    }
}

fn hostname(wan: Cidr) -> String {
    format!("pagw-{}", wan.address.to_string().replace('.', "-"))
}

/// The MAC of a Proxmox `netN` property string (`virtio=MAC,...` or
/// `model=virtio,macaddr=MAC,...`).
pub fn net_mac(value: &str) -> Option<Mac> {
    NetDevice::parse(value).ok()?.macaddr?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use giif_pagw::tool::EXIT_INVALID;

    const DOC: &str = r#"{"format":2,"project_vlan":101,
        "nics":{"lan":"bc:24:11:00:00:01","wan":"bc:24:11:00:00:02","servers":[{"vlan":3001,"mac":"bc:24:11:00:00:03"}]},
        "wan":{"address":"203.0.113.10/24","gateway":"203.0.113.1"},
        "lan":{"address":"192.168.212.1/24"},
        "dhcp":{"first":"192.168.212.20","last":"192.168.212.120","dns_servers":[]},
        "snat":true,"dnat":[],
        "wireguard":{"listen_port":51820,"address":"192.168.213.1/24","peers":[]},"pptp":false,
        "toolbox":null}"#;

    fn vm() -> GuestVm {
        let nets = [
            ("net0", "virtio=BC:24:11:00:00:01,bridge=vmbr1,tag=101"),
            (
                "net1",
                "model=virtio,macaddr=BC:24:11:00:00:02,bridge=vmbr0",
            ),
            ("net2", "virtio=BC:24:11:00:00:03,bridge=vmbr1,tag=3001"),
        ];
        let cloud_init = CloudInit {
            net: 1,
            wan: "203.0.113.10/24".parse().unwrap(),
            gateway: Some(Ipv4Addr::new(203, 0, 113, 1)),
            user: "giif".into(),
            authorized_keys: Vec::new(),
        };
        let nets = nets.map(|(k, v)| (k.to_string(), v.to_string())).into();
        let mut vm = GuestVm::new(300, "pve1".into(), nets, cloud_init);
        vm.boot(Instant::now());
        vm
    }

    fn result(output: &Output) -> serde_json::Value {
        assert_eq!(output.status, 0, "{}", output.stderr);
        serde_json::from_str(&output.stdout).unwrap()
    }

    #[test]
    fn the_nics_are_named_and_addressed_as_the_guest_sees_them() {
        let vm = vm();
        let nics: Vec<String> = vm
            .nics()
            .iter()
            .map(|(name, mac)| format!("{name} {mac}"))
            .collect();
        assert_eq!(
            nics,
            [
                "ens18 bc:24:11:00:00:01",
                "ens19 bc:24:11:00:00:02",
                "ens20 bc:24:11:00:00:03"
            ]
        );
        let wan = vm.system.live.link("ens19").unwrap();
        assert_eq!(wan.addresses, ["203.0.113.10/24".parse::<Cidr>().unwrap()]);
        assert_eq!(vm.system.hostname, "pagw-203-0-113-10");
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
        let applied = result(&vm.apply(DOC.as_bytes(), None));
        if let Some(nat) = &mut vm.system.live.nat {
            nat.masquerade.clear();
        }
        assert_eq!(vm.show_json()["in_sync"], false);
        assert_eq!(vm.show_json()["live"]["snat"], false);
        vm.boot(Instant::now());
        let shown = vm.show_json();
        assert_eq!(shown["in_sync"], true, "{shown:#}");
        assert_eq!(shown["live"]["snat"], true);
        assert_eq!(
            shown["wireguard_public_key"], applied["wireguard_public_key"],
            "the key survives"
        );
    }

    #[test]
    fn a_stopped_guest_runs_nothing_and_hot_plugs_reach_a_running_one() {
        let mut vm = vm();
        result(&vm.apply(DOC.as_bytes(), None));
        let mut nets = vm.nets.clone();
        nets.remove("net2");
        vm.replug(nets.clone());
        let shown = vm.show_json();
        assert_eq!(shown["in_sync"], false);
        assert_eq!(shown["live"]["nics"]["servers"], serde_json::json!([]));
        vm.stop();
        assert!(vm.system.live.links.is_empty());
        assert_eq!(vm.show_json()["live"], serde_json::Value::Null);
        assert!(vm.system.stored.is_some(), "the disk stays");
    }

    #[test]
    fn refusals_change_nothing() {
        let mut vm = vm();
        let before = vm.system.live.clone();
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
        assert_eq!(vm.system.live, before);
        assert_eq!(vm.system.stored, None);
        assert_eq!(
            vm.show_json()["wireguard_public_key"],
            serde_json::Value::Null
        );
    }
}

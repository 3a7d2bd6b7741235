//! End to end with the real gateway: the real `terraform` applies a project,
//! its gateway, a floating IP and a server assignment against giif-sim (for
//! Proxmox and the iDRACs) and a real agent, whose gateway slot is the real
//! `giif-pagw` gateway in network namespaces (`giif_tests::gateway_lab`).
//! The floating IP carries packets after apply and stops after its destroy;
//! the server's segment gets DHCP from the gateway once it is assigned.
//!
//! The simulator plays Proxmox: it gives the gateway VM's vNICs their MAC
//! addresses, and this test gives the namespace gateway's NICs the same ones
//! as they appear (as the hypervisor would), so the agent's document (NICs
//! by MAC) fits the real gateway.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use giif_tests::gateway_lab::*;
use giif_tests::site::TestSite;
use giif_tests::terraform::Workspace;

const SITE: &str = r#"
[servers]
count = 1
tags = ["r640"]

[proxmox]
task_duration_ms = 20
nodes = [{ name = "pve1" }]
templates = [{ vmid = 9000, name = "pagw-template", node = "pve1", pagw = true }]

[[pagw_slots]]
public_ip = "203.0.113.10"
gateway = "203.0.113.1"
host = "pve1"

[floating_ips]
addresses = ["203.0.113.100-203.0.113.101"]
"#;

fn config(floating_ip: bool) -> String {
    let floating = match floating_ip {
        true => format!(
            r#"
resource "giif_floating_ip" "web" {{
  project_id = giif_project.lab.id
  target_ip  = "{SERVER_IP}"
  depends_on = [giif_pagw.gw, giif_bms_assignment.server]
}}

output "floating_ip" {{
  value = giif_floating_ip.web.address
}}
"#
        ),
        false => String::new(),
    };
    format!(
        r#"
resource "giif_project" "lab" {{
  name = "netlab"
}}

resource "giif_pagw" "gw" {{
  project_id = giif_project.lab.id
  public_ip  = "{PUBLIC_IP}"
}}

resource "giif_bms_assignment" "server" {{
  project_id = giif_project.lab.id
  bms        = "bms01"
  depends_on = [giif_pagw.gw]
}}
{floating}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terraform_drives_the_real_gateway() {
    let Some(lab) = GatewayLab::start().await else {
        return;
    };
    let site = TestSite::start(SITE);

    // The slot's gateway is the namespace gateway: the agent reaches it at
    // the lab's sshd with the key the site file gives it.
    let (_, body) = site.admin("GET", &format!("/pagw/{PUBLIC_IP}"), None);
    let sim_ssh: String = serde_json::from_str::<serde_json::Value>(&body).unwrap()["ssh"]
        .as_str()
        .unwrap()
        .to_string();
    let sim_port = sim_ssh.rsplit_once(':').unwrap().1.to_string();
    let mut key_file = None;
    site.reimport(|text| {
        key_file = text
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("file = \"")
                    .filter(|f| f.contains("pagw-agent.key"))
            })
            .map(|f| f.trim_end_matches('"').to_string());
        text.replace(
            &format!("port = {sim_port}"),
            &format!("port = {}", lab.ssh.port()),
        )
    });
    let key_file = key_file.expect("the site file names the agent's key");
    let key_path = site.site_dir().join(key_file);
    let public = std::process::Command::new("ssh-keygen")
        .arg("-y")
        .arg("-f")
        .arg(&key_path)
        .output()
        .unwrap();
    assert!(public.status.success(), "{public:?}");
    lab.authorize(&String::from_utf8_lossy(&public.stdout));

    // Proxmox's MACs onto the real gateway's NICs, as the VM's vNICs come.
    let lab = Arc::new(lab);
    let done = Arc::new(AtomicBool::new(false));
    let follower = {
        let (lab, done) = (lab.clone(), done.clone());
        let admin = site.admin.clone();
        tokio::task::spawn_blocking(move || {
            let links = [("net0", "ens18"), ("net1", "ens19"), ("net2", "ens20")];
            let mut given = BTreeMap::new();
            while !done.load(Ordering::Relaxed) {
                let (_, body) =
                    giif_tests::site::http(&admin, "GET", &format!("/pagw/{PUBLIC_IP}"), None);
                let probe = SiteProbe(body);
                for (net, link) in links {
                    if let Some(mac) = probe.mac(net) {
                        if given.get(link) != Some(&mac) {
                            lab.set_mac(link, &mac);
                            given.insert(link, mac);
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };

    let ws = Workspace::new(&site.agent, &config(true));
    tokio::task::block_in_place(|| ws.apply());
    let floating = ws.outputs()["floating_ip"]["value"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, body) = site.admin("GET", &format!("/pagw/{PUBLIC_IP}"), None);
    assert!(
        SiteProbe(body).mac("net2").is_some(),
        "the server's NIC is plugged into the gateway VM"
    );

    // The floating IP carries packets, both ways, through the real gateway.
    let seen = tokio::task::block_in_place(|| lab.who_am_i(&lab.vpn, &floating, SERVER_PORT));
    assert_eq!(
        seen.as_deref(),
        Some("198.51.100.2"),
        "the floating IP {floating} leads to the server"
    );
    let seen =
        tokio::task::block_in_place(|| lab.who_am_i(&lab.server, FAR_SERVICE.0, FAR_SERVICE.1));
    assert_eq!(
        seen.as_deref(),
        Some(floating.as_str()),
        "the server leaves as its floating IP"
    );
    // The server's segment gets DHCP from the gateway.
    let lease = tokio::task::block_in_place(|| lab.dhcp_lease(&lab.server))
        .expect("a lease on the server segment");
    assert!(
        (Ipv4Addr::new(192, 168, 212, 20)..=Ipv4Addr::new(192, 168, 212, 120)).contains(&lease),
        "{lease}"
    );
    let (empty, run) = tokio::task::block_in_place(|| ws.plan_is_empty());
    assert!(empty, "{}", run.all());

    // The floating IP destroyed, its packets stop.
    ws.write(&config(false));
    tokio::task::block_in_place(|| ws.apply());
    let seen = tokio::task::block_in_place(|| lab.who_am_i(&lab.vpn, &floating, SERVER_PORT));
    assert_eq!(seen, None, "a destroyed floating IP leads nowhere");

    tokio::task::block_in_place(|| {
        ws.ok(&["destroy", "-auto-approve", "-input=false", "-no-color"])
    });
    done.store(true, Ordering::Relaxed);
    follower.await.unwrap();
}

/// One read of the simulated gateway VM's NICs.
struct SiteProbe(String);

impl SiteProbe {
    fn mac(&self, net: &str) -> Option<String> {
        let state: serde_json::Value = serde_json::from_str(&self.0).ok()?;
        let value = state["gateway"]["net"][net].as_str()?;
        value.split(',').find_map(|part| {
            part.split_once('=')
                .filter(|(_, v)| v.len() == 17)
                .map(|(_, v)| v.to_lowercase())
        })
    }
}

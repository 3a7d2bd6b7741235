//! 20 bare-metal servers and 20 VMs across 4 projects, applied as two
//! concurrent `terraform apply -parallelism=20` runs against one agent:
//! nothing is handed out twice (VLANs, slots, servers, VM ids, gateway NIC
//! slots), and both plans are empty afterwards. Users never need
//! `-parallelism=1`. On SQLite and on PostgreSQL stores.

#![allow(clippy::unwrap_used)] // test helpers may panic: that is how a test fails

use std::collections::BTreeSet;
use std::sync::LazyLock;

use giif_tests::postgres::TestPostgres;
use giif_tests::site::{pagw_slots, TestSite};
use giif_tests::terraform::Workspace;

static SITE: LazyLock<String> = LazyLock::new(|| {
    r#"
[servers]
count = 20

[proxmox]
task_duration_ms = 20
nodes = [{ name = "pve1" }, { name = "pve2" }]
templates = [
  { vmid = 9000, name = "pagw-template", node = "pve1", pagw = true },
  { vmid = 9001, name = "debian-12", node = "pve1" },
]

"#
    .to_string()
        + &pagw_slots(4)
});

/// Two projects, each with a gateway, 5 servers and 5 VMs; servers
/// `first..first+10` of the inventory.
fn half(prefix: &str, first: usize) -> String {
    let mut config = String::new();
    for p in 0..2 {
        let project = format!("{prefix}{p}");
        config.push_str(&format!(
            r#"
resource "giif_project" "{project}" {{
  name = "{project}"
}}

resource "giif_pagw" "{project}" {{
  project_id = giif_project.{project}.id
}}

resource "giif_vm" "{project}" {{
  count      = 5
  project_id = giif_project.{project}.id
  name       = "vm${{count.index}}"
  template   = "debian-12"
  cores      = 1
  memory_mb  = 512
}}
"#
        ));
        for s in 0..5 {
            let server = first + p * 5 + s + 1;
            config.push_str(&format!(
                r#"
resource "giif_bms_assignment" "{project}_{s}" {{
  project_id = giif_project.{project}.id
  bms        = "bms{server:02}"
  depends_on = [giif_pagw.{project}]
}}
"#
            ));
        }
    }
    config.push_str(&format!(
        r#"
output "vlans" {{
  value = [giif_project.{prefix}0.vlan, giif_project.{prefix}1.vlan]
}}

output "slots" {{
  value = [giif_pagw.{prefix}0.public_ip, giif_pagw.{prefix}1.public_ip]
}}

output "vmids" {{
  value = concat(giif_vm.{prefix}0[*].vmid, giif_vm.{prefix}1[*].vmid, [giif_pagw.{prefix}0.vmid, giif_pagw.{prefix}1.vmid])
}}
"#
    ));
    config
}

fn values(ws: &Workspace, name: &str) -> Vec<String> {
    ws.outputs()[name]["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn forty_machines_in_two_concurrent_applies() {
    forty_machines(TestSite::start(&SITE)).await;
}

/// The same with the agent's store on PostgreSQL, where write transactions
/// are serialized by an advisory lock instead of SQLite's BEGIN IMMEDIATE.
#[tokio::test(flavor = "multi_thread")]
async fn forty_machines_in_two_concurrent_applies_on_postgres() {
    let postgres = TestPostgres::start();
    let store = postgres.database("agent");
    forty_machines(TestSite::start_on_store(&SITE, store)).await;
}

async fn forty_machines(site: TestSite) {
    let a = Workspace::new(&site.agent, &half("alpha", 0));
    let b = Workspace::new(&site.agent, &half("beta", 10));
    let (run_a, run_b) = std::thread::scope(|scope| {
        let first = scope.spawn(|| a.run(&["apply", "-auto-approve", "-parallelism=20"]));
        let second = scope.spawn(|| b.run(&["apply", "-auto-approve", "-parallelism=20"]));
        (first.join().unwrap(), second.join().unwrap())
    });
    assert!(run_a.success, "{}", run_a.all());
    assert!(run_b.success, "{}", run_b.all());

    for name in ["vlans", "slots", "vmids"] {
        let mut all = values(&a, name);
        all.extend(values(&b, name));
        let distinct: BTreeSet<&String> = all.iter().collect();
        assert_eq!(
            distinct.len(),
            all.len(),
            "{name} handed out twice: {all:?}"
        );
    }
    assert_eq!(values(&a, "vmids").len() + values(&b, "vmids").len(), 24);

    // Every server's VLAN is plugged into exactly one gateway VM, once.
    let pve = site.state()["pve"].to_string();
    for server in 1..=20 {
        let tag = format!("tag={}", 3000 + server);
        assert_eq!(
            pve.matches(&format!("{tag},")).count() + pve.matches(&format!("{tag}\"")).count(),
            1,
            "{tag}"
        );
    }

    assert!(a.plan_is_empty().0);
    assert!(b.plan_is_empty().0);
    let (run_a, run_b) = std::thread::scope(|scope| {
        let first = scope.spawn(|| a.run(&["destroy", "-auto-approve", "-parallelism=20"]));
        let second = scope.spawn(|| b.run(&["destroy", "-auto-approve", "-parallelism=20"]));
        (first.join().unwrap(), second.join().unwrap())
    });
    assert!(run_a.success, "{}", run_a.all());
    assert!(run_b.success, "{}", run_b.all());
}

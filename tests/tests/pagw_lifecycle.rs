//! `giif_pagw` with the real terraform against giif-sim: create, empty
//! plan, in-place updates, replacement, import, drift put back, an
//! out-of-band delete re-created, slot exhaustion, and a destroy that
//! leaves the site and the store as they were.

#![allow(clippy::unwrap_used)] // test helpers may panic: that is how a test fails

use giif_tests::site::{pagw_slots, TestSite};
use giif_tests::terraform::Workspace;
use std::sync::LazyLock;

static SITE: LazyLock<String> = LazyLock::new(|| {
    r#"
[proxmox]
task_duration_ms = 30
nodes = [{ name = "pve1" }, { name = "pve2" }]
templates = [{ vmid = 9000, name = "pagw-template", node = "pve1", pagw = true }]

"#
    .to_string()
        + &pagw_slots(2)
});

const PEER_KEY: &str = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";

fn config(project: &str, extra: &str) -> String {
    format!(
        r#"
resource "giif_project" "a" {{
  name = "alpha"
}}

resource "giif_project" "b" {{
  name = "beta"
}}

resource "giif_pagw" "gw" {{
  project_id = giif_project.{project}.id
{extra}
}}

output "gw" {{
  value = giif_pagw.gw
}}
"#
    )
}

fn gateway(ws: &Workspace) -> serde_json::Value {
    ws.outputs()["gw"]["value"].clone()
}

/// The VMs of the simulated cluster that are not templates.
fn vms(site: &TestSite) -> Vec<serde_json::Value> {
    let state = site.state();
    let text = state["pve"].to_string();
    let pve: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut found = Vec::new();
    collect_vms(&pve, &mut found);
    found
}

fn collect_vms(value: &serde_json::Value, found: &mut Vec<serde_json::Value>) {
    match value {
        serde_json::Value::Object(map) => {
            if map.contains_key("vmid") && map.contains_key("config") {
                let template = map["config"]
                    .get("template")
                    .map(|t| t.to_string())
                    .unwrap_or_default();
                if !template.contains('1') {
                    found.push(value.clone());
                }
                return;
            }
            map.values().for_each(|v| collect_vms(v, found));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_vms(v, found)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn gateway_lifecycle() {
    let site = TestSite::start(&SITE);
    let ws = Workspace::new(&site.agent, &config("a", ""));

    // Create: a VM cloned from the template, tagged, started, configured.
    ws.apply();
    let gw = gateway(&ws);
    assert_eq!(gw["status"], "ready");
    assert_eq!(gw["dhcp_range"], "192.168.212.20-192.168.212.120");
    let ip = gw["public_ip"].as_str().unwrap().to_string();
    let vmid = gw["vmid"].as_u64().unwrap();
    let vlan = gw["vlan"].as_u64().unwrap();
    let live = site.admin("GET", &format!("/pagw/{ip}"), None).1;
    assert!(
        live.contains(&format!("tag={vlan}")),
        "net0 carries the project VLAN: {live}"
    );
    let (empty, run) = ws.plan_is_empty();
    assert!(empty, "plan after apply is not empty:\n{}", run.all());

    // In-place updates: DHCP range, DNS, WireGuard peers, PPTP.
    ws.write(&config(
        "a",
        &format!(
            r#"  dhcp_range  = "192.168.212.30-192.168.212.90"
  dns_servers = ["9.9.9.9"]
  pptp        = true
  wireguard = {{
    peers = [{{ name = "alice", public_key = "{PEER_KEY}", address = "192.168.213.10" }}]
  }}"#
        ),
    ));
    let (_, run) = ws.plan_is_empty();
    assert!(run.stdout.contains("update in-place"), "{}", run.stdout);
    ws.apply();
    let gw = gateway(&ws);
    assert_eq!(
        gw["vmid"].as_u64().unwrap(),
        vmid,
        "updated in place, not replaced"
    );
    assert!(gw["wireguard_public_key"].is_string());
    let live = site.admin("GET", &format!("/pagw/{ip}"), None).1;
    assert!(
        live.contains("192.168.212.30") && live.contains("alice") && live.contains("9.9.9.9"),
        "{live}"
    );
    assert!(ws.plan_is_empty().0);

    // Drift: a DHCP range changed on the gateway shows in the plan and the
    // apply puts it back.
    let (status, body) = site.admin(
        "PUT",
        &format!("/pagw/{ip}/dhcp"),
        Some(r#"{"first": "192.168.212.50", "last": "192.168.212.60"}"#),
    );
    assert_eq!(status, 200, "{body}");
    let (empty, run) = ws.plan_is_empty();
    assert!(!empty);
    assert!(
        run.stdout
            .contains(r#""192.168.212.50-192.168.212.60" -> "192.168.212.30-192.168.212.90""#),
        "{}",
        run.stdout
    );
    ws.apply();
    assert!(ws.plan_is_empty().0);

    // Import by project name gives the same state.
    ws.ok(&["state", "rm", "giif_pagw.gw"]);
    ws.ok(&["import", "giif_pagw.gw", "alpha"]);
    let (empty, run) = ws.plan_is_empty();
    assert!(empty, "plan after import is not empty:\n{}", run.all());

    // Deleted out of band: the next plan re-creates it, in the same slot.
    let (status, body) = site.admin("DELETE", &format!("/pve/vms/{vmid}"), None);
    assert_eq!(status, 200, "{body}");
    let (_, run) = ws.plan_is_empty();
    assert!(
        run.stdout
            .contains("Plan: 1 to add, 0 to change, 0 to destroy"),
        "{}",
        run.stdout
    );
    ws.apply();
    assert_eq!(gateway(&ws)["public_ip"], ip.as_str());
    assert!(ws.plan_is_empty().0);

    // Moving it to another project replaces it.
    ws.write(&config("b", ""));
    let (_, run) = ws.plan_is_empty();
    assert!(
        run.stdout.contains("# forces replacement"),
        "{}",
        run.stdout
    );
    ws.apply();
    assert_eq!(vms(&site).len(), 1, "the old gateway VM is gone");

    // Destroy: no gateway VM left, and the agent frees slot and VM id.
    ws.ok(&["destroy", "-auto-approve"]);
    assert!(vms(&site).is_empty(), "{:?}", vms(&site));
    let config = giif_agent::config::AgentConfig::load(&site.agent.made.config_path).unwrap();
    let store = giif_agent::store::Store::open(&config.store_url())
        .await
        .unwrap();
    assert!(store.gateway_of_project("any").await.unwrap().is_none());
    assert!(store.list_projects().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn slots_run_out_with_a_diagnostic_naming_them() {
    let site = TestSite::start(&SITE);
    let ws = Workspace::new(
        &site.agent,
        r#"
resource "giif_project" "p" {
  count = 3
  name  = "p${count.index}"
}

resource "giif_pagw" "gw" {
  count      = 3
  project_id = giif_project.p[count.index].id
}
"#,
    );
    let run = ws.run(&["apply", "-auto-approve"]);
    assert!(!run.success, "three gateways cannot fit in two slots");
    let text = run.flat();
    assert!(
        text.contains("every PAGW slot is taken (2 slots)"),
        "{text}"
    );
    assert!(text.contains("[[pagw_slots]]"), "the fix is named: {text}");
    ws.ok(&["destroy", "-auto-approve"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_dhcp_ranges_are_refused_at_plan_time() {
    let site = TestSite::start(&SITE);
    let ws = Workspace::new(
        &site.agent,
        &config("a", r#"  dhcp_range = "192.168.212.1-192.168.212.50""#),
    );
    let run = ws.run(&["plan"]);
    assert!(!run.success);
    let text = run.flat();
    assert!(text.contains("Invalid value for dhcp_range"), "{text}");
    assert!(text.contains("includes the gateway (.1)"), "{text}");
    ws.write(&config("a", r#"  dhcp_range = "10.0.0.20-10.0.0.50""#));
    let text = ws.run(&["plan"]).flat();
    assert!(
        text.contains("inside the project subnet 192.168.212.0/24"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn slots_data_source_shows_free_and_taken() {
    let site = TestSite::start(&SITE);
    let ws = Workspace::new(
        &site.agent,
        r#"
resource "giif_project" "p" {
  name = "slots"
}

resource "giif_pagw" "gw" {
  project_id = giif_project.p.id
  public_ip  = "203.0.113.11"
}

data "giif_pagw_slots" "free" {
  state      = "free"
  depends_on = [giif_pagw.gw]
}

data "giif_pagw_slots" "taken" {
  state      = "taken"
  depends_on = [giif_pagw.gw]
}

output "free" {
  value = data.giif_pagw_slots.free.slots[*].public_ip
}

output "taken_by" {
  value = data.giif_pagw_slots.taken.slots[0].project_id == giif_project.p.id
}

output "taken_node" {
  value = data.giif_pagw_slots.taken.slots[0].host
}
"#,
    );
    ws.apply();
    let outputs = ws.outputs();
    assert_eq!(
        outputs["free"]["value"],
        serde_json::json!(["203.0.113.10"])
    );
    assert_eq!(outputs["taken_by"]["value"], true);
    assert_eq!(outputs["taken_node"]["value"], "pve2");
    ws.ok(&["destroy", "-auto-approve"]);
}

/// The provider died after the agent made the gateway, so Terraform never
/// recorded it: the next apply finds it again instead of making a second.
#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_create_is_found_again() {
    let site = TestSite::start(&SITE);
    let ws = Workspace::new(
        &site.agent,
        "resource \"giif_project\" \"a\" {\n  name = \"alpha\"\n}\n",
    );
    ws.apply();
    let client = site.agent.client().await;
    let project = client
        .get_project(
            giif_proto::agent::get_project_request::Key::Name("alpha".into()),
            std::time::Duration::from_secs(10),
        )
        .await
        .unwrap();
    let orphan = client
        .create_gateway(
            giif_proto::agent::CreateGatewayRequest {
                request_id: "lost-with-the-provider".into(),
                spec: Some(giif_proto::agent::GatewaySpec {
                    project_id: project.id.clone(),
                    ..Default::default()
                }),
                wait_seconds: 60,
            },
            std::time::Duration::from_secs(90),
        )
        .await
        .unwrap();
    assert_eq!(orphan.status, "ready");

    ws.write(&config("a", "").replace(
        "resource \"giif_project\" \"b\" {\n  name = \"beta\"\n}\n",
        "",
    ));
    ws.apply();
    assert_eq!(
        gateway(&ws)["id"],
        orphan.id.as_str(),
        "the gateway was adopted, not made twice"
    );
    assert_eq!(vms(&site).len(), 1);
    ws.ok(&["destroy", "-auto-approve"]);
    assert!(vms(&site).is_empty());
}

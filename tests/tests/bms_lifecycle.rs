//! `giif_bms_assignment` and `giif_bms_inventory` with the real terraform
//! against giif-sim: create (NIC on the gateway VM, VLAN bridged, power),
//! empty plan, in-place updates (power, ISO, a move to another project),
//! replacement, import, drift put back (power, NIC), a release that leaves
//! the server free, and the error diagnostics.

#![allow(clippy::unwrap_used)] // test helpers may panic: that is how a test fails

use giif_tests::site::{pagw_slots, TestSite};
use giif_tests::terraform::Workspace;
use std::sync::LazyLock;

static SITE: LazyLock<String> = LazyLock::new(|| {
    r#"
# iDRAC8 firmware here (the simulator's default, iDRAC9, everywhere else):
# the whole assignment lifecycle runs against both.
[servers]
count = 3
tags = ["r640"]
firmware = "idrac8"
list = [{ name = "gpu1", service_tag = "GPU0001", vlan = 3100, macs = ["d0:94:66:09:00:01"], tags = ["gpu"], firmware = "idrac9" }]

[proxmox]
task_duration_ms = 30
nodes = [{ name = "pve1" }, { name = "pve2" }]
templates = [{ vmid = 9000, name = "pagw-template", node = "pve1", pagw = true }]

"#
        .to_string()
        + &pagw_slots(2)
});

// A location given directly, without share credentials (an image of the
// ISO library carries those: tests/tests/iso_library.rs).
const ISO: &str = "http://fileserver/isos/ubuntu.iso";

fn config(project: &str, bms: &str, extra: &str) -> String {
    format!(
        r#"
resource "giif_project" "a" {{
  name = "alpha"
}}

resource "giif_project" "b" {{
  name = "beta"
}}

resource "giif_pagw" "a" {{
  project_id = giif_project.a.id
}}

resource "giif_pagw" "b" {{
  project_id = giif_project.b.id
}}

resource "giif_bms_assignment" "s" {{
  project_id = giif_project.{project}.id
  bms        = "{bms}"
{extra}
  depends_on = [giif_pagw.a, giif_pagw.b]
}}

output "s" {{
  value = giif_bms_assignment.s
}}

output "gw" {{
  value = {{ a = giif_pagw.a, b = giif_pagw.b }}
}}
"#
    )
}

fn out(ws: &Workspace, name: &str) -> serde_json::Value {
    ws.outputs()[name]["value"].clone()
}

/// The config of the VM `vmid` in the simulated cluster.
fn vm_config(site: &TestSite, vmid: u64) -> String {
    site.vm_config(vmid).unwrap_or_default()
}

fn idrac(site: &TestSite, name: &str) -> serde_json::Value {
    let (status, body) = site.admin("GET", &format!("/idrac/{name}"), None);
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn power(site: &TestSite, name: &str) -> String {
    idrac(site, name)["power"].to_string().to_lowercase()
}

/// The VLANs of the server NICs the gateway in slot `ip` has enslaved to
/// its LAN bridge, as its live state says.
fn bridged(site: &TestSite, ip: &str) -> String {
    let body = site.admin("GET", &format!("/pagw/{ip}"), None).1;
    let state: serde_json::Value = serde_json::from_str(&body).unwrap();
    server_vlans(&state)
}

fn server_vlans(state: &serde_json::Value) -> String {
    state["gateway"]["live"]["nics"]["servers"]
        .as_array()
        .map(|nics| {
            let vlans: Vec<String> = nics.iter().map(|nic| nic["vlan"].to_string()).collect();
            vlans.join(",")
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn assignment_lifecycle() {
    let site = TestSite::start(&SITE);
    let ws = Workspace::new(
        &site.agent,
        &config("a", "bms01", r#"  power_state = "on""#),
    );

    // Create: a NIC tagged with the server's VLAN on the gateway VM, the
    // gateway bridges it, the server is powered on.
    ws.apply();
    let s = out(&ws, "s");
    let gw = out(&ws, "gw");
    assert_eq!(s["status"], "ready", "{s}");
    assert_eq!(s["vlan"], 3001);
    assert_eq!(s["pagw_nic"], "net2");
    assert_eq!(s["mac_addresses"][0], "d0:94:66:00:00:01");
    assert!(s["console_connection_id"].is_null());
    let vmid_a = gw["a"]["vmid"].as_u64().unwrap();
    let ip_a = gw["a"]["public_ip"].as_str().unwrap().to_string();
    let vm = vm_config(&site, vmid_a);
    assert!(
        vm.contains("tag=3001"),
        "net2 carries the server VLAN: {vm}"
    );
    assert!(
        bridged(&site, &ip_a).contains("3001"),
        "{}",
        bridged(&site, &ip_a)
    );
    assert!(power(&site, "bms01").contains("on"));
    let (empty, run) = ws.plan_is_empty();
    assert!(empty, "plan after apply is not empty:\n{}", run.all());

    // In place: power off, then attach an ISO, then eject it.
    ws.write(&config("a", "bms01", r#"  power_state = "off""#));
    let (_, run) = ws.plan_is_empty();
    assert!(run.stdout.contains("update in-place"), "{}", run.stdout);
    ws.apply();
    assert!(power(&site, "bms01").contains("off"));
    ws.write(&config(
        "a",
        "bms01",
        &format!("  power_state = \"on\"\n  boot_iso = \"{ISO}\""),
    ));
    ws.apply();
    assert_eq!(idrac(&site, "bms01")["media"]["image"], ISO);
    assert!(ws.plan_is_empty().0);
    ws.write(&config("a", "bms01", r#"  power_state = "on""#));
    ws.apply();
    assert!(idrac(&site, "bms01")["media"].is_null(), "ejected");
    assert!(ws.plan_is_empty().0);

    // Drift: powered off out of band shows in the plan; apply powers on.
    let (status, body) = site.admin("POST", "/idrac/bms01/power", Some(r#"{"state":"off"}"#));
    assert_eq!(status, 200, "{body}");
    let (empty, run) = ws.plan_is_empty();
    assert!(!empty);
    assert!(run.stdout.contains(r#""off" -> "on""#), "{}", run.stdout);
    ws.apply();
    assert!(power(&site, "bms01").contains("on"));
    assert!(ws.plan_is_empty().0);

    // Drift: the NIC removed from the gateway VM; apply plugs it back.
    let (status, body) = site.admin(
        "PUT",
        &format!("/pve/vms/{vmid_a}/config"),
        Some(r#"{"net2": null}"#),
    );
    assert_eq!(status, 200, "{body}");
    let (empty, run) = ws.plan_is_empty();
    assert!(!empty, "{}", run.all());
    assert!(run.stdout.contains("pagw_nic"), "{}", run.stdout);
    ws.apply();
    assert!(vm_config(&site, vmid_a).contains("tag=3001"));
    assert!(ws.plan_is_empty().0);

    // Move to project beta: in place, unplugged from alpha's gateway and
    // plugged into beta's.
    ws.write(&config("b", "bms01", r#"  power_state = "on""#));
    let (_, run) = ws.plan_is_empty();
    assert!(run.stdout.contains("update in-place"), "{}", run.stdout);
    assert!(!run.stdout.contains("forces replacement"), "{}", run.stdout);
    ws.apply();
    let s = out(&ws, "s");
    assert_eq!(s["status"], "ready");
    let vmid_b = gw["b"]["vmid"].as_u64().unwrap();
    let ip_b = gw["b"]["public_ip"].as_str().unwrap().to_string();
    assert!(!vm_config(&site, vmid_a).contains("tag=3001"));
    assert!(vm_config(&site, vmid_b).contains("tag=3001"));
    assert!(!bridged(&site, &ip_a).contains("3001"));
    assert!(bridged(&site, &ip_b).contains("3001"));
    assert!(ws.plan_is_empty().0);

    // Import by server name gives the same state.
    ws.ok(&["state", "rm", "giif_bms_assignment.s"]);
    ws.ok(&["import", "giif_bms_assignment.s", "bms01"]);
    let (empty, run) = ws.plan_is_empty();
    assert!(empty, "plan after import is not empty:\n{}", run.all());

    // Another server: replacement; bms01 is released.
    ws.write(&config("b", "bms02", r#"  power_state = "on""#));
    let (_, run) = ws.plan_is_empty();
    assert!(run.stdout.contains("forces replacement"), "{}", run.stdout);
    ws.apply();
    assert_eq!(out(&ws, "s")["vlan"], 3002);
    assert!(
        power(&site, "bms01").contains("off"),
        "released: powered off"
    );
    assert!(!vm_config(&site, vmid_b).contains("tag=3001"));
    assert!(vm_config(&site, vmid_b).contains("tag=3002"));

    // Destroy the assignment: the server is erased, free, off, ejected,
    // unplugged.
    ws.write(&config(
        "b",
        "bms02",
        &format!("  power_state = \"on\"\n  boot_iso = \"{ISO}\"\n  release = {{ erase = true }}"),
    ));
    ws.apply();
    // The next boot starts the image the assignment attached.
    let boot = idrac(&site, "bms02")["boot"].clone();
    assert_eq!(
        (boot["first_device"].as_str(), boot["once"].as_bool()),
        (Some("VCD-DVD"), Some(true)),
        "{boot}"
    );
    ws.ok(&["destroy", "-auto-approve", "-target=giif_bms_assignment.s"]);
    let jobs = idrac(&site, "bms02")["jobs"].clone();
    assert!(
        jobs.as_array()
            .unwrap()
            .iter()
            .any(|j| j["kind"] == "system_erase" && j["status"] == "Completed"),
        "erased before the release: {jobs}"
    );
    assert!(power(&site, "bms02").contains("off"));
    assert!(idrac(&site, "bms02")["media"].is_null());
    assert!(!vm_config(&site, vmid_b).contains("tag=3002"));
    assert!(!bridged(&site, &ip_b).contains("3002"));
    let config = giif_agent::config::AgentConfig::load(&site.agent.made.config_path).unwrap();
    let store = giif_agent::store::Store::open(&config.store_url())
        .await
        .unwrap();
    assert!(store.bms_assignments().await.unwrap().is_empty());
    assert!(store.bms_quarantine().await.unwrap().is_empty());
    ws.ok(&["destroy", "-auto-approve"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_name_the_cause() {
    let site = TestSite::start(&SITE);
    // A server assigned to another project.
    let ws = Workspace::new(
        &site.agent,
        &format!(
            "{}\nresource \"giif_bms_assignment\" \"twice\" {{\n  project_id = giif_project.b.id\n  bms = \"bms01\"\n  depends_on = [giif_bms_assignment.s]\n}}\n",
            config("a", "bms01", "")
        ),
    );
    let run = ws.run(&["apply", "-auto-approve"]);
    assert!(!run.success);
    let text = run.flat();
    assert!(text.contains("assigned to another project"), "{text}");
    assert!(text.contains("alpha"), "the project is named: {text}");
    ws.ok(&["destroy", "-auto-approve"]);

    // An unknown server name lists free ones.
    let ws = Workspace::new(&site.agent, &config("a", "nope", ""));
    let text = ws.run(&["apply", "-auto-approve"]).flat();
    assert!(
        text.contains(r#"no server named \"nope\""#) || text.contains("no server named"),
        "{text}"
    );
    assert!(text.contains("bms01"), "free servers are listed: {text}");
    ws.ok(&["destroy", "-auto-approve"]);

    // A project without a gateway.
    let ws = Workspace::new(
        &site.agent,
        r#"
resource "giif_project" "c" {
  name = "gamma"
}

resource "giif_bms_assignment" "s" {
  project_id = giif_project.c.id
  bms        = "bms03"
}
"#,
    );
    let text = ws.run(&["apply", "-auto-approve"]).flat();
    assert!(text.contains("has no gateway (PAGW)"), "{text}");
    assert!(text.contains("giif_pagw"), "the fix is named: {text}");
    ws.ok(&["destroy", "-auto-approve"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn inventory_filters() {
    let site = TestSite::start(&SITE);
    let ws = Workspace::new(
        &site.agent,
        &format!(
            r#"{}
data "giif_bms_inventory" "free" {{
  state      = "free"
  depends_on = [giif_bms_assignment.s]
}}

data "giif_bms_inventory" "assigned" {{
  state      = "assigned"
  depends_on = [giif_bms_assignment.s]
}}

data "giif_bms_inventory" "gpu" {{
  tag = "gpu"
}}

output "free" {{
  value = data.giif_bms_inventory.free.servers[*].name
}}

output "assigned" {{
  value = data.giif_bms_inventory.assigned.servers
}}

output "gpu" {{
  value = data.giif_bms_inventory.gpu.servers[*].name
}}
"#,
            config("a", "bms02", "")
        ),
    );
    ws.apply();
    let free = out(&ws, "free");
    assert_eq!(
        free,
        serde_json::json!(["bms01", "bms03", "gpu1"]),
        "{free}"
    );
    let assigned = out(&ws, "assigned");
    assert_eq!(assigned.as_array().unwrap().len(), 1);
    assert_eq!(assigned[0]["name"], "bms02");
    assert_eq!(assigned[0]["state"], "assigned");
    assert_eq!(assigned[0]["project_id"], out(&ws, "s")["project_id"]);
    assert_eq!(out(&ws, "gpu"), serde_json::json!(["gpu1"]));
    ws.ok(&["destroy", "-auto-approve"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn out_of_band_release_recreates_and_a_failed_release_quarantines() {
    let site = TestSite::start(&SITE);
    let ws = Workspace::new(&site.agent, &config("a", "bms02", ""));
    ws.apply();
    let first = out(&ws, "s")["id"].as_str().unwrap().to_string();

    // Released behind Terraform's back: the next plan assigns it again.
    let client = site.agent.client().await;
    client
        .delete_bms_assignment(
            giif_proto::agent::DeleteBmsAssignmentRequest {
                request_id: "out-of-band".into(),
                id: first.clone(),
            },
            std::time::Duration::from_secs(60),
        )
        .await
        .unwrap();
    let (_, run) = ws.plan_is_empty();
    assert!(
        run.stdout
            .contains("Plan: 1 to add, 0 to change, 0 to destroy"),
        "{}",
        run.stdout
    );
    ws.apply();
    assert!(ws.plan_is_empty().0);

    // The iDRAC stops answering: the release fails, the destroy still
    // succeeds with a warning, and the server is quarantined, not freed.
    let (status, body) = site.admin("PUT", "/faults/idrac:bms02", Some(r#"{"drop_rate": 1.0}"#));
    assert_eq!(status, 200, "{body}");
    let run = ws.ok(&["destroy", "-auto-approve", "-target=giif_bms_assignment.s"]);
    let text = run.flat();
    assert!(text.contains("Warning"), "{text}");
    assert!(text.contains("quarantine"), "{text}");
    let config = giif_agent::config::AgentConfig::load(&site.agent.made.config_path).unwrap();
    let store = giif_agent::store::Store::open(&config.store_url())
        .await
        .unwrap();
    let quarantine = store.bms_quarantine().await.unwrap();
    assert_eq!(quarantine.len(), 1, "{quarantine:?}");
    assert_eq!(quarantine[0].0, "bms02");
    assert!(!quarantine[0].1.is_empty(), "the reason is kept");

    // A quarantined server is not handed out again; the error gives the reason.
    let (status, _) = site.admin("PUT", "/faults/idrac:bms02", Some("{}"));
    assert_eq!(status, 200);
    let run = ws.run(&["apply", "-auto-approve"]);
    assert!(!run.success);
    assert!(run.flat().contains("quarantined"), "{}", run.flat());
    assert!(
        run.flat().contains("giif-agent inventory release"),
        "{}",
        run.flat()
    );

    // The operator lists it, checks it and releases it; then it is assigned.
    let agent_cli = |args: &[&str]| {
        std::process::Command::new(giif_tests::binary("giif-agent"))
            .args(args)
            .arg("--config")
            .arg(site.agent.state_dir().join("agent.toml"))
            .output()
            .unwrap()
    };
    let list = agent_cli(&["inventory", "list"]);
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        listed.contains("QUARANTINED") && listed.contains("bms02"),
        "{listed}"
    );
    let release = agent_cli(&["inventory", "release", "bms02"]);
    assert!(
        release.status.success(),
        "{}",
        String::from_utf8_lossy(&release.stderr)
    );
    assert!(store.bms_quarantine().await.unwrap().is_empty());
    let again = agent_cli(&["inventory", "release", "bms02"]);
    assert!(
        !again.status.success(),
        "releasing twice says it is not quarantined"
    );
    ws.apply();
    ws.ok(&["destroy", "-auto-approve"]);
}

const SITE_WITH_DEFAULT: &str = r#"
[servers]
count = 2

[proxmox]
task_duration_ms = 30
nodes = [{ name = "pve1" }]
templates = [{ vmid = 9000, name = "pagw-template", node = "pve1", pagw = true }]

[[pagw_slots]]
public_ip = "203.0.113.10"
gateway = "203.0.113.1"
host = "pve1"

[[pagw_slots]]
public_ip = "203.0.113.20"
gateway = "203.0.113.1"
host = "pve1"
default_project = true
"#;

/// A released server goes back to the default project's gateway (Giif's
/// place for idle hardware) and leaves it again when assigned.
#[tokio::test(flavor = "multi_thread")]
async fn released_servers_go_back_to_the_default_project() {
    let site = TestSite::start(SITE_WITH_DEFAULT);
    let base = r#"
resource "giif_project" "idle" {
  name = "idle"
}

resource "giif_pagw" "idle" {
  project_id = giif_project.idle.id
  public_ip  = "203.0.113.20"
}

resource "giif_project" "lab" {
  name = "lab"
}

resource "giif_pagw" "lab" {
  project_id = giif_project.lab.id
}
"#;
    let assigned = format!(
        "{base}\nresource \"giif_bms_assignment\" \"s\" {{\n  project_id = giif_project.lab.id\n  bms        = \"bms01\"\n  depends_on = [giif_pagw.lab, giif_pagw.idle]\n}}\n"
    );
    let ws = Workspace::new(&site.agent, &assigned);
    ws.apply();
    let idle = |site: &TestSite| site.admin("GET", "/pagw/203.0.113.20", None).1;
    let lab = |site: &TestSite| site.admin("GET", "/pagw/203.0.113.10", None).1;
    assert!(lab(&site).contains("tag=3001"), "{}", lab(&site));
    assert!(!idle(&site).contains("tag=3001"), "{}", idle(&site));

    // Released: unplugged from the lab, plugged into the idle gateway, bridged there.
    ws.write(base);
    ws.apply();
    assert!(!lab(&site).contains("tag=3001"), "{}", lab(&site));
    let state: serde_json::Value = serde_json::from_str(&idle(&site)).unwrap();
    assert!(state.to_string().contains("tag=3001"), "{state}");
    let bridged = server_vlans(&state);
    assert!(
        bridged.contains("3001"),
        "the idle gateway bridges the server: {state}"
    );

    // Assigned again: it leaves the idle gateway.
    ws.write(&assigned);
    ws.apply();
    assert!(!idle(&site).contains("tag=3001"), "{}", idle(&site));
    assert!(lab(&site).contains("tag=3001"));
    ws.ok(&["destroy", "-auto-approve"]);
}

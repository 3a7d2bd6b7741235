//! `giif_vm` with the real terraform against giif-sim: create from a
//! template, empty plan, each in-place update, each replacement, import,
//! drift put back, an out-of-band delete re-created, destroy leaving the
//! site and the store clean, and the plan-time and agent-side refusals.

#![allow(clippy::unwrap_used)] // test helpers may panic: that is how a test fails

use giif_tests::site::TestSite;
use giif_tests::terraform::Workspace;

const SITE: &str = r#"
[proxmox]
task_duration_ms = 30
nodes = [{ name = "pve1" }, { name = "pve2" }]
templates = [
  { vmid = 9000, name = "pagw-template", node = "pve1", pagw = true },
  { vmid = 9001, name = "debian-12", node = "pve1" },
]

[[pagw_slots]]
public_ip = "203.0.113.10"
gateway = "203.0.113.1"
host = "pve1"
"#;

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHnqFxMsQzKAUtQ7uDp4lq+7yJ0Yx1M6Uv5lRvn0xY3D ops@example";

fn config(project: &str, name: &str, extra: &str) -> String {
    format!(
        r#"
resource "giif_project" "a" {{
  name = "alpha"
}}

resource "giif_project" "b" {{
  name = "beta"
}}

resource "giif_vm" "web" {{
  project_id = giif_project.{project}.id
  name       = "{name}"
  template   = "debian-12"
{extra}
}}

output "vm" {{
  value = giif_vm.web
}}
"#
    )
}

fn vm(ws: &Workspace) -> serde_json::Value {
    ws.outputs()["vm"]["value"].clone()
}

/// The simulated cluster's VMs that are not templates.
fn sim_vms(site: &TestSite) -> Vec<serde_json::Value> {
    site.state()["pve"]["vms"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|v| v["template"] != true)
        .collect()
}

fn sim_vm(site: &TestSite, vmid: u64) -> serde_json::Value {
    sim_vms(site)
        .into_iter()
        .find(|v| v["vmid"] == vmid)
        .unwrap_or_else(|| panic!("no VM {vmid} in the simulator"))
}

/// A config value as the VM runs with it: pending changes applied.
fn effective(vm: &serde_json::Value, key: &str) -> String {
    let value = if vm["pending"].get(key).is_some() {
        &vm["pending"][key]
    } else {
        &vm["config"][key]
    };
    value
        .as_str()
        .map(str::to_string)
        .unwrap_or(value.to_string())
}

fn apply_in_place(ws: &Workspace, vmid: u64) {
    let (_, run) = ws.plan_is_empty();
    assert!(run.stdout.contains("update in-place"), "{}", run.stdout);
    ws.apply();
    assert_eq!(vm(ws)["vmid"].as_u64().unwrap(), vmid, "updated in place");
    let (empty, run) = ws.plan_is_empty();
    assert!(empty, "plan after apply is not empty:\n{}", run.all());
}

#[tokio::test(flavor = "multi_thread")]
async fn vm_lifecycle() {
    let site = TestSite::start(SITE);
    let ci = format!(
        r#"  cloud_init = {{
    user     = "ops"
    ssh_keys = ["{KEY}"]
    ip       = "dhcp"
  }}"#
    );
    let ws = Workspace::new(&site.agent, &config("a", "web", &ci));

    // Create: cloned from the template, net0 tagged, disk grown, running.
    ws.apply();
    let created = vm(&ws);
    assert_eq!(created["status"], "ready");
    assert_eq!(created["cores"], 2);
    assert!(created["mac_address"].is_string(), "{created}");
    assert!(created["console_connection_id"].is_null());
    let vmid = created["vmid"].as_u64().unwrap();
    let live = sim_vm(&site, vmid);
    assert_eq!(live["cloned_from"], 9001, "{live}");
    assert_eq!(live["status"], "running", "{live}");
    assert!(effective(&live, "net0").contains("tag="), "{live}");
    assert!(effective(&live, "scsi0").contains("size=20G"), "{live}");
    assert_eq!(effective(&live, "ciuser"), "ops");
    let (empty, run) = ws.plan_is_empty();
    assert!(empty, "plan after apply is not empty:\n{}", run.all());

    // In place, one at a time: cores, memory, disk, power, cloud-init.
    ws.write(&config("a", "web", &format!("{ci}\n  cores = 4")));
    apply_in_place(&ws, vmid);
    assert_eq!(effective(&sim_vm(&site, vmid), "cores"), "4");
    ws.write(&config(
        "a",
        "web",
        &format!("{ci}\n  cores = 4\n  memory_mb = 4096"),
    ));
    apply_in_place(&ws, vmid);
    assert_eq!(effective(&sim_vm(&site, vmid), "memory"), "4096");
    let grown = format!("{ci}\n  cores = 4\n  memory_mb = 4096\n  disk_gb = 30");
    ws.write(&config("a", "web", &grown));
    apply_in_place(&ws, vmid);
    assert!(effective(&sim_vm(&site, vmid), "scsi0").contains("size=30G"));
    ws.write(&config(
        "a",
        "web",
        &format!("{grown}\n  power_state = \"off\""),
    ));
    apply_in_place(&ws, vmid);
    assert_eq!(sim_vm(&site, vmid)["status"], "stopped");
    ws.write(&config("a", "web", &grown));
    apply_in_place(&ws, vmid);
    assert_eq!(sim_vm(&site, vmid)["status"], "running");
    let grown = grown.replace("\"dhcp\"", "\"192.168.212.140/24\"");
    ws.write(&config("a", "web", &grown));
    apply_in_place(&ws, vmid);
    let ipconfig = effective(&sim_vm(&site, vmid), "ipconfig0");
    assert!(
        ipconfig.contains("192.168.212.140/24") && ipconfig.contains("gw=192.168.212.1"),
        "{ipconfig}"
    );

    // Drift: stopped out of band shows as "off" and the apply starts it.
    let (status, body) = site.admin("POST", &format!("/pve/vms/{vmid}/stop"), None);
    assert_eq!(status, 200, "{body}");
    let (empty, run) = ws.plan_is_empty();
    assert!(!empty);
    assert!(run.stdout.contains(r#""off" -> "on""#), "{}", run.stdout);
    ws.apply();
    assert_eq!(sim_vm(&site, vmid)["status"], "running");
    assert!(ws.plan_is_empty().0);

    // Drift: cores changed out of band are put back.
    let (status, body) = site.admin(
        "PUT",
        &format!("/pve/vms/{vmid}/config"),
        Some(r#"{"cores": "1"}"#),
    );
    assert_eq!(status, 200, "{body}");
    let (_, run) = ws.plan_is_empty();
    assert!(run.stdout.contains("1 -> 4"), "{}", run.stdout);
    ws.apply();
    assert_eq!(effective(&sim_vm(&site, vmid), "cores"), "4");
    assert!(ws.plan_is_empty().0);

    // Import, by "project/name" and by id, gives the same state.
    let id = vm(&ws)["id"].as_str().unwrap().to_string();
    for reference in ["alpha/web", id.as_str()] {
        ws.ok(&["state", "rm", "giif_vm.web"]);
        ws.ok(&["import", "giif_vm.web", reference]);
        let (empty, run) = ws.plan_is_empty();
        assert!(
            empty,
            "plan after import of {reference} is not empty:\n{}",
            run.all()
        );
    }

    // Deleted out of band: the next plan re-creates it.
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
    assert!(ws.plan_is_empty().0);

    // Renaming it, or moving it to another project, replaces it.
    for (project, name) in [("a", "www"), ("b", "www")] {
        ws.write(&config(project, name, &grown));
        let (_, run) = ws.plan_is_empty();
        assert!(
            run.stdout.contains("# forces replacement"),
            "{}",
            run.stdout
        );
        ws.apply();
        assert_eq!(sim_vms(&site).len(), 1, "the old VM is gone");
        assert_eq!(sim_vms(&site)[0]["name"], "www");
        assert!(ws.plan_is_empty().0);
    }

    // Destroy: no VM left, no row, no VM id held.
    ws.ok(&["destroy", "-auto-approve"]);
    assert!(sim_vms(&site).is_empty(), "{:?}", sim_vms(&site));
    let config = giif_agent::config::AgentConfig::load(&site.agent.made.config_path).unwrap();
    let store = giif_agent::store::Store::open(&config.store_url())
        .await
        .unwrap();
    assert_eq!(store.vmid_allocation_count().await.unwrap(), 0);
    assert!(store.list_projects().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disk_shrink_is_refused_at_plan_time() {
    let site = TestSite::start(SITE);
    let ws = Workspace::new(&site.agent, &config("a", "web", "  disk_gb = 30"));
    ws.apply();
    ws.write(&config("a", "web", "  disk_gb = 25"));
    let run = ws.run(&["plan"]);
    assert!(!run.success);
    let text = run.flat();
    assert!(text.contains("Disks only grow"), "{text}");
    assert!(text.contains("The disk is 30 GB"), "{text}");
    assert!(text.contains("disk_gb"), "{text}");
    ws.write(&config("a", "web", "  disk_gb = 30"));
    ws.ok(&["destroy", "-auto-approve"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_addresses_and_sources_are_refused_at_plan_time() {
    let site = TestSite::start(SITE);
    let ci = r#"  cloud_init = {
    ip = "10.0.0.5/24"
  }"#;
    let ws = Workspace::new(&site.agent, &config("a", "web", ci));
    let text = ws.run(&["plan"]).flat();
    assert!(text.contains("Invalid value for ip"), "{text}");
    assert!(
        text.contains("outside the project subnet 192.168.212.0/24"),
        "{text}"
    );
    ws.write(&config(
        "a",
        "web",
        &ci.replace("10.0.0.5", "192.168.212.255"),
    ));
    let text = ws.run(&["plan"]).flat();
    assert!(text.contains("broadcast address"), "{text}");
    ws.write(&config("a", "web", "  iso = \"debian.iso\""));
    let text = ws.run(&["plan"]).flat();
    assert!(text.contains("exactly one of template and iso"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_static_address_in_the_gateway_pool_is_refused_by_the_agent() {
    let site = TestSite::start(SITE);
    let extra = r#"  cloud_init = {
    ip = "192.168.212.50/24"
  }
  depends_on = [giif_pagw.gw]
}

resource "giif_pagw" "gw" {
  project_id = giif_project.a.id"#;
    let ws = Workspace::new(&site.agent, &config("a", "web", extra));
    let run = ws.run(&["apply", "-auto-approve"]);
    assert!(!run.success);
    let text = run.flat();
    assert!(
        text.contains("inside the project gateway's DHCP pool 192.168.212.20-192.168.212.120"),
        "{text}"
    );
    assert!(sim_vms(&site).iter().all(|v| v["name"] != "web"));
    ws.write(&config("a", "web", &extra.replace(".50/", ".150/")));
    ws.apply();
    ws.ok(&["destroy", "-auto-approve"]);
}

/// VMs made by hand at the ids giif would choose: one plain, one with a
/// forged mark of another object. Neither is adopted, changed or deleted;
/// giif's VM and gateway take other ids.
#[tokio::test(flavor = "multi_thread")]
async fn vms_giif_did_not_make_are_never_adopted_or_touched() {
    let site = TestSite::start(SITE);
    for (vmid, description) in [
        (100, "the operator's database"),
        (101, "giif-owner: vm-elsewhere"),
    ] {
        let body = format!(
            r#"{{"node": "pve1", "config": {{"name": "ops-{vmid}", "cores": "2", "memory": "2048", "description": "{description}"}}}}"#
        );
        let (status, answer) = site.admin("PUT", &format!("/pve/vms/{vmid}"), Some(&body));
        assert_eq!(status, 200, "{answer}");
    }
    let ws = Workspace::new(&site.agent, &config("a", "web", ""));
    // The clone fails, so the VM's id (102) is held with no VM; then
    // someone makes a VM there by hand. Replacing the failed VM must not
    // delete it.
    let (status, answer) = site.admin(
        "POST",
        "/pve/fail-next-task",
        Some(r#"{"type": "qmclone", "message": "storage full"}"#),
    );
    assert_eq!(status, 200, "{answer}");
    let failed = ws.run(&["apply", "-auto-approve"]);
    assert!(!failed.success, "{}", failed.all());
    let body = r#"{"node": "pve1", "config": {"name": "ops-102", "cores": "1", "memory": "512"}}"#;
    let (status, answer) = site.admin("PUT", "/pve/vms/102", Some(body));
    assert_eq!(status, 200, "{answer}");
    let planted = |site: &TestSite| [sim_vm(site, 100), sim_vm(site, 101), sim_vm(site, 102)];
    let before = planted(&site);

    ws.write(&format!(
        "{}\nresource \"giif_pagw\" \"gw\" {{\n  project_id = giif_project.a.id\n}}\n",
        config("a", "web", "")
    ));
    ws.apply();
    let made = vm(&ws)["vmid"].as_u64().unwrap();
    assert!(made > 102, "giif's VM took a planted id: {made}");
    let ours = sim_vm(&site, made);
    assert!(
        effective(&ours, "description").contains("giif-owner: vm-"),
        "{ours}"
    );
    assert_eq!(planted(&site), before, "a planted VM was changed");
    assert!(ws.plan_is_empty().0);

    // Our VM deleted by hand and someone else's made at its id: a refresh
    // reports ours missing (not the other's settings as drift), and the
    // apply makes ours again elsewhere, the other VM untouched.
    let (status, answer) = site.admin("DELETE", &format!("/pve/vms/{made}"), None);
    assert_eq!(status, 200, "{answer}");
    let squatter = format!(
        r#"{{"node": "pve1", "config": {{"name": "ops-{made}", "cores": "4", "memory": "2048"}}}}"#
    );
    let (status, answer) = site.admin("PUT", &format!("/pve/vms/{made}"), Some(&squatter));
    assert_eq!(status, 200, "{answer}");
    let squatter_before = sim_vm(&site, made);
    let (_, run) = ws.plan_is_empty();
    assert!(run.stdout.contains("will be created"), "{}", run.all());
    ws.apply();
    let remade = vm(&ws)["vmid"].as_u64().unwrap();
    assert_ne!(remade, made, "giif took the other VM's id");
    assert_eq!(
        sim_vm(&site, made),
        squatter_before,
        "the other VM was changed"
    );
    assert!(ws.plan_is_empty().0);
    let (status, answer) = site.admin("DELETE", &format!("/pve/vms/{made}"), None);
    assert_eq!(status, 200, "{answer}");

    ws.ok(&["destroy", "-auto-approve"]);
    assert_eq!(
        planted(&site),
        before,
        "a planted VM was changed or deleted"
    );
    assert_eq!(sim_vms(&site).len(), 3, "{:?}", sim_vms(&site));
    let agent_config = giif_agent::config::AgentConfig::load(&site.agent.made.config_path).unwrap();
    let store = giif_agent::store::Store::open(&agent_config.store_url())
        .await
        .unwrap();
    assert_eq!(store.vmid_allocation_count().await.unwrap(), 0);

    // With a range in the site file, ids come from it, and a range used up
    // is a diagnostic that names it.
    site.reimport(|text| text.replace("[proxmox]\n", "[proxmox]\nvmids = [500, 501]\n"));
    ws.write(&format!(
        "{}\nresource \"giif_pagw\" \"gw\" {{\n  project_id = giif_project.a.id\n}}\n",
        config("a", "web", "")
    ));
    ws.apply();
    let ids: Vec<u64> = sim_vms(&site)
        .iter()
        .filter_map(|v| v["vmid"].as_u64())
        .filter(|id| *id >= 500)
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.iter().all(|id| (500..=501).contains(id)), "{ids:?}");
    ws.write(&format!(
        "{}\nresource \"giif_pagw\" \"gw\" {{\n  project_id = giif_project.a.id\n}}\nresource \"giif_vm\" \"more\" {{\n  project_id = giif_project.a.id\n  name       = \"more\"\n  template   = \"debian-12\"\n}}\n",
        config("a", "web", "")
    ));
    let full = ws.run(&["apply", "-auto-approve"]);
    assert!(!full.success);
    assert!(
        full.flat()
            .contains("every VM id of giif's range 500-501 is taken"),
        "{}",
        full.all()
    );
}

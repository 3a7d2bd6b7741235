//! The HuacaFile modules of examples/modules, applied and destroyed as a user
//! would use them (a module source, `terraform get`), with the real
//! terraform against giif-sim and a Guacamole database on MariaDB.

#![allow(clippy::unwrap_used)] // test helpers may panic: that is how a test fails

use giif_tests::guacamole_db::{GuacFlavor, GuacamoleDb};
use giif_tests::site::{pagw_slots, TestSite, GUACAMOLE_PUBLIC_URL};
use giif_tests::terraform::Workspace;
use std::sync::LazyLock;

static SITE: LazyLock<String> = LazyLock::new(|| {
    r#"
[servers]
count = 3
tags = ["r640"]

[proxmox]
task_duration_ms = 30
nodes = [{ name = "pve1" }, { name = "pve2" }]
templates = [
  { vmid = 9000, name = "pagw-template", node = "pve1", pagw = true },
  { vmid = 9001, name = "debian-12", node = "pve1" },
]

[floating_ips]
addresses = ["203.0.113.100-203.0.113.101"]

[[iso_images]]
name = "ubuntu-24.04"
media_url = "http://fileserver/isos/ubuntu.iso"
"#
    .to_string()
        + &pagw_slots(2)
});

fn module_source(name: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/modules")
        .join(name)
        .canonicalize()
        .unwrap()
        .display()
        .to_string()
}

fn readers_of_connection(db: &GuacamoleDb, name: &str) -> Vec<String> {
    let mut names: Vec<String> = db
        .sql(&format!(
            "SELECT e.name FROM guacamole_connection_permission p \
             JOIN guacamole_entity e ON e.entity_id = p.entity_id \
             JOIN guacamole_connection c ON c.connection_id = p.connection_id \
             WHERE c.connection_name = '{name}' AND p.permission = 'READ'"
        ))
        .lines()
        .map(str::to_string)
        .collect();
    names.sort();
    names
}

/// A student's WireGuard public key (made on the student's machine).
const STUDENT_WG_KEY: &str = "hJ1bJ2mwH3n4xqvQkK2RZ1n3gq0bq2Jm3H4n5p6q7r8=";

fn empty_after(ws: &Workspace, what: &str) {
    let (empty, plan) = ws.plan_is_empty();
    assert!(empty, "plan after {what}:\n{}", plan.all());
}

#[test]
fn class_lab_and_bare_metal_rental() {
    let db = GuacamoleDb::start(GuacFlavor::MariaDb);
    for user in [
        "prof.curie",
        "ta.joliot",
        "student01",
        "student02",
        "acme.admin",
    ] {
        db.add_user(user);
    }
    let site = TestSite::start_with_guacamole(&SITE, &db.url());
    let config = |students: &str| {
        format!(
            r#"
module "lab" {{
  source     = "{lab}"
  name       = "physics-101"
  instructor = "prof.curie"
  assistants = ["ta.joliot"]
  students   = [{students}]
  vpn_clients = {{
    student01 = {{ public_key = "{student_key}", address = "192.168.213.10" }}
  }}
}}

module "rental" {{
  source       = "{rental}"
  name         = "acme"
  customer     = "acme.admin"
  server_tag   = "r640"
  server_count = 2
  boot_iso     = "ubuntu-24.04"
}}

output "lab" {{
  value = module.lab
}}

output "rental" {{
  value = module.rental
}}
"#,
            lab = module_source("class-lab"),
            rental = module_source("bare-metal-rental"),
            student_key = STUDENT_WG_KEY,
        )
    };
    let ws = Workspace::new(&site.agent, &config(r#""student01", "student02""#));
    ws.ok(&["get", "-no-color"]);
    ws.apply();
    empty_after(&ws, "apply");
    let outputs = ws.outputs();
    let lab = &outputs["lab"]["value"];
    let consoles = lab["student_consoles"].as_object().unwrap();
    assert_eq!(consoles.len(), 2);
    for url in consoles.values() {
        assert!(
            url.as_str().unwrap().starts_with(GUACAMOLE_PUBLIC_URL),
            "{url}"
        );
    }
    assert_eq!(lab["web_public_ip"], "203.0.113.100");
    // The student's ready wg-quick file: the gateway's key and endpoint.
    let vpn = lab["vpn_client_configs"]["student01"].as_str().unwrap();
    let gateway_ip = lab["gateway_public_ip"].as_str().unwrap();
    for line in [
        format!("Endpoint = {gateway_ip}:51820"),
        "AllowedIPs = 192.168.212.0/23".to_string(),
        "Address = 192.168.213.10/23".to_string(),
    ] {
        assert!(vpn.contains(&line), "{line} in {vpn}");
    }
    let server_key = vpn
        .lines()
        .find_map(|l| l.strip_prefix("PublicKey = "))
        .unwrap();
    assert_eq!(server_key.len(), 44, "{vpn}");
    // A student sees their own desktop; the instructor and assistant see all.
    assert_eq!(
        readers_of_connection(&db, "student01 desktop"),
        ["prof.curie", "student01", "ta.joliot"]
    );
    assert_eq!(
        readers_of_connection(&db, "student02 desktop"),
        ["prof.curie", "student02", "ta.joliot"]
    );
    let rental = &outputs["rental"]["value"];
    let servers = rental["servers"].as_object().unwrap();
    assert_eq!(servers.len(), 2);
    for (name, server) in servers {
        assert!(
            server["console_url"]
                .as_str()
                .unwrap()
                .starts_with(GUACAMOLE_PUBLIC_URL),
            "{name}: {server}"
        );
        let (_, idrac) = site.admin("GET", &format!("/idrac/{name}"), None);
        assert!(
            idrac.contains("http://fileserver/isos/ubuntu.iso"),
            "{name}: {idrac}"
        );
    }
    assert_eq!(
        readers_of_connection(&db, &format!("{} console", servers.keys().next().unwrap())),
        ["acme.admin"]
    );

    // One student leaves: their VM and console go, the rest stays.
    ws.write(&config(r#""student01""#));
    ws.apply();
    empty_after(&ws, "a student left");
    assert!(readers_of_connection(&db, "student02 desktop").is_empty());
    assert_eq!(
        db.sql(
            "SELECT COUNT(*) FROM guacamole_connection WHERE connection_name = 'student02 desktop'"
        ),
        "0"
    );

    ws.ok(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    assert_eq!(db.sql("SELECT COUNT(*) FROM guacamole_connection"), "0");
    let state = site.state().to_string();
    assert!(!state.contains("physics-101-student01"), "the VMs are gone");
}

//! Consoles end to end, on MariaDB and on PostgreSQL: the real terraform,
//! the provider, an agent and giif-sim, with Guacamole's database loaded
//! from a schema (the project's, or `GIIF_GUACAMOLE_SCHEMA_DIR`'s).
//!
//! The tree made with projects and gateways; console connections made,
//! moved and removed with VMs and servers; members' grants added and
//! removed; explicit connections with each protocol (concurrently, in one
//! group); a missing user; drift after out-of-band deletes and edits put
//! back by apply; a destroy that leaves nothing of the agent's behind.

#![allow(clippy::unwrap_used)] // test helpers may panic: that is how a test fails

use giif_tests::guacamole_db::{Granted, GuacFlavor, GuacamoleDb};
use giif_tests::site::{TestSite, GUACAMOLE_PUBLIC_URL};
use giif_tests::terraform::Workspace;
use sha2::Digest;

const SITE: &str = r#"
[servers]
count = 2

[proxmox]
task_duration_ms = 30
nodes = [{ name = "pve1" }]
templates = [
  { vmid = 9000, name = "pagw-template", node = "pve1", pagw = true },
  { vmid = 9001, name = "debian-12", node = "pve1" },
]

[[pagw_slots]]
public_ip = "203.0.113.10"
gateway = "203.0.113.1"
host = "pve1"

[[pagw_slots]]
public_ip = "203.0.113.11"
gateway = "203.0.113.1"
host = "pve1"
"#;

const SSH_PASSWORD: &str = "never-in-state-7f3a";

struct Step<'a> {
    alpha_members: &'a str,
    bms_project: &'a str,
    wireguard: bool,
}

fn config(step: &Step) -> String {
    format!(
        r#"
resource "giif_project" "alpha" {{
  name    = "alpha"
  owner   = "alice"
  members = [{members}]
}}

resource "giif_project" "beta" {{
  name  = "beta"
  owner = "carol"
}}

resource "giif_pagw" "alpha" {{
  project_id = giif_project.alpha.id
  {wireguard}
}}

resource "giif_pagw" "beta" {{
  project_id = giif_project.beta.id
}}

resource "giif_vm" "web" {{
  project_id = giif_project.alpha.id
  name       = "web"
  template   = "debian-12"
  cores      = 1
  memory_mb  = 1024
}}

resource "giif_bms_assignment" "node" {{
  project_id = giif_project.{bms}.id
  bms        = "bms01"
  depends_on = [giif_pagw.alpha, giif_pagw.beta]
}}

resource "giif_guacamole_connection" "ssh" {{
  name        = "jump host"
  project_id  = giif_project.alpha.id
  protocol    = "ssh"
  hostname    = "192.168.212.150"
  password    = "{SSH_PASSWORD}"
  users       = ["bob"]
  user_groups = ["students"]
  parameters = {{
    username  = "ops"
    font-size = "12"
  }}
}}

resource "giif_guacamole_connection" "rdp" {{
  name       = "windows"
  project_id = giif_project.alpha.id
  protocol   = "rdp"
  hostname   = "192.168.212.151"
  port       = 3390
  parameters = {{
    security    = "nla"
    ignore-cert = "true"
  }}
}}

resource "giif_guacamole_connection" "telnet" {{
  name       = "switch"
  project_id = giif_project.alpha.id
  protocol   = "telnet"
  hostname   = "192.168.212.2"
}}

resource "giif_guacamole_connection" "kubernetes" {{
  name       = "pod"
  project_id = giif_project.alpha.id
  protocol   = "kubernetes"
  hostname   = "k8s.example.org"
  parameters = {{
    namespace = "lab"
    pod       = "web-0"
  }}
}}

resource "giif_guacamole_connection" "web_vnc" {{
  name        = "web (shared)"
  project_id  = giif_project.alpha.id
  protocol    = "vnc"
  resource_id = giif_vm.web.id
  users       = ["carol"]
}}

# Several at once in one group.
resource "giif_guacamole_connection" "seat" {{
  count      = 6
  name       = "seat-${{count.index}}"
  project_id = giif_project.alpha.id
  protocol   = "ssh"
  hostname   = "192.168.212.${{160 + count.index}}"
}}

output "all" {{
  value = {{
    alpha = giif_project.alpha
    beta  = giif_project.beta
    web   = giif_vm.web
    node  = giif_bms_assignment.node
    ssh   = giif_guacamole_connection.ssh
    vnc   = giif_guacamole_connection.web_vnc
  }}
  sensitive = true
}}
"#,
        members = step.alpha_members,
        bms = step.bms_project,
        wireguard = if step.wireguard {
            "wireguard = { peers = [] }"
        } else {
            ""
        },
    )
}

/// The group id of `path` (`Projects/alpha/Resources`).
fn group_id(db: &GuacamoleDb, path: &str) -> Option<i64> {
    let mut parent: Option<i64> = None;
    for name in path.split('/') {
        let filter = match parent {
            None => "parent_id IS NULL".to_string(),
            Some(id) => format!("parent_id = {id}"),
        };
        let rows = db.sql(&format!(
            "SELECT connection_group_id FROM guacamole_connection_group WHERE connection_group_name = '{name}' AND {filter}"
        ));
        let ids: Vec<i64> = rows.lines().map(|l| l.trim().parse().unwrap()).collect();
        assert!(ids.len() <= 1, "{path}: {} groups named {name}", ids.len());
        parent = Some(*ids.first()?);
    }
    parent
}

fn connections_in(db: &GuacamoleDb, group: i64) -> Vec<String> {
    let mut names: Vec<String> = db
        .sql(&format!(
            "SELECT connection_name FROM guacamole_connection WHERE parent_id = {group}"
        ))
        .lines()
        .map(str::to_string)
        .collect();
    names.sort();
    names
}

fn connection_id(db: &GuacamoleDb, group: i64, name: &str) -> i64 {
    db.sql(&format!(
        "SELECT connection_id FROM guacamole_connection WHERE parent_id = {group} AND connection_name = '{name}'"
    ))
    .trim()
    .parse()
    .unwrap_or_else(|_| panic!("no connection {name:?} in group {group}"))
}

fn parameter(db: &GuacamoleDb, connection: i64, name: &str) -> String {
    db.sql(&format!(
        "SELECT parameter_value FROM guacamole_connection_parameter WHERE connection_id = {connection} AND parameter_name = '{name}'"
    ))
}

/// Who holds READ on a group (`g`) or connection (`c`).
fn out(ws: &Workspace) -> serde_json::Value {
    ws.outputs()["all"]["value"].clone()
}

fn find_vnc(value: &serde_json::Value) -> Option<serde_json::Value> {
    match value {
        serde_json::Value::Object(map) => match map.get("vnc") {
            Some(vnc) if vnc.get("password_sha256").is_some() => Some(vnc.clone()),
            _ => map.values().find_map(find_vnc),
        },
        serde_json::Value::Array(items) => items.iter().find_map(find_vnc),
        _ => None,
    }
}

fn consoles(flavor: GuacFlavor) {
    let db = GuacamoleDb::start(flavor);
    for user in ["alice", "bob", "carol"] {
        db.add_user(user);
    }
    db.add_user_group("students");
    let site = TestSite::start_with_guacamole(SITE, &db.url());
    let mut step = Step {
        alpha_members: r#"{ user = "bob", role = "member" }"#,
        bms_project: "alpha",
        wireguard: true,
    };
    let ws = Workspace::new(&site.agent, &config(&step));
    ws.apply();
    let (empty, plan) = ws.plan_is_empty();
    assert!(empty, "plan after apply:\n{}", plan.all());

    // The tree.
    let alpha = group_id(&db, "Projects/alpha").expect("Projects/alpha");
    let resources = group_id(&db, "Projects/alpha/Resources").expect("Resources");
    let toolbox = group_id(&db, "Projects/alpha/Project Toolbox").expect("Project Toolbox");
    assert!(group_id(&db, "Projects/beta/Resources").is_some());
    let state = out(&ws);
    assert_eq!(state["alpha"]["connection_group_id"], alpha.to_string());
    assert_eq!(state["alpha"]["status"], "ready");
    assert_eq!(connections_in(&db, toolbox), ["ARP scan", "WireGuard"]);

    // The VM's console: VNC to its node on 5900 + vmid, which the VM serves.
    let web_console = connection_id(&db, resources, "web");
    assert_eq!(
        state["web"]["console_connection_id"],
        web_console.to_string()
    );
    let vmid = state["web"]["vmid"].as_i64().unwrap();
    assert_eq!(parameter(&db, web_console, "hostname"), "127.0.0.1");
    assert_eq!(
        parameter(&db, web_console, "port"),
        (5900 + vmid).to_string()
    );
    assert!(
        state["web"]["console_url"]
            .as_str()
            .unwrap()
            .starts_with(GUACAMOLE_PUBLIC_URL),
        "{}",
        state["web"]["console_url"]
    );
    let vm_config = site
        .vm_config(vmid as u64)
        .expect("the VM in the simulator");
    // QEMU serves it on the node's console address only, with a password
    // of its own that only Guacamole knows; a connection made by hand to
    // the VM has it too.
    assert!(
        vm_config.contains(&format!("-vnc 127.0.0.1:{vmid},password=on")),
        "{vm_config}"
    );
    let vm_password = parameter(&db, web_console, "password");
    assert_eq!(vm_password.len(), 8, "a VNC password has eight characters");
    let sha = |text: &str| {
        sha2::Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let running = site.state()["pve"]["vms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|vm| vm["vmid"] == vmid)
        .cloned()
        .unwrap();
    assert_eq!(
        running["vnc_password_sha256"],
        sha(&vm_password),
        "{running}"
    );
    assert_eq!(
        parameter(
            &db,
            connection_id(&db, resources, "web (shared)"),
            "password"
        ),
        vm_password
    );

    // The server's group and console, with the password set on its iDRAC.
    let server_group = group_id(&db, "Projects/alpha/Resources/bms01").expect("server group");
    let server_console = connection_id(&db, server_group, "bms01 console");
    assert_eq!(
        state["node"]["console_connection_id"],
        server_console.to_string()
    );
    let password = parameter(&db, server_console, "password");
    assert_eq!(password.len(), 8, "a VNC password has eight characters");
    let (_, idrac) = site.admin("GET", "/idrac/bms01", None);
    let vnc = find_vnc(&serde_json::from_str(&idrac).unwrap()).expect("iDRAC VNC settings");
    assert_eq!(vnc["enabled"], true);
    assert_eq!(
        vnc["password_sha256"],
        sha2::Sha256::digest(password.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );

    // Members: the owner and members see the project; others do not.
    assert_eq!(db.readers(Granted::Group, alpha), ["alice", "bob"]);
    assert_eq!(
        db.readers(Granted::Connection, web_console),
        ["alice", "bob"]
    );
    assert_eq!(db.readers(Granted::Group, server_group), ["alice", "bob"]);
    assert_eq!(
        db.readers(Granted::Connection, connection_id(&db, toolbox, "ARP scan")),
        ["alice", "bob"]
    );

    // Explicit connections, one per protocol and six at once.
    let mut names = connections_in(&db, resources);
    names.retain(|n| !n.starts_with("seat-"));
    assert_eq!(
        names,
        [
            "jump host",
            "pod",
            "switch",
            "web",
            "web (shared)",
            "windows"
        ]
    );
    assert_eq!(connections_in(&db, resources).len(), 12);
    let ssh = connection_id(&db, resources, "jump host");
    assert_eq!(state["ssh"]["id"], ssh.to_string());
    assert_eq!(parameter(&db, ssh, "password"), SSH_PASSWORD);
    assert_eq!(parameter(&db, ssh, "port"), "22");
    assert_eq!(
        db.readers(Granted::Connection, ssh),
        ["alice", "bob", "students"]
    );
    let rdp = connection_id(&db, resources, "windows");
    assert_eq!(parameter(&db, rdp, "security"), "nla");
    assert_eq!(parameter(&db, rdp, "port"), "3390");
    let shared = connection_id(&db, resources, "web (shared)");
    assert_eq!(parameter(&db, shared, "port"), (5900 + vmid).to_string());
    assert_eq!(
        db.readers(Granted::Connection, shared),
        ["alice", "bob", "carol"]
    );
    let client_url = state["ssh"]["client_url"].as_str().unwrap();
    assert!(
        client_url.starts_with(&format!("{GUACAMOLE_PUBLIC_URL}/#/client/")),
        "{client_url}"
    );
    let tfstate = std::fs::read_to_string(ws.state_dir().join("terraform.tfstate")).unwrap();
    assert!(
        !tfstate.contains(SSH_PASSWORD),
        "the write-only password is not in the state"
    );
    assert!(
        !tfstate.contains(&password),
        "the VNC password is not in the state"
    );

    // bob leaves alpha (keeping the jump host he is given by name), the
    // server moves to beta, and the gateway drops WireGuard.
    step = Step {
        alpha_members: "",
        bms_project: "beta",
        wireguard: false,
    };
    ws.write(&config(&step));
    ws.apply();
    let (empty, plan) = ws.plan_is_empty();
    assert!(empty, "plan after the changes:\n{}", plan.all());
    assert_eq!(db.readers(Granted::Group, alpha), ["alice"]);
    assert_eq!(db.readers(Granted::Connection, web_console), ["alice"]);
    assert_eq!(
        db.readers(Granted::Connection, ssh),
        ["alice", "bob", "students"]
    );
    assert_eq!(connections_in(&db, toolbox), ["ARP scan"]);
    assert!(group_id(&db, "Projects/alpha/Resources/bms01").is_none());
    let moved = group_id(&db, "Projects/beta/Resources/bms01").expect("moved with the server");
    assert_eq!(moved, server_group, "the same group, moved");
    assert_eq!(db.readers(Granted::Group, moved), ["carol"]);

    // A member Guacamole does not know is refused, naming the user.
    step.alpha_members = r#"{ user = "zed", role = "member" }"#;
    ws.write(&config(&step));
    let failed = ws.run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(!failed.success, "{}", failed.all());
    assert!(
        failed.flat().contains(r#"Guacamole has no user "zed""#),
        "{}",
        failed.all()
    );
    step.alpha_members = "";
    ws.write(&config(&step));

    // Drift: an explicit connection deleted, a VM console deleted and the
    // project's group renamed in Guacamole's web app.
    db.sql(&format!(
        "DELETE FROM guacamole_connection WHERE connection_id = {ssh}"
    ));
    db.sql(&format!(
        "DELETE FROM guacamole_connection WHERE connection_id = {web_console}"
    ));
    db.sql(&format!(
        "UPDATE guacamole_connection_group SET connection_group_name = 'renamed' WHERE connection_group_id = {alpha}"
    ));
    // And an explicit connection edited there.
    db.sql(&format!(
        "UPDATE guacamole_connection_parameter SET parameter_value = 'tls' \
         WHERE connection_id = {rdp} AND parameter_name = 'security'"
    ));
    let plan = ws.ok(&["plan", "-no-color", "-input=false"]);
    let text = plan.flat();
    assert!(
        text.contains("giif_guacamole_connection.rdp will be updated in-place"),
        "{}",
        plan.all()
    );
    assert!(
        text.contains("giif_guacamole_connection.ssh will be created"),
        "{}",
        plan.all()
    );
    assert!(
        text.contains("giif_vm.web will be updated in-place"),
        "{}",
        plan.all()
    );
    assert!(
        text.contains("giif_project.alpha will be updated in-place"),
        "{}",
        plan.all()
    );
    ws.apply();
    let (empty, plan) = ws.plan_is_empty();
    assert!(
        empty,
        "plan after putting the consoles back:\n{}",
        plan.all()
    );
    assert_eq!(group_id(&db, "Projects/alpha"), Some(alpha));
    let resources = group_id(&db, "Projects/alpha/Resources").unwrap();
    assert!(connections_in(&db, resources).contains(&"web".to_string()));
    assert!(connections_in(&db, resources).contains(&"jump host".to_string()));

    assert_eq!(parameter(&db, rdp, "security"), "nla");

    // Import by id: forgotten by Terraform, found again, nothing to change.
    let telnet = connection_id(&db, resources, "switch");
    ws.ok(&["state", "rm", "giif_guacamole_connection.telnet"]);
    ws.ok(&[
        "import",
        "-no-color",
        "giif_guacamole_connection.telnet",
        &telnet.to_string(),
    ]);
    let (empty, plan) = ws.plan_is_empty();
    assert!(empty, "plan after import:\n{}", plan.all());

    // A console that cannot be put back (its name taken by a connection
    // made by hand): the apply succeeds with a warning that says so, and
    // once the way is clear the next apply repairs it.
    let web = connection_id(&db, resources, "web");
    db.sql(&format!(
        "DELETE FROM guacamole_connection WHERE connection_id = {web}"
    ));
    db.sql(&format!(
        "INSERT INTO guacamole_connection (connection_name, parent_id, protocol) \
         VALUES ('web', {resources}, 'ssh')"
    ));
    let blocked = ws.apply();
    let text = blocked.flat();
    assert!(
        text.contains("Warning: The Guacamole objects of VM")
            && text.contains("could not be put back"),
        "{}",
        blocked.all()
    );
    assert!(
        text.contains("Remove what is in the way in Guacamole"),
        "{text}"
    );
    let (empty, _) = ws.plan_is_empty();
    assert!(
        !empty,
        "the repair is proposed again while the way is blocked"
    );
    db.sql(&format!(
        "DELETE FROM guacamole_connection WHERE connection_name = 'web' AND parent_id = {resources}"
    ));
    let repaired = ws.apply();
    assert!(
        !repaired.flat().contains("could not be put back"),
        "{}",
        repaired.all()
    );
    let (empty, plan) = ws.plan_is_empty();
    assert!(empty, "plan after the repair:\n{}", plan.all());
    assert!(connections_in(&db, resources).contains(&"web".to_string()));

    // Destroy: nothing of the agent's is left but the root group.
    ws.ok(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    assert_eq!(db.sql("SELECT COUNT(*) FROM guacamole_connection"), "0");
    assert_eq!(
        db.sql("SELECT connection_group_name FROM guacamole_connection_group"),
        "Projects"
    );
    let (_, idrac) = site.admin("GET", "/idrac/bms01", None);
    let vnc = find_vnc(&serde_json::from_str(&idrac).unwrap()).unwrap();
    assert_eq!(vnc["enabled"], false, "a released server's console is off");
}

#[test]
fn consoles_on_mariadb() {
    consoles(GuacFlavor::MariaDb);
}

#[test]
fn consoles_on_postgres() {
    consoles(GuacFlavor::Postgres);
}

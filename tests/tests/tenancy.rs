//! Tenancy with the real terraform: an operator and users with their own
//! certificates. Outsiders see nothing of another tenant's project, members
//! read but do not change, managers change but do not hand the project
//! over, quotas hold under `-parallelism=20`, a revoked identity is refused
//! on its next plan, and the audit trail records every change without a
//! secret.

#![allow(clippy::unwrap_used)] // test helpers may panic: that is how a test fails

use giif_tests::agent::Identity;
use giif_tests::guacamole_db::{GuacFlavor, GuacamoleDb};
use giif_tests::site::TestSite;
use giif_tests::terraform::{Run, Workspace};

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

[floating_ips]
addresses = ["203.0.113.100-203.0.113.101"]
"#;

/// A connection password: it must reach Guacamole and nowhere else.
const CANARY: &str = "canary-secret-41f7c2";

/// `days` from today, as YYYY-MM-DD.
fn date_in(days: i64) -> String {
    let today = time::OffsetDateTime::now_utc().date() + time::Duration::days(days);
    today
        .format(time::macros::format_description!("[year]-[month]-[day]"))
        .unwrap()
}

struct Alpha<'a> {
    owner: &'a str,
    members: &'a str,
    expires_on: String,
    cores: u32,
}

impl Default for Alpha<'_> {
    fn default() -> Self {
        Self {
            owner: "",
            members: r#"{ user = "carol", role = "member" }, { user = "dave", role = "manager" }"#,
            expires_on: date_in(30),
            cores: 1,
        }
    }
}

/// Alice's project with one of everything.
fn alpha(a: &Alpha) -> String {
    let owner = if a.owner.is_empty() {
        String::new()
    } else {
        format!("owner = \"{}\"", a.owner)
    };
    format!(
        r#"
resource "giif_project" "alpha" {{
  name       = "alpha"
  expires_on = "{expires}"
  {owner}
  members    = [{members}]
}}

resource "giif_pagw" "gw" {{
  project_id = giif_project.alpha.id
}}

resource "giif_vm" "web" {{
  project_id = giif_project.alpha.id
  name       = "web"
  template   = "debian-12"
  cores      = {cores}
  memory_mb  = 1024
}}

resource "giif_bms_assignment" "node" {{
  project_id = giif_project.alpha.id
  bms        = "bms01"
  depends_on = [giif_pagw.gw]
}}

resource "giif_floating_ip" "web" {{
  project_id = giif_project.alpha.id
  target_ip  = "192.168.212.140"
  depends_on = [giif_pagw.gw]
}}

resource "giif_guacamole_connection" "jump" {{
  name       = "jump"
  project_id = giif_project.alpha.id
  protocol   = "ssh"
  hostname   = "192.168.212.150"
  password   = "{CANARY}"
}}

resource "giif_guacamole_connection" "console" {{
  name        = "web console"
  project_id  = giif_project.alpha.id
  protocol    = "vnc"
  resource_id = giif_vm.web.id
}}

output "ids" {{
  value = {{
    project = giif_project.alpha.id
    vm      = giif_vm.web.id
    server  = giif_bms_assignment.node.id
    fip     = giif_floating_ip.web.id
    gateway = giif_pagw.gw.id
    jump    = giif_guacamole_connection.jump.id
  }}
}}
"#,
        expires = a.expires_on,
        members = a.members,
        cores = a.cores,
    )
}

/// A workspace acting as `who` holding a copy of `from`'s state.
fn copy_of(site: &TestSite, who: &Identity, from: &Workspace, config: &str) -> Workspace {
    let ws = Workspace::with_env(site.agent.env_as(who), config);
    std::fs::copy(
        from.path().join("terraform.tfstate"),
        ws.path().join("terraform.tfstate"),
    )
    .unwrap();
    ws
}

fn failed(run: Run) -> String {
    assert!(!run.success, "expected a failure:\n{}", run.all());
    run.flat()
}

/// The agent's ListObjects and RunAction, as Terraform's list resources and
/// actions call them: an outsider lists none of a project's objects and
/// cannot act on them; the owner lists them all.
async fn listings_and_actions_stay_in_their_projects(
    agent: &giif_tests::agent::TestAgent,
    owner: &Identity,
    outsider: &Identity,
    ids: &serde_json::Value,
) {
    use giif_proto::agent as api;
    let deadline = std::time::Duration::from_secs(30);
    let kinds = [
        api::ObjectKind::Project,
        api::ObjectKind::Gateway,
        api::ObjectKind::Vm,
        api::ObjectKind::BmsAssignment,
        api::ObjectKind::FloatingIp,
        api::ObjectKind::GuacamoleConnection,
    ];
    let list = |kind: api::ObjectKind, project: &str| api::ListObjectsRequest {
        kind: kind.into(),
        project: project.into(),
        name: String::new(),
    };
    let (theirs, outside) = (
        agent.client_as(owner).await,
        agent.client_as(outsider).await,
    );
    for kind in kinds {
        let seen = outside
            .list_objects(list(kind, ""), deadline)
            .await
            .unwrap();
        assert!(seen.objects.is_empty(), "{kind:?}: {:?}", seen.objects);
        let all = theirs.list_objects(list(kind, ""), deadline).await.unwrap();
        assert!(!all.objects.is_empty(), "{kind:?}");
    }
    let hidden = outside
        .list_objects(list(api::ObjectKind::Vm, "alpha"), deadline)
        .await
        .unwrap_err();
    assert!(hidden.is_not_found(), "{hidden}");
    let power = api::RunActionRequest {
        request_id: "tenancy-power".into(),
        action: Some(api::run_action_request::Action::ServerPower(
            api::ServerPowerAction {
                server: ids["server"].as_str().unwrap().into(),
                change: api::PowerChange::Off.into(),
            },
        )),
    };
    let refused = outside.run_action(power, deadline).await.unwrap_err();
    assert!(refused.is_not_found(), "{refused}");
}

#[test]
fn tenants_see_and_change_only_what_their_roles_allow() {
    let db = GuacamoleDb::start(GuacFlavor::Postgres);
    for user in ["alice", "bob", "carol", "dave", "erin"] {
        db.add_user(user);
    }
    let site =
        TestSite::start_configured(SITE, Some(&db.url()), "[tenancy]\nmax_project_days = 60\n");
    let agent = &site.agent;
    let alice = agent.issue_identity("alice", "user");
    let bob = agent.issue_identity("bob", "user");
    let carol = agent.issue_identity("carol", "user");
    let dave = agent.issue_identity("dave", "user");

    // Alice makes a project with one of everything; she owns it.
    let owned = Workspace::with_env(agent.env_as(&alice), &alpha(&Alpha::default()));
    owned.apply();
    let ids = owned.outputs()["ids"]["value"].clone();
    let project_id = ids["project"].as_str().unwrap().to_string();
    assert!(owned.plan_is_empty().0);

    // Users keep projects at most max_project_days; an operator may go further.
    owned.write(&alpha(&Alpha {
        expires_on: date_in(90),
        ..Alpha::default()
    }));
    let refused = failed(owned.run(&["apply", "-auto-approve", "-input=false"]));
    assert!(refused.contains("permission denied"), "{refused}");
    assert!(
        refused.contains("may set expires_on at most 60 days from today"),
        "{refused}"
    );
    owned.write(&alpha(&Alpha::default()));

    // Bob, an outsider: his data sources do not show alice's server or slot...
    let outsider = Workspace::with_env(
        agent.env_as(&bob),
        r#"
data "giif_bms_inventory" "all" {}
data "giif_pagw_slots" "all" {}
output "servers" { value = data.giif_bms_inventory.all.servers[*].name }
output "slots" { value = [for s in data.giif_pagw_slots.all.slots : s.public_ip] }
"#,
    );
    outsider.apply();
    let seen = outsider.outputs();
    assert_eq!(seen["servers"]["value"], serde_json::json!(["bms02"]));
    assert_eq!(seen["slots"]["value"], serde_json::json!(["203.0.113.11"]));
    // (bob's own gateway later takes that slot, and gives it back.)

    // ...her project does not exist for him, by name or by id...
    let by_name = Workspace::with_env(
        agent.env_as(&bob),
        r#"data "giif_project" "alpha" { name = "alpha" }"#,
    );
    let hidden = failed(by_name.run(&["plan", "-input=false"]));
    assert!(hidden.contains("No project named \"alpha\""), "{hidden}");
    let import = Workspace::with_env(
        agent.env_as(&bob),
        r#"
resource "giif_project" "p" { name = "alpha" }
resource "giif_pagw" "gw" { project_id = "x" }
resource "giif_vm" "web" {
  project_id = "x"
  name       = "web"
  template   = "debian-12"
}
resource "giif_bms_assignment" "node" {
  project_id = "x"
  bms        = "bms01"
}
resource "giif_floating_ip" "web" { project_id = "x" }
resource "giif_guacamole_connection" "jump" {
  name       = "jump"
  project_id = "x"
  protocol   = "ssh"
  hostname   = "192.168.212.150"
}
"#,
    );
    for (address, id) in [
        ("giif_project.p", "project"),
        ("giif_pagw.gw", "gateway"),
        ("giif_vm.web", "vm"),
        ("giif_bms_assignment.node", "server"),
        ("giif_floating_ip.web", "fip"),
        ("giif_guacamole_connection.jump", "jump"),
    ] {
        let id = ids[id].as_str().unwrap();
        let refused = failed(import.run(&["import", "-input=false", address, id]));
        assert!(refused.contains("Cannot import"), "{address}: {refused}");
    }

    // ...a listing (`terraform query`) shows him none of it, and an action
    // on her server finds nothing...
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(listings_and_actions_stay_in_their_projects(
            agent, &alice, &bob, &ids,
        ));

    // ...he cannot put anything into it...
    let intrude = Workspace::with_env(
        agent.env_as(&bob),
        &format!(
            r#"resource "giif_vm" "mine" {{
  project_id = "{project_id}"
  name       = "mine"
  template   = "debian-12"
}}"#
        ),
    );
    let intruded = failed(intrude.run(&["apply", "-auto-approve", "-input=false"]));
    assert!(intruded.contains("is visible to you"), "{intruded}");

    // ...nor point a console of his own project at her VM or outside his subnet.
    let consoles = Workspace::with_env(
        agent.env_as(&bob),
        &format!(
            r#"
resource "giif_project" "beta" {{
  name       = "beta"
  expires_on = "{expires}"
}}

resource "giif_guacamole_connection" "theirs" {{
  name        = "their vm"
  project_id  = giif_project.beta.id
  protocol    = "vnc"
  resource_id = "{vm}"
}}

resource "giif_pagw" "beta" {{
  project_id = giif_project.beta.id
}}

resource "giif_bms_assignment" "theirs" {{
  project_id = giif_project.beta.id
  bms        = "bms01"
  depends_on = [giif_pagw.beta]
}}

resource "giif_guacamole_connection" "outside" {{
  name       = "outside"
  project_id = giif_project.beta.id
  protocol   = "ssh"
  hostname   = "10.20.30.40"
}}
"#,
            expires = date_in(30),
            vm = ids["vm"].as_str().unwrap(),
        ),
    );
    let targets = failed(consoles.run(&["apply", "-auto-approve", "-input=false"]));
    assert!(
        targets.contains("it is not one of the project's VMs or servers"),
        "{targets}"
    );
    assert!(
        targets.contains("users reach only addresses in the project subnet 192.168.212.0/24"),
        "{targets}"
    );
    assert!(
        targets.contains("server bms01 is assigned to another project"),
        "{targets}"
    );
    assert!(
        !targets.contains("alpha"),
        "another tenant's project is named: {targets}"
    );
    consoles.ok(&["destroy", "-auto-approve", "-input=false"]);

    // ...and with a copy of her state, he neither changes nor destroys anything,
    // nor learns her project's id from the name clash.
    let stolen = copy_of(
        &site,
        &bob,
        &owned,
        &alpha(&Alpha {
            cores: 2,
            ..Alpha::default()
        }),
    );
    let clash = failed(stolen.run(&["apply", "-auto-approve", "-input=false"]));
    assert!(clash.contains("already exists"), "{clash}");
    let error = clash.split("Error:").nth(1).unwrap_or_default();
    assert!(!error.contains(&project_id), "{clash}");
    stolen.ok(&["destroy", "-auto-approve", "-input=false"]);
    assert!(owned.plan_is_empty().0, "alice's objects changed under bob");

    // Carol, a member: she plans, but she cannot apply a change.
    let member = copy_of(&site, &carol, &owned, &alpha(&Alpha::default()));
    assert!(member.plan_is_empty().0);
    member.write(&alpha(&Alpha {
        cores: 2,
        ..Alpha::default()
    }));
    assert!(!member.plan_is_empty().0);
    let denied = failed(member.run(&["apply", "-auto-approve", "-input=false"]));
    assert!(
        denied.contains("Cannot update the VM: permission denied"),
        "{denied}"
    );
    assert!(
        denied.contains("carol (user) may not change a VM (UpdateVm)"),
        "{denied}"
    );
    assert!(
        denied.contains("Only the project's owner, its managers and the operators may"),
        "{denied}"
    );

    // Dave, a manager: he adds a member, but he cannot make himself the owner.
    let manager = copy_of(
        &site,
        &dave,
        &owned,
        &alpha(&Alpha {
            members: r#"{ user = "carol", role = "member" }, { user = "dave", role = "manager" }, { user = "erin", role = "member" }"#,
            ..Alpha::default()
        }),
    );
    manager.apply();
    manager.write(&alpha(&Alpha {
        owner: "dave",
        members: r#"{ user = "carol", role = "member" }, { user = "dave", role = "manager" }, { user = "erin", role = "member" }"#,
        ..Alpha::default()
    }));
    let handover = failed(manager.run(&["apply", "-auto-approve", "-input=false"]));
    assert!(
        handover.contains("dave (user) may not change the owner of project"),
        "{handover}"
    );

    // A revoked identity is refused on its next plan.
    let revoked = agent.cli(&["identity", "revoke", "bob"]);
    assert!(revoked.status.success(), "{revoked:?}");
    let refused = failed(outsider.run(&["plan", "-input=false"]));
    assert!(refused.contains("was revoked"), "{refused}");

    // The audit trail: every change of the run, by whom, with the device
    // actions it caused; never the canary.
    let audit = agent.cli(&["audit"]);
    assert!(audit.status.success());
    let audit = String::from_utf8(audit.stdout).unwrap();
    for (who, rpc, outcome) in [
        ("alice", "CreateProject", "ok"),
        ("alice", "CreateGateway", "ok"),
        ("alice", "CreateVm", "ok"),
        ("alice", "CreateBmsAssignment", "ok"),
        ("alice", "CreateFloatingIp", "ok"),
        ("alice", "CreateGuacamoleConnection", "ok"),
        ("alice", "UpdateProject", "refused"),
        ("bob", "CreateVm", "refused"),
        ("bob", "CreateProject", "failed"),
        ("carol", "UpdateVm", "refused"),
        ("dave", "UpdateProject", "ok"),
        ("dave", "UpdateProject", "refused"),
    ] {
        assert!(
            audit.lines().any(|line| line.contains(&format!(" {who} "))
                && line.contains(&format!(" {rpc} "))
                && line.contains(&format!("  {outcome}"))),
            "no audit record of {who} {rpc} {outcome}:\n{audit}"
        );
    }
    let vm_record = audit
        .lines()
        .position(|line| line.contains(" CreateVm ") && line.ends_with("  ok"))
        .unwrap();
    let first_action = audit.lines().nth(vm_record + 1).unwrap();
    assert!(
        first_action.contains("pve:pve1") && first_action.contains("/clone"),
        "CreateVm's device actions are missing: {:?}",
        audit.lines().skip(vm_record).take(3).collect::<Vec<_>>()
    );
    assert!(!audit.contains(CANARY), "the audit trail holds a secret");
    assert!(
        !agent.log().contains(CANARY),
        "the agent log holds a secret"
    );
    let carols = agent.cli(&["audit", "--principal", "carol"]);
    let carols = String::from_utf8(carols.stdout).unwrap();
    assert!(carols
        .lines()
        .filter(|l| !l.starts_with(' '))
        .all(|l| l.contains(" carol ")));
    assert!(!carols.is_empty());

    // Alice still has it all, with the member dave added.
    owned.write(&alpha(&Alpha {
        members: r#"{ user = "carol", role = "member" }, { user = "dave", role = "manager" }, { user = "erin", role = "member" }"#,
        ..Alpha::default()
    }));
    assert!(
        owned.plan_is_empty().0,
        "alice's objects changed under others"
    );
    let list = agent.cli(&["identity", "list"]);
    let list = String::from_utf8(list.stdout).unwrap();
    assert!(
        list.lines()
            .any(|l| l.starts_with("bob ") && l.contains("revoked")),
        "{list}"
    );
    assert!(
        list.lines()
            .any(|l| l.starts_with("operator ") && l.contains("valid")),
        "{list}"
    );
}

#[test]
fn a_quota_holds_under_parallel_applies_on_sqlite() {
    quota_under_parallel_applies(&TestSite::start(SITE));
}

#[test]
fn a_quota_holds_under_parallel_applies_on_postgres() {
    let postgres = giif_tests::postgres::TestPostgres::start();
    quota_under_parallel_applies(&TestSite::start_on_store(SITE, postgres.database("quotas")));
}

fn quota_under_parallel_applies(site: &TestSite) {
    let agent = &site.agent;
    let alice = agent.issue_identity("alice", "user");
    let set = agent.cli(&["quota", "set", "alice", "--projects", "5", "--vcpus", "4"]);
    assert!(set.status.success(), "{set:?}");

    let ws = Workspace::with_env(
        agent.env_as(&alice),
        r#"resource "giif_project" "base" { name = "base" }"#,
    );
    ws.apply();
    ws.write(
        r#"
resource "giif_project" "base" { name = "base" }

resource "giif_project" "many" {
  count = 8
  name  = "many-${count.index}"
}

resource "giif_vm" "vm" {
  count      = 6
  project_id = giif_project.base.id
  name       = "vm-${count.index}"
  template   = "debian-12"
  cores      = 1
}
"#,
    );
    let run = ws.run(&["apply", "-auto-approve", "-input=false", "-parallelism=20"]);
    let text = failed(run);
    let projects = text.matches("quota projects of alice is 5").count();
    let vcpus = text.matches("quota vcpus of alice is 4").count();
    assert_eq!((projects, vcpus), (4, 2), "{text}");
    assert!(
        text.contains("ask an operator to raise it: giif-agent quota set alice --projects N"),
        "{text}"
    );

    let shown = agent.cli(&["quota", "show", "alice"]);
    let shown = String::from_utf8(shown.stdout).unwrap();
    let used = |kind: &str| {
        shown
            .lines()
            .find(|l| l.starts_with(kind))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap()
            .to_string()
    };
    assert_eq!(
        (used("projects"), used("vcpus"), used("vms")),
        ("5".into(), "4".into(), "4".into()),
        "{shown}"
    );

    // The operator raises the quota: the same apply finishes.
    let raised = agent.cli(&["quota", "set", "alice", "--projects", "9", "--vcpus", "6"]);
    assert!(raised.status.success());
    ws.ok(&["apply", "-auto-approve", "-input=false", "-parallelism=20"]);
    assert!(ws.plan_is_empty().0);
}

//! Fault injection with the real binaries: the agent is SIGKILLed while a
//! device step is in flight (the simulator holds it), and must finish what
//! it started on its own; Terraform rides over a killed agent; a destroy
//! right after an apply never finds a parent still holding its children;
//! Ctrl-C during a destroy leaves nothing half done; two agents on one
//! PostgreSQL share the work and take over a killed one's operations.
//!
//! `make chaos` runs more rounds (`GIIF_CHAOS_ROUNDS`) and writes each
//! scenario's outcome to `GIIF_CHAOS_REPORT`, from which
//! `docs/reliability.md` is made; `make test` runs one round.

#![allow(clippy::unwrap_used)] // test helpers may panic: that is how a test fails

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use giif_proto::agent as api;
use giif_tests::agent::TestAgent;
use giif_tests::postgres::TestPostgres;
use giif_tests::site::{pagw_slots, TestSite};
use giif_tests::terraform::Workspace;

fn site() -> String {
    r#"
[servers]
count = 4

[proxmox]
task_duration_ms = 30
nodes = [{ name = "pve1" }, { name = "pve2" }]
templates = [
  { vmid = 9000, name = "pagw-template", node = "pve1", pagw = true },
  { vmid = 9001, name = "debian-12", node = "pve1" },
]

[floating_ips]
addresses = ["203.0.113.100-203.0.113.103"]
"#
    .to_string()
        + &pagw_slots(4)
}

/// Short leases, so a killed replica's operations pass on in seconds.
const AGENT_TOML: &str = "[operations]\nlease_seconds = 3\nresume_seconds = 1\n";

fn rounds() -> usize {
    std::env::var("GIIF_CHAOS_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

/// One scenario's line in the reliability report.
struct Outcome {
    scenario: &'static str,
    faults: usize,
    completed: usize,
    leaks: usize,
}

impl Outcome {
    /// Appends the outcome to `GIIF_CHAOS_REPORT` (JSON lines), when set.
    fn report(&self) {
        let Ok(path) = std::env::var("GIIF_CHAOS_REPORT") else {
            return;
        };
        let line = serde_json::json!({
            "scenario": self.scenario,
            "faults": self.faults,
            "completed": self.completed,
            "leaks": self.leaks,
        });
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        writeln!(file, "{line}").unwrap();
    }
}

// --- the simulator's hold knob ------------------------------------------

fn hold(site: &TestSite, endpoint: &str, line: &str) {
    let body = serde_json::json!({ "hold": line }).to_string();
    let (status, answer) = site.admin("PUT", &format!("/faults/{endpoint}"), Some(&body));
    assert_eq!(status, 200, "{answer}");
}

fn let_go(site: &TestSite, endpoint: &str) {
    let (status, answer) = site.admin("PUT", &format!("/faults/{endpoint}"), Some("{}"));
    assert_eq!(status, 200, "{answer}");
}

/// Waits until the simulator holds a request of `endpoint`.
fn wait_until_held(site: &TestSite, endpoint: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, body) = site.admin("GET", "/holds", None);
        let held: BTreeMap<String, Vec<String>> = serde_json::from_str(&body).unwrap();
        if held.get(endpoint).is_some_and(|lines| !lines.is_empty()) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "nothing was held at {endpoint}; agent log:\n{}",
            site.agent.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

// --- what the site and the journal hold ------------------------------------

/// The simulated cluster's VMs that are not templates: name → count.
fn sim_vms(site: &TestSite) -> BTreeMap<String, usize> {
    let mut names = BTreeMap::new();
    for vm in site.state()["pve"]["vms"].as_array().unwrap() {
        if vm["template"] != true {
            *names
                .entry(vm["name"].as_str().unwrap_or("").to_string())
                .or_default() += 1;
        }
    }
    names
}

/// VMs on the site beyond `expected` (by name), and names present twice.
fn leaks(site: &TestSite, expected: &[&str]) -> usize {
    let vms = sim_vms(site);
    let extra = vms
        .iter()
        .filter(|(name, _)| !expected.contains(&name.as_str()))
        .count();
    let doubled: usize = vms.values().map(|n| n.saturating_sub(1)).sum();
    let missing = expected.iter().filter(|n| !vms.contains_key(**n)).count();
    assert_eq!(
        missing, 0,
        "VMs missing from the site: {vms:?}, wanted {expected:?}"
    );
    extra + doubled
}

/// Waits until `giif-agent operations list` shows nothing queued, running
/// or failed.
fn wait_until_journal_settled(agent: &TestAgent) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let out = agent.cli(&["operations", "list"]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if text.contains("No operation is queued, running or failed.") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the journal did not settle:\n{text}\nagent log:\n{}",
            agent.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn call_in_background<F>(work: F) -> tokio::task::JoinHandle<()>
where
    F: std::future::Future + Send + 'static,
{
    tokio::spawn(async move {
        let _ = work.await;
    })
}

const SHORT: Duration = Duration::from_secs(2);

/// Kills the agent while the simulator holds the step `line` of
/// `endpoint` that `start` set off, lets the step go, and starts the
/// agent again; no client calls it again.
async fn kill_during<F>(site: &mut TestSite, endpoint: &str, line: &str, start: F)
where
    F: std::future::Future + Send + 'static,
{
    hold(site, endpoint, line);
    let call = call_in_background(start);
    wait_until_held(site, endpoint);
    site.agent.kill();
    call.abort();
    let_go(site, endpoint);
    site.agent.start_again();
    wait_until_journal_settled(&site.agent);
}

/// Each operation's agent is killed mid-step; after a restart the agent
/// finishes it by itself: gateway and VM created, a server released and a
/// floating IP given back, nothing doubled or left over.
#[tokio::test(flavor = "multi_thread")]
async fn operations_killed_mid_step_finish_on_their_own() {
    let mut site = TestSite::start_configured(&site(), None, AGENT_TOML);
    let mut faults = 0;
    let mut completed = 0;
    let mut leaked = 0;
    for round in 0..rounds() {
        let client = site.agent.client().await;
        let name = format!("chaos{round}");
        let project = client
            .create_project(
                api::CreateProjectRequest {
                    request_id: format!("p-{round}"),
                    spec: Some(api::ProjectSpec {
                        name: name.clone(),
                        ..Default::default()
                    }),
                },
                SHORT,
            )
            .await
            .unwrap();

        // A gateway create, killed while its VM is being cloned.
        let (c, project_id) = (client.clone(), project.id.clone());
        kill_during(&mut site, "pve", "/clone", async move {
            c.create_gateway(
                api::CreateGatewayRequest {
                    request_id: format!("gw-{project_id}"),
                    spec: Some(api::GatewaySpec {
                        project_id,
                        ..Default::default()
                    }),
                    wait_seconds: 1,
                },
                SHORT,
            )
            .await
        })
        .await;
        let client = site.agent.client().await;
        let gateway = client.get_gateway(&project.id, false, SHORT).await.unwrap();
        assert_eq!(gateway.status, "ready", "{gateway:?}");
        // The resumed operation is in the audit trail with what it did.
        let audit = site.agent.cli(&["audit"]);
        let audit = String::from_utf8_lossy(&audit.stdout).to_string();
        assert!(
            audit.contains("ResumeGateway") && audit.contains(&gateway.id),
            "{audit}"
        );
        faults += 1;
        completed += 1;

        // A VM create, killed while the VM is being started.
        let (c, project_id) = (client.clone(), project.id.clone());
        kill_during(&mut site, "pve", "/status/start", async move {
            c.create_vm(
                api::CreateVmRequest {
                    request_id: format!("vm-{project_id}"),
                    spec: Some(api::VmSpec {
                        project_id,
                        name: "web".into(),
                        template: "debian-12".into(),
                        cores: 1,
                        memory_mb: 1024,
                        disk_gb: 10,
                        power_state: "on".into(),
                        ..Default::default()
                    }),
                    wait_seconds: 1,
                },
                SHORT,
            )
            .await
        })
        .await;
        let client = site.agent.client().await;
        let vm = client
            .get_vm(&format!("{name}/web"), false, SHORT)
            .await
            .unwrap_or_else(|e| panic!("{e:?}\nagent log:\n{}", site.agent.log()));
        assert_eq!(vm.status, "ready", "{vm:?}");
        let live = client.get_vm(&vm.id, true, SHORT).await.unwrap();
        assert_eq!(live.spec.unwrap().power_state, "on");
        faults += 1;
        completed += 1;

        // A server assigned, then its release killed while it powers off.
        let bms = format!("bms{:02}", round % 4 + 1);
        let assignment = client
            .create_bms_assignment(
                api::CreateBmsAssignmentRequest {
                    request_id: format!("bms-{}", project.id),
                    spec: Some(api::BmsAssignmentSpec {
                        project_id: project.id.clone(),
                        bms: bms.clone(),
                        power_state: "on".into(),
                        release: Some(api::BmsRelease {
                            power_off: true,
                            eject_media: true,
                            reset: "none".into(),
                            erase: false,
                        }),
                        ..Default::default()
                    }),
                    wait_seconds: 60,
                },
                Duration::from_secs(70),
            )
            .await
            .unwrap();
        assert_eq!(assignment.status, "ready", "{assignment:?}");
        let (c, id) = (client.clone(), assignment.id.clone());
        kill_during(
            &mut site,
            &format!("idrac:{bms}"),
            "powerdown",
            async move {
                c.delete_bms_assignment(
                    api::DeleteBmsAssignmentRequest {
                        request_id: format!("release-{id}"),
                        id,
                    },
                    SHORT,
                )
                .await
            },
        )
        .await;
        let client = site.agent.client().await;
        assert!(client
            .get_bms_assignment(&assignment.id, false, SHORT)
            .await
            .unwrap_err()
            .is_not_found());
        let free = client
            .list_bms(
                api::ListBmsRequest {
                    state: "free".into(),
                    tag: String::new(),
                },
                SHORT,
            )
            .await
            .unwrap();
        let server = free
            .servers
            .iter()
            .find(|s| s.name == bms)
            .expect("the server is free again");
        let gateway_vm = site.vm_config(u64::from(gateway.vmid)).unwrap();
        assert!(
            !gateway_vm.contains(&format!("tag={}", server.vlan)),
            "the server's NIC is still on the gateway: {gateway_vm}"
        );
        let idrac = site.admin("GET", &format!("/idrac/{bms}"), None).1;
        assert!(idrac.contains("\"power\":\"off\""), "{idrac}");
        faults += 1;
        completed += 1;

        // A floating IP's release, killed while the gateway is reconfigured.
        let floating = client
            .create_floating_ip(
                api::CreateFloatingIpRequest {
                    request_id: format!("fip-{}", project.id),
                    spec: Some(api::FloatingIpSpec {
                        project_id: project.id.clone(),
                        address: String::new(),
                        target_ip: Some("192.168.212.140".into()),
                    }),
                },
                Duration::from_secs(30),
            )
            .await
            .unwrap();
        let slot = gateway.public_ip.clone();
        let (c, id) = (client.clone(), floating.id.clone());
        kill_during(
            &mut site,
            &format!("pagw:{slot}"),
            "giif-pagw-apply",
            async move {
                c.delete_floating_ip(
                    api::DeleteFloatingIpRequest {
                        request_id: format!("fip-release-{id}"),
                        id,
                    },
                    SHORT,
                )
                .await
            },
        )
        .await;
        let client = site.agent.client().await;
        assert!(client
            .get_floating_ip(&floating.id, false, SHORT)
            .await
            .unwrap_err()
            .is_not_found());
        let rules = site.admin("GET", &format!("/pagw/{slot}"), None).1;
        assert!(!rules.contains(&floating.address), "{rules}");
        faults += 1;
        completed += 1;

        let gateway_name = format!("pagw-{name}");
        leaked += leaks(&site, &[gateway_name.as_str(), "web"]);
        // Leave the site empty for the next round.
        client
            .delete_vm(
                api::DeleteVmRequest {
                    request_id: format!("vm-del-{}", vm.id),
                    id: vm.id.clone(),
                },
                Duration::from_secs(60),
            )
            .await
            .unwrap();
        client
            .delete_gateway(
                api::DeleteGatewayRequest {
                    request_id: format!("gw-del-{}", gateway.id),
                    id: gateway.id.clone(),
                },
                Duration::from_secs(60),
            )
            .await
            .unwrap();
        leaked += leaks(&site, &[]);
    }
    Outcome {
        scenario: "agent SIGKILLed mid-step (gateway create, VM create, server release, floating IP release), restarted, no client retry",
        faults,
        completed,
        leaks: leaked,
    }
    .report();
    assert_eq!(leaked, 0);
}

fn lab(rounds: usize) -> String {
    let mut config = String::new();
    for n in 0..rounds {
        config.push_str(&format!(
            r#"
resource "giif_project" "p{n}" {{
  name = "lab{n}"
}}

resource "giif_pagw" "p{n}" {{
  project_id = giif_project.p{n}.id
}}

resource "giif_vm" "p{n}" {{
  project_id = giif_project.p{n}.id
  name       = "desk"
  template   = "debian-12"
}}

resource "giif_bms_assignment" "p{n}" {{
  project_id = giif_project.p{n}.id
  bms        = "bms{bms:02}"
  depends_on = [giif_pagw.p{n}]
}}

resource "giif_floating_ip" "p{n}" {{
  project_id = giif_project.p{n}.id
  target_ip  = "192.168.212.140"
  depends_on = [giif_pagw.p{n}]
}}
"#,
            bms = n + 1
        ));
    }
    config
}

/// Terraform's apply goes on through a killed agent: the provider repeats
/// the calls whose answers were lost, under their request ids, and the
/// next plan is empty. Then the whole lab is destroyed right after each
/// apply, many times: never "still holds".
#[tokio::test(flavor = "multi_thread")]
async fn terraform_rides_over_a_killed_agent_and_destroys_right_after_apply() {
    let mut site = TestSite::start_configured(&site(), None, AGENT_TOML);
    let ws = Workspace::new(&site.agent, &lab(1));
    let mut faults = 0;
    for _ in 0..rounds() {
        hold(&site, "pve", "/clone");
        let apply = ws.spawn(&["apply", "-auto-approve", "-input=false"]);
        wait_until_held(&site, "pve");
        site.agent.kill();
        let_go(&site, "pve");
        site.agent.start_again();
        let done = apply.wait_with_output().unwrap();
        assert!(
            done.status.success(),
            "apply failed:\n{}\n{}\nagent log:\n{}",
            String::from_utf8_lossy(&done.stdout),
            String::from_utf8_lossy(&done.stderr),
            site.agent.log()
        );
        faults += 1;
        let (empty, run) = ws.plan_is_empty();
        assert!(empty, "{}", run.all());
        assert_eq!(leaks(&site, &["pagw-lab0", "desk"]), 0);
        ws.ok(&["destroy", "-auto-approve", "-input=false"]);
        assert_eq!(leaks(&site, &[]), 0);
    }
    Outcome {
        scenario: "agent SIGKILLed during terraform apply (gateway clone held); apply completes, next plan empty",
        faults,
        completed: faults,
        leaks: 0,
    }
    .report();

    let ws = Workspace::new(&site.agent, &lab(2));
    let rounds = rounds() * 2;
    for _ in 0..rounds {
        ws.apply();
        let destroy = ws.run(&["destroy", "-auto-approve", "-input=false"]);
        assert!(
            destroy.success,
            "destroy right after apply failed:\n{}",
            destroy.all()
        );
        assert_eq!(leaks(&site, &[]), 0);
    }
    Outcome {
        scenario: "whole lab (2 projects: gateway, VM, server, floating IP each) destroyed right after its apply",
        faults: 0,
        completed: rounds,
        leaks: 0,
    }
    .report();
}

/// Ctrl-C while Terraform destroys: the deletes under way finish in the
/// agent, and the next destroy finds nothing half done.
#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_during_a_destroy_leaves_nothing_half_done() {
    let site = TestSite::start_configured(&site(), None, AGENT_TOML);
    let ws = Workspace::new(&site.agent, &lab(1));
    for _ in 0..rounds() {
        ws.apply();
        hold(&site, "pve", "DELETE /api2/json/nodes/");
        let destroy = ws.spawn(&["destroy", "-auto-approve", "-input=false"]);
        wait_until_held(&site, "pve");
        let pid = nix::unistd::Pid::from_raw(destroy.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
        std::thread::sleep(Duration::from_millis(500));
        let_go(&site, "pve");
        let _ = destroy.wait_with_output().unwrap();
        wait_until_journal_settled(&site.agent);
        // What the interrupted destroy started is finished, not half done:
        // a second destroy removes the rest, and nothing is left.
        let again = ws.run(&["destroy", "-auto-approve", "-input=false"]);
        assert!(again.success, "{}", again.all());
        assert_eq!(leaks(&site, &[]), 0);
    }
    Outcome {
        scenario: "Ctrl-C during terraform destroy (a VM delete held), then destroy again",
        faults: rounds(),
        completed: rounds(),
        leaks: 0,
    }
    .report();
}

/// Two agents on one PostgreSQL serve two Terraform runs at once; one is
/// killed mid-run and stays down while the other takes over its
/// operations when their leases pass. No double allocation, no NIC
/// replaced, everything completes.
#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_on_postgres_share_the_work_and_take_over_a_killed_one() {
    let postgres = TestPostgres::start();
    let toml = format!("{AGENT_TOML}replica = \"a\"\n");
    let mut site = TestSite::start_on_store_configured(&site(), postgres.database("chaos"), &toml);
    let mut b = site.agent.replica("b");
    let config = |first: usize| {
        let mut config = String::new();
        for n in first..first + 2 {
            config.push_str(&format!(
                r#"
resource "giif_project" "p{n}" {{
  name = "team{n}"
}}

resource "giif_pagw" "p{n}" {{
  project_id = giif_project.p{n}.id
}}

resource "giif_bms_assignment" "p{n}" {{
  project_id = giif_project.p{n}.id
  bms         = "bms{bms:02}"
  power_state = "on"
  depends_on  = [giif_pagw.p{n}]
}}

output "p{n}" {{
  value = {{ gw = giif_pagw.p{n}, bms = giif_bms_assignment.p{n} }}
}}
"#,
                bms = n + 1
            ));
        }
        config
    };
    let ws_a = Workspace::new(&site.agent, &config(0));
    let env_b: Vec<(String, String)> = site
        .agent
        .env()
        .into_iter()
        .map(|(key, value)| match key.as_str() {
            "GIIF_ENDPOINT" => (key, b.endpoint.clone()),
            _ => (key, value),
        })
        .collect();
    let ws_b = Workspace::with_env(env_b, &config(2));

    // A's run starts and one of A's Proxmox steps is held; B's run starts,
    // and agent A is killed. A stays down until B has finished everything,
    // including the operation A had started.
    hold(&site, "pve", "/config");
    let apply_a = ws_a.spawn(&["apply", "-auto-approve", "-input=false"]);
    wait_until_held(&site, "pve");
    let apply_b = ws_b.spawn(&["apply", "-auto-approve", "-input=false"]);
    site.agent.kill();
    let_go(&site, "pve");
    let done_b = apply_b.wait_with_output().unwrap();
    assert!(
        done_b.status.success(),
        "{}\n{}\nlog of b:\n{}",
        String::from_utf8_lossy(&done_b.stdout),
        String::from_utf8_lossy(&done_b.stderr),
        b.log()
    );
    // A's operations pass to B once their leases run out.
    wait_until_journal_settled(&site.agent);
    assert!(
        b.log().contains("resuming an unfinished operation"),
        "B took nothing over:\n{}",
        b.log()
    );
    site.agent.start_again();
    let done_a = apply_a.wait_with_output().unwrap();
    assert!(
        done_a.status.success(),
        "{}\n{}\nlog of a:\n{}",
        String::from_utf8_lossy(&done_a.stdout),
        String::from_utf8_lossy(&done_a.stderr),
        site.agent.log()
    );
    assert!(ws_a.plan_is_empty().0);
    assert!(ws_b.plan_is_empty().0);

    // Four projects: four slots, four gateways, four servers, each server
    // on its own gateway's NIC, none replaced.
    let mut slots = Vec::new();
    for (ws, first) in [(&ws_a, 0), (&ws_b, 2)] {
        let outputs = ws.outputs();
        for n in first..first + 2 {
            let value = &outputs[format!("p{n}")]["value"];
            let gw_vmid = value["gw"]["vmid"].as_u64().unwrap();
            slots.push(value["gw"]["public_ip"].as_str().unwrap().to_string());
            let server = site
                .admin("GET", &format!("/idrac/bms{:02}", n + 1), None)
                .1;
            assert!(server.contains("\"power\":\"on\""), "{server}");
            let nic = value["bms"]["pagw_nic"].as_str().expect("a NIC slot");
            let vlan = value["bms"]["vlan"].as_u64().unwrap();
            let gateway_vm: serde_json::Value =
                serde_json::from_str(&site.vm_config(gw_vmid).unwrap()).unwrap();
            let plugged = gateway_vm[nic].as_str().unwrap_or_default();
            assert!(
                plugged.contains(&format!("tag={vlan}")),
                "{nic} of the gateway is not the server's: {gateway_vm}"
            );
        }
    }
    slots.sort();
    slots.dedup();
    assert_eq!(slots.len(), 4, "a slot was handed out twice: {slots:?}");
    assert_eq!(
        leaks(
            &site,
            &["pagw-team0", "pagw-team1", "pagw-team2", "pagw-team3"]
        ),
        0
    );
    b.kill();
    Outcome {
        scenario: "two agents on one PostgreSQL, two concurrent applies, one agent SIGKILLed and kept down until the other took over",
        faults: 1,
        completed: 2,
        leaks: 0,
    }
    .report();
}

/// A request id reused with other content is refused, naming the field.
#[tokio::test(flavor = "multi_thread")]
async fn a_request_id_is_bound_to_its_content() {
    let site = TestSite::start_configured(&site(), None, AGENT_TOML);
    let client = site.agent.client().await;
    let create = |name: &str| api::CreateProjectRequest {
        request_id: "same-id".into(),
        spec: Some(api::ProjectSpec {
            name: name.into(),
            ..Default::default()
        }),
    };
    let first = client.create_project(create("one"), SHORT).await.unwrap();
    let again = client.create_project(create("one"), SHORT).await.unwrap();
    assert_eq!(first.id, again.id, "a retry gets the first outcome");
    let other = client
        .create_project(create("two"), SHORT)
        .await
        .unwrap_err();
    assert_eq!(other.field, "request_id", "{other:?}");
    assert!(other.message.contains("other content"), "{other:?}");
}

/// The journal, the metrics and the health endpoints show what the agent
/// does: a failed operation is visible without SQL, counted as stuck, and
/// an operator's retry finishes it; logs come as JSON lines on request.
#[tokio::test(flavor = "multi_thread")]
async fn metrics_health_and_the_journal_show_a_stuck_operation() {
    let metrics_addr = format!("127.0.0.1:{}", giif_tests::free_port());
    let toml = format!("{AGENT_TOML}[observability]\nlisten = \"{metrics_addr}\"\n");
    let site = TestSite::start_configured(&site(), None, &toml);
    let get = |path: &str| giif_tests::site::http(&metrics_addr, "GET", path, None);
    assert_eq!(get("/healthz"), (200, "ok\n".to_string()));
    assert_eq!(get("/readyz").0, 200);

    let client = site.agent.client().await;
    let project = client
        .create_project(
            api::CreateProjectRequest {
                request_id: "p".into(),
                spec: Some(api::ProjectSpec {
                    name: "seen".into(),
                    ..Default::default()
                }),
            },
            SHORT,
        )
        .await
        .unwrap();
    // The clone fails for good: the operation is failed, and stuck.
    let (status, answer) = site.admin(
        "POST",
        "/pve/fail-next-task",
        Some(r#"{"type": "qmclone", "message": "storage full"}"#),
    );
    assert_eq!(status, 200, "{answer}");
    let request = api::CreateGatewayRequest {
        request_id: "gw".into(),
        spec: Some(api::GatewaySpec {
            project_id: project.id.clone(),
            ..Default::default()
        }),
        wait_seconds: 30,
    };
    let gateway = client
        .create_gateway(request, Duration::from_secs(40))
        .await
        .unwrap();
    assert_eq!(gateway.status, "failed", "{gateway:?}");
    let reference = format!("gateway/{}", gateway.id);
    let list = String::from_utf8_lossy(&site.agent.cli(&["operations", "list"]).stdout).to_string();
    assert!(
        list.contains(&reference) && list.contains("failed"),
        "{list}"
    );
    let show = site.agent.cli(&["operations", "show", &reference]);
    let show = String::from_utf8_lossy(&show.stdout).to_string();
    assert!(show.contains("storage full"), "{show}");
    let metrics = get("/metrics").1;
    assert!(
        metrics.contains("giif_agent_stuck_operations 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            r#"giif_agent_operation_seconds_count{kind="gateway",op="converge",outcome="failed"} 1"#
        ),
        "{metrics}"
    );

    // An operator's retry: the reconciler runs it again, and it is done.
    let retry = site.agent.cli(&["operations", "retry", &reference]);
    assert!(
        retry.status.success(),
        "{}",
        String::from_utf8_lossy(&retry.stderr)
    );
    wait_until_journal_settled(&site.agent);
    let gateway = client.get_gateway(&gateway.id, false, SHORT).await.unwrap();
    assert_eq!(gateway.status, "ready", "{gateway:?}");
    let metrics = get("/metrics").1;
    for line in [
        "giif_agent_stuck_operations 0",
        r#"giif_agent_operation_seconds_count{kind="gateway",op="converge",outcome="done"} 1"#,
        r#"giif_agent_device_call_seconds_count{device="pve",action="POST /nodes/{node}/qemu/{id}/clone",outcome="ok"} 1"#,
        r#"giif_agent_calls_total{rpc="CreateGateway",outcome="Ok"} 1"#,
        r#"giif_agent_pool_used{pool="pagw_slots"} 1"#,
        r#"giif_agent_pool_size{pool="pagw_slots"} 4"#,
    ] {
        assert!(metrics.contains(line), "no {line} in:\n{metrics}");
    }
    let unknown = site.agent.cli(&["operations", "show", "gateway/gw-none"]);
    assert!(!unknown.status.success());
    let bad = site.agent.cli(&["operations", "retry", "nonsense"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("KIND/ID"));

    // JSON logs: one object per line (a second agent on its own ports).
    let config_path = site.agent.state_dir().join("agent-json.toml");
    let mut config: toml::Table =
        std::fs::read_to_string(site.agent.state_dir().join("agent.toml"))
            .unwrap()
            .parse()
            .unwrap();
    config.insert(
        "listen".into(),
        format!("127.0.0.1:{}", giif_tests::free_port()).into(),
    );
    config.remove("observability");
    std::fs::write(&config_path, toml::to_string(&config).unwrap()).unwrap();
    let mut json = std::process::Command::new(giif_tests::binary("giif-agent"))
        .args(["serve", "--config"])
        .arg(&config_path)
        .env("GIIF_LOG_FORMAT", "json")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(json.stderr.take().unwrap()),
        &mut first,
    )
    .unwrap();
    json.kill().unwrap();
    json.wait().unwrap();
    let line: serde_json::Value = serde_json::from_str(&first)
        .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {first}"));
    assert!(
        line["level"].is_string() && line["fields"].is_object(),
        "{line}"
    );
}

/// The class lab as the demo site runs it (consoles in a real Guacamole
/// database), destroyed right after each apply: the destroy never fails on
/// a project that "still holds" a gateway or VM Terraform just destroyed,
/// and neither the site nor Guacamole keeps anything.
#[tokio::test(flavor = "multi_thread")]
async fn a_class_lab_destroyed_right_after_its_apply_leaves_nothing() {
    use giif_tests::guacamole_db::{GuacFlavor, GuacamoleDb};
    let db = GuacamoleDb::start(GuacFlavor::Postgres);
    let students = ["student01", "student02", "student03", "student04"];
    for user in ["prof.curie", "ta.joliot"].iter().chain(students.iter()) {
        db.add_user(user);
    }
    let site = TestSite::start_configured(&site(), Some(&db.url()), AGENT_TOML);
    let lab = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/modules/class-lab")
        .canonicalize()
        .unwrap();
    let list: Vec<String> = students.iter().map(|s| format!("\"{s}\"")).collect();
    let ws = Workspace::new(
        &site.agent,
        &format!(
            r#"
module "lab" {{
  source     = "{}"
  name       = "physics-101"
  instructor = "prof.curie"
  assistants = ["ta.joliot"]
  students   = [{}]
}}
"#,
            lab.display(),
            list.join(", ")
        ),
    );
    ws.ok(&["get", "-no-color"]);
    let rounds = rounds() * 2;
    for _ in 0..rounds {
        ws.apply();
        let destroy = ws.run(&["destroy", "-auto-approve", "-input=false"]);
        assert!(
            destroy.success,
            "destroy right after apply failed:\n{}",
            destroy.all()
        );
        assert_eq!(leaks(&site, &[]), 0);
        let connections = db.sql("SELECT count(*) FROM guacamole_connection");
        assert_eq!(connections.trim(), "0", "Guacamole keeps connections");
    }
    Outcome {
        scenario: "class lab (gateway, 4 student VMs with consoles, a web VM with a floating IP; Guacamole on PostgreSQL) destroyed right after its apply",
        faults: 0,
        completed: rounds,
        leaks: 0,
    }
    .report();
}

//! `giif_floating_ip` with the real terraform against giif-sim: the 1-to-1
//! NAT rule appears on the project's gateway, is re-pointed in place, is put
//! back after an out-of-band change, and goes away on destroy; and the
//! errors a user can make are diagnostics that name the fix.

#![allow(clippy::unwrap_used)] // test helpers may panic: that is how a test fails

use giif_proto::agent as api;
use giif_tests::site::TestSite;
use giif_tests::terraform::Workspace;

const SITE: &str = r#"
[proxmox]
task_duration_ms = 30
nodes = [{ name = "pve1" }]
templates = [{ vmid = 9000, name = "pagw-template", node = "pve1", pagw = true }]

[[pagw_slots]]
public_ip = "203.0.113.10"
gateway = "203.0.113.1"
host = "pve1"

[floating_ips]
addresses = ["203.0.113.100-203.0.113.101"]
"#;

fn config(floating: &str) -> String {
    format!(
        r#"
resource "giif_project" "p" {{
  name = "web"
}}

resource "giif_pagw" "gw" {{
  project_id = giif_project.p.id
}}

{floating}
"#
    )
}

fn fip(target: &str, extra: &str) -> String {
    format!(
        r#"
resource "giif_floating_ip" "web" {{
  project_id = giif_project.p.id
  target_ip  = "{target}"
{extra}
  depends_on = [giif_pagw.gw]
}}

output "fip" {{
  value = giif_floating_ip.web
}}
"#
    )
}

fn gateway_state(site: &TestSite) -> String {
    site.admin("GET", "/pagw/203.0.113.10", None).1
}

#[tokio::test(flavor = "multi_thread")]
async fn floating_ip_lifecycle() {
    let site = TestSite::start(SITE);
    let ws = Workspace::new(&site.agent, &config(&fip("192.168.212.140", "")));

    // Create: the lowest free address, NATed by the project's gateway.
    ws.apply();
    let out = ws.outputs()["fip"]["value"].clone();
    assert_eq!(out["address"], "203.0.113.100");
    assert_eq!(out["gateway_public_ip"], "203.0.113.10");
    let live = gateway_state(&site);
    assert!(
        live.contains("203.0.113.100") && live.contains("192.168.212.140"),
        "{live}"
    );
    assert!(ws.plan_is_empty().0);

    // Re-pointing is in place.
    ws.write(&config(&fip("192.168.212.141", "")));
    let (_, run) = ws.plan_is_empty();
    assert!(run.stdout.contains("update in-place"), "{}", run.stdout);
    ws.apply();
    let live = gateway_state(&site);
    assert!(
        live.contains("192.168.212.141") && !live.contains("192.168.212.140"),
        "{live}"
    );
    assert_eq!(ws.outputs()["fip"]["value"]["id"], out["id"]);

    // A rule broken on the gateway shows in the plan; apply puts it back.
    let (status, body) = site.admin("DELETE", "/pagw/203.0.113.10/dnat/203.0.113.100", None);
    assert_eq!(status, 200, "{body}");
    let (empty, run) = ws.plan_is_empty();
    assert!(!empty);
    assert!(run.stdout.contains("update in-place"), "{}", run.stdout);
    assert!(
        run.stdout.contains(r#"+ target_ip"#) && run.stdout.contains(r#""192.168.212.141""#),
        "{}",
        run.stdout
    );
    ws.apply();
    assert!(gateway_state(&site).contains("192.168.212.141"));
    assert!(ws.plan_is_empty().0);

    // Import by address.
    ws.ok(&["state", "rm", "giif_floating_ip.web"]);
    ws.ok(&["import", "giif_floating_ip.web", "203.0.113.100"]);
    assert!(ws.plan_is_empty().0);

    // Released out of band: the next plan takes an address again.
    let client = site.agent.client().await;
    client
        .delete_floating_ip(
            api::DeleteFloatingIpRequest {
                request_id: "out-of-band".into(),
                id: out["id"].as_str().unwrap().to_string(),
            },
            std::time::Duration::from_secs(30),
        )
        .await
        .unwrap();
    assert!(
        !gateway_state(&site).contains("203.0.113.100"),
        "the rule went with it"
    );
    let (_, run) = ws.plan_is_empty();
    assert!(
        run.stdout
            .contains("Plan: 1 to add, 0 to change, 0 to destroy"),
        "{}",
        run.stdout
    );
    ws.apply();

    // A specific address forces a replacement.
    ws.write(&config(&fip(
        "192.168.212.141",
        r#"  address    = "203.0.113.101""#,
    )));
    let (_, run) = ws.plan_is_empty();
    assert!(
        run.stdout.contains("# forces replacement"),
        "{}",
        run.stdout
    );
    ws.apply();
    assert!(gateway_state(&site).contains("203.0.113.101"));

    // Destroy: no rule left, the pool whole again.
    ws.ok(&["destroy", "-auto-approve"]);
    let config = giif_agent::config::AgentConfig::load(&site.agent.made.config_path).unwrap();
    let store = giif_agent::store::Store::open(&config.store_url())
        .await
        .unwrap();
    assert!(store.floating_ip("203.0.113.101").await.unwrap().is_none());
    assert!(store.floating_ip("203.0.113.100").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn floating_ip_errors_name_the_fix() {
    let site = TestSite::start(SITE);

    // Outside the project subnet: refused at plan time, on the attribute.
    let ws = Workspace::new(&site.agent, &config(&fip("10.1.2.3", "")));
    let text = ws.run(&["plan"]).flat();
    assert!(text.contains("Invalid value for target_ip"), "{text}");
    assert!(
        text.contains("outside the project subnet 192.168.212.0/24"),
        "{text}"
    );

    // In the gateway's DHCP pool: refused by the agent, naming the pool.
    ws.write(&config(&fip("192.168.212.50", "")));
    let run = ws.run(&["apply", "-auto-approve"]);
    assert!(!run.success);
    let text = run.flat();
    assert!(text.contains("Cannot create the floating IP"), "{text}");
    assert!(text.contains("DHCP"), "{text}");

    // A project without a gateway cannot NAT.
    let bare = Workspace::new(
        &site.agent,
        r#"
resource "giif_project" "q" {
  name = "nogw"
}

resource "giif_floating_ip" "x" {
  project_id = giif_project.q.id
  target_ip  = "192.168.212.140"
}
"#,
    );
    let text = bare.run(&["apply", "-auto-approve"]).flat();
    assert!(text.contains("has no gateway (PAGW)"), "{text}");
    assert!(text.contains("Add a giif_pagw for the project"), "{text}");

    // The pool holds two: the third names the pool and the fix.
    bare.write(
        r#"
resource "giif_project" "q" {
  name = "nogw"
}

resource "giif_floating_ip" "x" {
  count      = 3
  project_id = giif_project.q.id
}
"#,
    );
    let text = bare.run(&["apply", "-auto-approve"]).flat();
    assert!(
        text.contains("the floating IP pool is exhausted: all 2 addresses are held"),
        "{text}"
    );
    assert!(text.contains("[floating_ips]"), "{text}");
    bare.ok(&["destroy", "-auto-approve"]);
    ws.ok(&["destroy", "-auto-approve"]);
}

/// The provider died after the agent took an address for a target, so
/// Terraform never recorded it: the next apply finds it again.
#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_create_is_found_again() {
    let site = TestSite::start(SITE);
    let ws = Workspace::new(&site.agent, &config(""));
    ws.apply();
    let client = site.agent.client().await;
    let project = client
        .get_project(
            api::get_project_request::Key::Name("web".into()),
            std::time::Duration::from_secs(10),
        )
        .await
        .unwrap();
    let orphan = client
        .create_floating_ip(
            api::CreateFloatingIpRequest {
                request_id: "lost-with-the-provider".into(),
                spec: Some(api::FloatingIpSpec {
                    project_id: project.id,
                    address: String::new(),
                    target_ip: Some("192.168.212.140".into()),
                }),
            },
            std::time::Duration::from_secs(30),
        )
        .await
        .unwrap();
    ws.write(&config(&fip("192.168.212.140", "")));
    ws.apply();
    assert_eq!(ws.outputs()["fip"]["value"]["id"], orphan.id.as_str());
    assert_eq!(
        ws.outputs()["fip"]["value"]["address"],
        "203.0.113.100",
        "no second address was taken"
    );
    ws.ok(&["destroy", "-auto-approve"]);
}

/// A floating IP goes back to the pool only once its gateway confirmed the
/// rule is gone: while the gateway does not answer, a destroy fails, the
/// rule and the address stay, and the project still holds it.
#[tokio::test(flavor = "multi_thread")]
async fn an_address_returns_to_the_pool_only_after_its_rule_is_gone() {
    let site = TestSite::start(SITE);
    let short = "  timeouts {\n    delete = \"12s\"\n  }";
    let ws = Workspace::new(&site.agent, &config(&fip("192.168.212.140", short)));
    ws.apply();
    let held = ws.outputs()["fip"]["value"].clone();
    assert_eq!(held["address"], "203.0.113.100");

    let (status, body) = site.admin(
        "PUT",
        "/faults/pagw:203.0.113.10",
        Some(r#"{"failure_rate": 1.0}"#),
    );
    assert_eq!(status, 200, "{body}");
    ws.write(&config(""));
    let refused = ws.run(&["apply", "-auto-approve"]);
    assert!(!refused.success, "{}", refused.all());
    assert!(
        refused.flat().contains("Cannot release the floating IP"),
        "{}",
        refused.all()
    );
    assert!(
        gateway_state(&site).contains("192.168.212.140"),
        "the rule is still in force"
    );
    let client = site.agent.client().await;
    let still = client
        .get_floating_ip("203.0.113.100", false, std::time::Duration::from_secs(10))
        .await
        .expect("the address is still held");
    assert_eq!(still.id, held["id"].as_str().unwrap());

    // The gateway answers again: the same apply finishes the release, and
    // the address is the first one handed out again.
    let (status, body) = site.admin("PUT", "/faults/pagw:203.0.113.10", Some("{}"));
    assert_eq!(status, 200, "{body}");
    ws.apply();
    assert!(!gateway_state(&site).contains("192.168.212.140"));
    ws.write(&config(&fip("192.168.212.141", "")));
    ws.apply();
    assert_eq!(ws.outputs()["fip"]["value"]["address"], "203.0.113.100");
    ws.ok(&["destroy", "-auto-approve"]);
}

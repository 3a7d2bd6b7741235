//! The whole simulated site against the agent: the inventory giif-sim writes
//! is imported, drivers are built from it, every device answers, and a
//! gateway VM cloned from the PAGW template comes up, takes its
//! configuration and sees a NIC hot-plugged into it.

#![allow(clippy::unwrap_used)] // test helpers may panic: that is how a test fails

use std::collections::BTreeMap;
use std::time::Duration;

use giif_agent::check::check_site;
use giif_agent::drivers::gateway::{GatewayConfig, GatewayNics, Mac, PublicAddress};
use giif_agent::drivers::hypervisor::{CloneSpec, CloudInitUpdate, IpConfig, Nic, VmRef, VmUpdate};
use giif_agent::drivers::pagw::Credential;
use giif_agent::site::Site;
use giif_agent::store::Store;
use giif_sim::site::SiteDescription;
use giif_sim::{start, RunOptions};

const SITE: &str = r#"
[servers]
count = 2

[proxmox]
task_duration_ms = 50
nodes = [{ name = "pve1" }]
templates = [{ vmid = 9000, name = "pagw-template", node = "pve1", pagw = true }]

[[pagw_slots]]
public_ip = "203.0.113.10"
gateway = "203.0.113.1"
host = "pve1"

[floating_ips]
addresses = ["203.0.113.100-203.0.113.103"]
"#;

#[tokio::test(flavor = "multi_thread")]
async fn inventory_drivers_and_a_gateway_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let request_log = std::env::var("GIIF_PVE_REQUEST_LOG")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.path().join("pve.jsonl"));
    let sim = start(
        SiteDescription::parse("site.toml", SITE).unwrap(),
        RunOptions {
            inventory_dir: Some(dir.path().join("sim")),
            request_log: Some(request_log.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap();

    // The inventory the simulator wrote imports cleanly.
    let file = sim.inventory_file.clone().unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    let inventory =
        giif_agent::inventory::parse("site.toml", &text, file.parent().unwrap()).unwrap();
    assert_eq!(inventory.bms.len(), 2);
    let store = Store::open(&format!(
        "sqlite://{}",
        dir.path().join("agent.db").display()
    ))
    .await
    .unwrap();
    store.import_inventory(&inventory).await.unwrap();

    // Every device answers through its driver; the slot has no gateway yet.
    let site = Site::load(&store, giif_agent::drivers::retry::RetryPolicy::quick())
        .await
        .unwrap();
    let checks = check_site(&site, &store).await;
    assert_eq!(checks.len(), 4, "{checks:?}");
    for check in &checks {
        assert!(
            check.outcome.is_ok(),
            "{}: {:?}",
            check.device,
            check.outcome
        );
    }
    assert_eq!(
        checks[3].outcome.as_ref().unwrap(),
        "no gateway running in this slot"
    );

    // A gateway VM: cloned from the PAGW template, NICs tagged, the slot's
    // address given by cloud-init, started.
    let pve = site.hypervisor.clone().unwrap();
    let template = VmRef {
        node: "pve1".into(),
        vmid: 9000,
    };
    let vmid = pve.next_free_id().await.unwrap();
    let vm = pve
        .clone_vm(
            &template,
            &CloneSpec {
                vmid,
                name: "pagw-physics".into(),
                target_node: None,
                storage: None,
                full: true,
                description: Some(giif_agent::ownership::mark("gw-physics")),
            },
        )
        .await
        .unwrap()
        .vm;
    let mut nics = BTreeMap::new();
    nics.insert(0, Some(Nic::virtio("vmbr1", Some(120))));
    nics.insert(1, Some(Nic::virtio("vmbr0", None)));
    let mut ip = BTreeMap::new();
    ip.insert(
        1,
        Some(IpConfig::Static {
            address: "203.0.113.10/24".into(),
            gateway: Some("203.0.113.1".into()),
        }),
    );
    pve.update_vm(
        &vm,
        &VmUpdate {
            nics,
            // As the gateway operation does: the agent's key for the admin user.
            cloud_init: Some(CloudInitUpdate {
                user: Some("giif".into()),
                ssh_keys: Some(vec![agent_public_key(&sim)]),
                ip,
            }),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    pve.start_vm(&vm).await.unwrap();

    // The gateway comes up and takes its whole configuration.
    let gateway = site.gateways["203.0.113.10"].clone();
    let live = gateway
        .wait_until_reachable(Duration::from_secs(20))
        .await
        .unwrap();
    assert!(
        live.config.is_none(),
        "a fresh gateway has no configuration yet"
    );
    let mac = |state: &giif_agent::drivers::hypervisor::VmState, slot: u32| {
        Mac(state.nics[&slot].mac.expect("Proxmox gave the NIC a MAC").0)
    };
    let state = pve.read_vm(&vm).await.unwrap();
    let nics = GatewayNics {
        lan: mac(&state, 0),
        wan: mac(&state, 1),
        servers: BTreeMap::new(),
    };
    let mut desired = GatewayConfig::new(
        120,
        nics,
        PublicAddress {
            address: "203.0.113.10".parse().unwrap(),
            netmask: "255.255.255.0".parse().unwrap(),
            gateway: "203.0.113.1".parse().unwrap(),
        },
    );
    let report = gateway.apply(&desired).await.unwrap();
    assert!(report.changed);
    assert!(gateway.drift(&desired).await.unwrap().is_empty());

    // A server's VLAN hot-plugged into the running gateway shows as a NIC,
    // which the gateway bridges once the configuration names its MAC.
    pve.plug_nic(&vm, 2, &Nic::virtio("vmbr1", Some(3001)))
        .await
        .unwrap();
    let state = pve.read_vm(&vm).await.unwrap();
    desired.nics.servers.insert(3001, mac(&state, 2));
    assert!(gateway.apply(&desired).await.unwrap().changed);
    assert!(gateway.drift(&desired).await.unwrap().is_empty());
    let state = sim.pagw.state_json();
    let text = state.to_string();
    assert!(
        text.contains("tag=3001"),
        "the gateway should see net2: {text}"
    );

    let checks = check_site(&site, &store).await;
    assert_eq!(
        checks[3].outcome.as_ref().unwrap(),
        "gateway up, configuration in force"
    );

    // Deleting the VM takes the gateway away.
    pve.delete_vm(&vm).await.unwrap();
    let checks = check_site(&site, &store).await;
    assert_eq!(
        checks[3].outcome.as_ref().unwrap(),
        "no gateway running in this slot"
    );

    // Every Proxmox request was logged as {"method", "path", "params"}.
    let log = std::fs::read_to_string(&request_log).unwrap();
    assert!(log.lines().count() > 5);
    for line in log.lines() {
        let request: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(
            request["method"].is_string()
                && request["path"].as_str().unwrap().starts_with("/api2/json/")
        );
        assert!(request["params"].is_object());
    }
}

/// The public half of the key the simulated site's file gives the agent.
fn agent_public_key(sim: &giif_sim::RunningSite) -> String {
    let key = giif_agent::credentials::Secret::new(sim.pagw.endpoints()[0].agent_key.clone());
    Credential::key(&key).unwrap().public_key().unwrap()
}

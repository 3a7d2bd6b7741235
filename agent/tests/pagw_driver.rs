//! The PAGW driver against the simulated gateways, in-process, over the
//! real protocol (SSH exec, giif-pagw-apply/show).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use giif_agent::credentials::Secret;
use giif_agent::drivers::gateway::{
    drift, DhcpConfig, DnatRule, Gateway, GatewayConfig, GatewayNics, Mac, PublicAddress,
    WireGuardConfig, WireGuardPeer,
};
use giif_agent::drivers::host_keys::{HostKeyPins, MemoryPins};
use giif_agent::drivers::pagw::{Credential, Pagw, PagwConfig};
use giif_agent::drivers::retry::RetryPolicy;
use giif_agent::drivers::ErrorClass;
use giif_sim::events::{self, VmEvent, VmEvents};
use giif_sim::faults::{FaultKnobs, Faults};
use giif_sim::pagw::{PagwEndpoint, PagwFleet};
use giif_sim::site::SlotSpec;
use serde_json::json;

const TEMPLATE: u32 = 9000;
const IP: &str = "203.0.113.10";
const FAULTS: &str = "pagw:203.0.113.10";

struct Site {
    fleet: PagwFleet,
    events: VmEvents,
    faults: Faults,
    endpoint: PagwEndpoint,
}

async fn site() -> Site {
    let faults = Faults::default();
    faults.set(FAULTS, knobs(0, 0));
    let events = events::channel();
    let slots = vec![SlotSpec {
        public_ip: IP.into(),
        netmask: "255.255.255.0".into(),
        gateway: "203.0.113.1".into(),
        host: "pve1".into(),
        default_project: false,
    }];
    let fleet = PagwFleet::start(slots, Some(TEMPLATE), faults.clone(), events.clone())
        .await
        .expect("the PAGW fleet starts");
    let endpoint = fleet.endpoints()[0].clone();
    Site {
        fleet,
        events,
        faults,
        endpoint,
    }
}

/// Fault knobs with an instant boot.
fn knobs(fail_next: u32, drop_next: u32) -> FaultKnobs {
    FaultKnobs {
        fail_next,
        drop_next,
        task_duration_ms: Some(0),
        ..Default::default()
    }
}

/// What the Proxmox cluster announces when the gateway VM starts.
fn start_event(vmid: u32) -> VmEvent {
    let mut config = BTreeMap::new();
    config.insert(
        "net0".to_string(),
        "virtio=BC:24:11:00:00:01,bridge=vmbr1,tag=101".to_string(),
    );
    config.insert(
        "net1".to_string(),
        "virtio=BC:24:11:00:00:02,bridge=vmbr0".to_string(),
    );
    config.insert(
        "net2".to_string(),
        "virtio=BC:24:11:00:00:03,bridge=vmbr1,tag=3001".to_string(),
    );
    config.insert(
        "ipconfig1".to_string(),
        "ip=203.0.113.10/24,gw=203.0.113.1".to_string(),
    );
    VmEvent::Started {
        node: "pve1".into(),
        vmid,
        template: Some(TEMPLATE),
        config,
    }
}

fn driver_config(endpoint: &PagwEndpoint) -> PagwConfig {
    let mut config = PagwConfig::new(
        IP.parse().expect("an address"),
        endpoint.addr.ip().to_string(),
        endpoint.addr.port(),
        endpoint.user.clone(),
        Credential::Password(Secret::new(endpoint.password.clone())),
    );
    config.retry = RetryPolicy::quick();
    config
}

fn driver(site: &Site) -> (Pagw, Arc<MemoryPins>) {
    let pins = Arc::new(MemoryPins::default());
    (Pagw::new(driver_config(&site.endpoint), pins.clone()), pins)
}

/// A running gateway and a driver that has seen it answer.
async fn running() -> (Site, Pagw, Arc<MemoryPins>) {
    let site = site().await;
    site.events
        .send(start_event(300))
        .expect("the fleet listens");
    let (pagw, pins) = driver(&site);
    pagw.wait_until_reachable(Duration::from_secs(10))
        .await
        .expect("the gateway comes up");
    (site, pagw, pins)
}

fn key(byte: u8) -> String {
    base64::engine::general_purpose::STANDARD.encode([byte; 32])
}

fn ip(text: &str) -> Ipv4Addr {
    text.parse().expect("an address")
}

/// DHCP, DNS, SNAT, two floating IPs, WireGuard with two peers, one BMS.
fn full_config() -> GatewayConfig {
    let nics = GatewayNics {
        lan: Mac([0xbc, 0x24, 0x11, 0, 0, 1]),
        wan: Mac([0xbc, 0x24, 0x11, 0, 0, 2]),
        servers: [(3001, Mac([0xbc, 0x24, 0x11, 0, 0, 3]))].into(),
    };
    let mut config = GatewayConfig::new(
        101,
        nics,
        PublicAddress {
            address: ip(IP),
            netmask: ip("255.255.255.0"),
            gateway: ip("203.0.113.1"),
        },
    );
    config.dhcp = Some(DhcpConfig {
        dns_servers: vec![ip("9.9.9.9"), ip("192.168.212.1")],
        ..DhcpConfig::default()
    });
    config.dnat = vec![
        DnatRule {
            public: ip("203.0.113.50"),
            private: ip("192.168.212.130"),
        },
        DnatRule {
            public: ip("203.0.113.51"),
            private: ip("192.168.212.131"),
        },
    ];
    config.wireguard = Some(WireGuardConfig {
        peers: vec![
            WireGuardPeer {
                name: "alice".into(),
                public_key: key(1),
                address: ip("192.168.213.2"),
            },
            WireGuardPeer {
                name: "bob".into(),
                public_key: key(2),
                address: ip("192.168.213.3"),
            },
        ],
        ..WireGuardConfig::default()
    });
    config
}

/// Commands the guest has answered so far.
fn commands(site: &Site) -> u64 {
    site.fleet.state_json()[IP]["gateway"]["commands"]
        .as_u64()
        .expect("a command count")
}

#[tokio::test]
async fn a_full_configuration_is_applied_and_read_back() {
    let (_site, pagw, _) = running().await;
    let fresh = pagw.read().await.unwrap();
    assert_eq!(fresh.config, None, "a fresh clone runs no configuration");

    let desired = full_config();
    let report = pagw.apply(&desired).await.unwrap();
    assert!(report.changed);
    assert!(
        report
            .changes
            .iter()
            .any(|c| c == "nftables: added DNAT 203.0.113.51 -> 192.168.212.131"),
        "{:?}",
        report.changes
    );
    let public_key = report
        .wireguard_public_key
        .clone()
        .expect("the gateway's WireGuard key");

    let live = pagw.read().await.unwrap();
    assert_eq!(live.config.as_ref(), Some(&desired));
    assert!(live.matches_stored);
    assert_eq!(live.revision.as_deref(), Some(report.revision.as_str()));
    assert_eq!(
        live.wireguard_public_key.as_deref(),
        Some(public_key.as_str())
    );
    assert!(pagw.drift(&desired).await.unwrap().is_empty());
}

#[tokio::test]
async fn one_session_serves_many_actions() {
    let (site, pagw, _) = running().await;
    pagw.apply(&full_config()).await.unwrap();
    pagw.read().await.unwrap();
    pagw.apply(&full_config()).await.unwrap();
    assert_eq!(site.fleet.state_json()[IP]["ssh_connections"], 1);

    // A lost session is replaced by a new one.
    site.faults.set(FAULTS, knobs(0, 1));
    pagw.read().await.unwrap();
    pagw.read().await.unwrap();
    assert_eq!(site.fleet.state_json()[IP]["ssh_connections"], 2);
}

#[tokio::test]
async fn applying_the_same_configuration_again_changes_nothing() {
    let (_site, pagw, _) = running().await;
    let desired = full_config();
    let first = pagw.apply(&desired).await.unwrap();
    let second = pagw.apply(&desired).await.unwrap();
    assert!(!second.changed, "{:?}", second.changes);
    assert!(second.changes.is_empty());
    assert_eq!(second.revision, first.revision);

    // The order of rules and peers is not a change either.
    let mut reordered = desired.clone();
    reordered.dnat.reverse();
    if let Some(wireguard) = &mut reordered.wireguard {
        wireguard.peers.reverse();
    }
    assert!(!pagw.apply(&reordered).await.unwrap().changed);
}

#[tokio::test]
async fn in_place_changes_converge() {
    let (_site, pagw, _) = running().await;
    let first = pagw.apply(&full_config()).await.unwrap();

    let mut desired = full_config();
    desired.dnat[1].private = ip("192.168.212.140");
    if let Some(wireguard) = &mut desired.wireguard {
        wireguard.peers.retain(|peer| peer.name != "bob");
    }
    desired.nics.servers.clear();
    desired.pptp = true;
    let report = pagw.apply(&desired).await.unwrap();
    assert!(report.changed);
    for expected in [
        "nftables: re-pointed DNAT 203.0.113.51 from 192.168.212.131 to 192.168.212.140",
        "wg0: removed peer bob",
        "ens20: released from br0",
        "pptpd: (re)started",
    ] {
        assert!(
            report.changes.iter().any(|c| c == expected),
            "{expected:?} not in {:?}",
            report.changes
        );
    }
    assert_eq!(
        report.wireguard_public_key, first.wireguard_public_key,
        "the server key stays"
    );
    assert_eq!(pagw.read().await.unwrap().config, Some(desired.clone()));

    // Turning WireGuard off removes wg0 and its public key from view.
    desired.wireguard = None;
    let report = pagw.apply(&desired).await.unwrap();
    assert_eq!(report.wireguard_public_key, None);
    assert!(report
        .changes
        .iter()
        .any(|c| c == "wg0: removed (WireGuard off)"));
}

#[tokio::test]
async fn out_of_band_drift_is_reported_and_fixed_by_apply() {
    let (site, pagw, _) = running().await;
    let desired = full_config();
    pagw.apply(&desired).await.unwrap();

    let admin = site.fleet.serve_admin().await.unwrap();
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let http = reqwest::Client::new();
    let status = http
        .delete(format!("{admin}/{IP}/dnat/203.0.113.50"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    let status = http
        .put(format!("{admin}/{IP}/dhcp"))
        .json(&json!({"first": "192.168.212.20", "last": "192.168.212.100"}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);

    let live = pagw.read().await.unwrap();
    assert!(
        !live.matches_stored,
        "the live state no longer matches the stored file"
    );
    let differences: Vec<String> = drift(&desired, live.config.as_ref())
        .iter()
        .map(|d| d.to_string())
        .collect();
    assert_eq!(
        differences,
        [
            "dhcp.range: should be 192.168.212.20-192.168.212.120, the gateway has 192.168.212.20-192.168.212.100",
            "dnat[203.0.113.50]: missing on the gateway (should be 192.168.212.130)",
        ]
    );
    assert_eq!(pagw.drift(&desired).await.unwrap().len(), 2);

    let report = pagw.apply(&desired).await.unwrap();
    assert!(
        report.changed,
        "the same configuration again repairs the drift"
    );
    assert!(
        report
            .changes
            .iter()
            .any(|c| c == "nftables: added DNAT 203.0.113.50 -> 192.168.212.130"),
        "{:?}",
        report.changes
    );
    let live = pagw.read().await.unwrap();
    assert!(live.matches_stored);
    assert!(pagw.drift(&desired).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_busy_gateway_is_retried_until_it_succeeds() {
    let (site, pagw, _) = running().await;
    site.faults.set(FAULTS, knobs(2, 0));
    let before = commands(&site);
    let report = pagw.apply(&full_config()).await.unwrap();
    assert!(report.changed);
    assert_eq!(
        commands(&site) - before,
        3,
        "two busy answers, then the apply"
    );
    assert_eq!(site.faults.get(FAULTS).fail_next, 0);
}

#[tokio::test]
async fn a_refused_configuration_surfaces_once_with_the_gateways_words() {
    let (site, pagw, _) = running().await;
    // Valid as such, but meant for another gateway: only this one can tell.
    let mut elsewhere = full_config();
    elsewhere.public.address = ip("203.0.113.11");
    let before = commands(&site);
    let error = pagw.apply(&elsewhere).await.unwrap_err();
    assert_eq!(error.class, ErrorClass::Permanent);
    assert_eq!(error.target, "pagw:203.0.113.10");
    assert!(
        error
            .message
            .contains("wan.address: 203.0.113.11/24 is not this gateway's address 203.0.113.10/24"),
        "{}",
        error.message
    );
    assert_eq!(commands(&site) - before, 1, "not retried");

    // What the model can judge never reaches the gateway.
    let mut in_pool = full_config();
    in_pool.dnat[0].private = ip("192.168.212.50");
    let error = pagw.apply(&in_pool).await.unwrap_err();
    assert_eq!(error.class, ErrorClass::Permanent);
    assert!(
        error
            .message
            .contains("dnat[203.0.113.50].private: 192.168.212.50 is in the DHCP range"),
        "{}",
        error.message
    );
    assert_eq!(commands(&site) - before, 1);
    assert_eq!(
        pagw.read().await.unwrap().config,
        None,
        "nothing was applied"
    );
}

#[tokio::test]
async fn a_dropped_connection_is_recovered() {
    let (site, pagw, _) = running().await;
    // The apply itself is dropped: maybe applied, so the driver re-reads
    // the gateway, sees it was not, and applies again.
    site.faults.set(FAULTS, knobs(0, 1));
    let desired = full_config();
    let before = commands(&site);
    let report = pagw.apply(&desired).await.unwrap();
    assert!(report.changed);
    assert_eq!(
        commands(&site) - before,
        2,
        "a re-read, then the apply again"
    );
    assert_eq!(pagw.read().await.unwrap().config, Some(desired.clone()));

    // A dropped read is simply read again on a new session.
    site.faults.set(FAULTS, knobs(0, 1));
    assert_eq!(pagw.read().await.unwrap().config, Some(desired));
}

#[tokio::test]
async fn waiting_for_a_booting_gateway() {
    let site = site().await;
    let (pagw, _) = driver(&site);

    let error = pagw
        .wait_until_reachable(Duration::from_millis(300))
        .await
        .unwrap_err();
    assert_eq!(error.class, ErrorClass::Transient);
    assert!(
        error.message.starts_with("not reachable within 300ms"),
        "{}",
        error.message
    );

    // The VM starts later, and the guest then takes its time to boot.
    site.faults.set(
        FAULTS,
        FaultKnobs {
            task_duration_ms: Some(300),
            ..Default::default()
        },
    );
    let events = site.events.clone();
    let started = Instant::now();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        events.send(start_event(300)).unwrap();
    });
    let live = pagw
        .wait_until_reachable(Duration::from_secs(10))
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "reachable after {:?}",
        started.elapsed()
    );
    assert_eq!(live.config, None);
    assert!(pagw.apply(&full_config()).await.unwrap().changed);
}

#[tokio::test]
async fn the_host_key_is_pinned_on_first_use() {
    let (site, pagw, pins) = running().await;
    let endpoint = format!("{}:{}", site.endpoint.addr.ip(), site.endpoint.addr.port());
    assert_eq!(
        pins.pinned(&endpoint).await.unwrap(),
        Some(site.endpoint.host_key_fingerprint.clone())
    );
    pagw.read().await.unwrap();

    // Another key on the same address is refused, permanently.
    let impostor_pins = Arc::new(MemoryPins::default());
    impostor_pins
        .pin(
            &endpoint,
            "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .await
        .unwrap();
    let wary = Pagw::new(driver_config(&site.endpoint), impostor_pins);
    let error = wary.read().await.unwrap_err();
    assert_eq!(error.class, ErrorClass::Permanent);
    assert!(
        error.message.contains("not the pinned SHA256:AAAA"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains(&site.endpoint.host_key_fingerprint),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn actions_on_one_gateway_take_turns() {
    let (_site, pagw, _) = running().await;
    let pagw = Arc::new(pagw);
    let first = full_config();
    let mut other = full_config();
    other.pptp = true;
    let (a, b, c) = tokio::join!(pagw.apply(&first), pagw.apply(&other), pagw.read());
    a.unwrap();
    b.unwrap();
    c.unwrap();
}

#[tokio::test]
async fn no_secret_in_errors_or_debug_output() {
    let (site, pagw, _) = running().await;
    let password = site.endpoint.password.clone();
    let report = pagw.apply(&full_config()).await.unwrap();
    for shown in [
        format!("{pagw:?}"),
        format!("{:?}", driver_config(&site.endpoint)),
        format!("{report:?}"),
    ] {
        assert!(!shown.contains(&password), "{shown}");
        assert!(!shown.to_lowercase().contains("private"), "{shown}");
    }

    let mut wrong = driver_config(&site.endpoint);
    wrong.credential = Credential::Password(Secret::new("hunter2-wrong-password"));
    let refused = Pagw::new(wrong, Arc::new(MemoryPins::default()));
    let error = refused.read().await.unwrap_err();
    assert_eq!(error.class, ErrorClass::Permanent);
    assert!(
        error.message.contains("refused the password of giif"),
        "{}",
        error.message
    );
    for shown in [
        error.to_string(),
        format!("{error:?}"),
        format!("{refused:?}"),
    ] {
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains(&password), "{shown}");
    }
}

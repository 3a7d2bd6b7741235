//! The fake PAGW guest over real SSH: it appears with its VM, speaks the
//! giif-pagw-apply/show protocol, refuses malformed input, shows
//! out-of-band changes, keeps its disk across stop/start and forgets it on
//! delete.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use giif_sim::events::{self, VmEvent, VmEvents};
use giif_sim::faults::{FaultKnobs, Faults};
use giif_sim::pagw::{PagwEndpoint, PagwFleet};
use giif_sim::site::SlotSpec;
use russh::client;
use russh::keys::PublicKeyOrCertificate;
use russh::ChannelMsg;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const TEMPLATE: u32 = 9000;
const IP: &str = "203.0.113.10";

struct AcceptAny;

impl client::Handler for AcceptAny {
    type Error = russh::Error;
    async fn check_server_key(
        &mut self,
        _key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

type Ssh = client::Handle<AcceptAny>;

async fn login(endpoint: &PagwEndpoint) -> Result<Ssh, russh::Error> {
    let mut handle = client::connect(
        Arc::new(client::Config::default()),
        endpoint.addr,
        AcceptAny,
    )
    .await?;
    let auth = handle
        .authenticate_password(&endpoint.user, &endpoint.password)
        .await?;
    assert!(auth.success(), "login refused");
    Ok(handle)
}

/// What a command did: exit status (None: the connection dropped), stdout, stderr.
struct Run {
    status: Option<u32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("{e}: {:?} / {:?}", self.stdout, self.stderr))
    }
}

async fn exec(ssh: &Ssh, command: &str, stdin: Option<&[u8]>) -> Run {
    let mut channel = ssh.channel_open_session().await.expect("channel");
    channel.exec(true, command).await.expect("exec");
    if let Some(stdin) = stdin {
        let _ = channel.data(stdin).await;
    }
    let _ = channel.eof().await;
    let (mut stdout, mut stderr, mut status) = (Vec::new(), Vec::new(), None);
    while let Some(message) = channel.wait().await {
        match message {
            ChannelMsg::Data { data } => stdout.extend_from_slice(&data),
            ChannelMsg::ExtendedData { data, ext: 1 } => stderr.extend_from_slice(&data),
            ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
            _ => {}
        }
    }
    Run {
        status,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

async fn apply(ssh: &Ssh, document: &Value) -> Run {
    let text = serde_json::to_string_pretty(document).expect("JSON") + "\n";
    let sha = hex::encode(Sha256::digest(text.as_bytes()));
    exec(
        ssh,
        &format!("sudo giif-pagw-apply --sha256 {sha} -"),
        Some(text.as_bytes()),
    )
    .await
}

async fn show(ssh: &Ssh) -> Value {
    let run = exec(ssh, "sudo giif-pagw-show --json", None).await;
    assert_eq!(run.status, Some(0), "{}", run.stderr);
    run.json()
}

/// Waits until the gateway answers SSH (events are handled asynchronously
/// and the guest takes its boot time).
async fn wait_up(endpoint: &PagwEndpoint) -> Ssh {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match login(endpoint).await {
            Ok(ssh) => return ssh,
            Err(err) if Instant::now() > deadline => panic!("the gateway never came up: {err}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// Waits until connections fail again.
async fn wait_down(endpoint: &PagwEndpoint) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while login(endpoint).await.is_ok() {
        assert!(Instant::now() < deadline, "the gateway never went away");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn key(byte: u8) -> String {
    base64::engine::general_purpose::STANDARD.encode([byte; 32])
}

fn document() -> Value {
    json!({
        "format": 1,
        "project_vlan": 101,
        "wan": { "address": "203.0.113.10/24", "gateway": "203.0.113.1" },
        "lan": { "address": "192.168.212.1/24" },
        "dhcp": { "first": "192.168.212.20", "last": "192.168.212.120", "dns_servers": ["9.9.9.9"] },
        "snat": true,
        "bridge": { "bms_vlans": [3001] },
        "dnat": [
            { "public": "203.0.113.50", "private": "192.168.212.130" },
            { "public": "203.0.113.51", "private": "192.168.212.131" }
        ],
        "wireguard": {
            "listen_port": 51820,
            "address": "192.168.213.1/24",
            "peers": [
                { "name": "alice", "public_key": key(1), "address": "192.168.213.2" },
                { "name": "bob", "public_key": key(2), "address": "192.168.213.3" }
            ]
        },
        "pptp": false
    })
}

fn start_event(vmid: u32, template: Option<u32>, ipconfig1: &str) -> VmEvent {
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
    config.insert("ipconfig1".to_string(), ipconfig1.to_string());
    VmEvent::Started {
        node: "pve1".into(),
        vmid,
        template,
        config,
    }
}

struct Site {
    fleet: PagwFleet,
    events: VmEvents,
    faults: Faults,
    endpoint: PagwEndpoint,
    admin: String,
}

async fn site() -> Site {
    let faults = Faults::default();
    // Boot at once; the boot delay has its own test.
    faults.set(
        &format!("pagw:{IP}"),
        FaultKnobs {
            task_duration_ms: Some(0),
            ..Default::default()
        },
    );
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
    let admin = fleet.serve_admin().await.expect("the admin routes");
    Site {
        fleet,
        events,
        faults,
        endpoint,
        admin,
    }
}

fn http() -> reqwest::Client {
    // reqwest is built without a default TLS provider; plain HTTP still asks for one.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::new()
}

#[tokio::test]
async fn the_gateway_appears_only_with_its_vm() {
    let site = site().await;
    assert_eq!(site.endpoint.user, "giif");
    assert!(site.endpoint.host_key_fingerprint.starts_with("SHA256:"));
    assert!(
        login(&site.endpoint).await.is_err(),
        "nothing should answer before the VM starts"
    );

    // Not from the PAGW template, or another address: still nothing.
    site.events
        .send(start_event(
            200,
            Some(1234),
            "ip=203.0.113.10/24,gw=203.0.113.1",
        ))
        .unwrap();
    site.events
        .send(start_event(
            201,
            Some(TEMPLATE),
            "ip=203.0.113.99/24,gw=203.0.113.1",
        ))
        .unwrap();
    site.events
        .send(start_event(202, None, "ip=203.0.113.10/24,gw=203.0.113.1"))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(login(&site.endpoint).await.is_err());

    site.events
        .send(start_event(
            300,
            Some(TEMPLATE),
            "ip=203.0.113.10/24,gw=203.0.113.1",
        ))
        .unwrap();
    let ssh = wait_up(&site.endpoint).await;
    let fresh = show(&ssh).await;
    assert_eq!(
        fresh["live"],
        Value::Null,
        "a fresh clone runs no configuration"
    );
    assert_eq!(fresh["config_file"], Value::Null);
    assert_eq!(fresh["hostname"], "pagw-203-0-113-10");
    let state = site.fleet.state_json();
    assert_eq!(state[IP]["gateway"]["vmid"], 300);
    assert_eq!(state[IP]["gateway"]["node"], "pve1");
    assert_eq!(
        state[IP]["gateway"]["net"]["net0"],
        "virtio=BC:24:11:00:00:01,bridge=vmbr1,tag=101"
    );
}

#[tokio::test]
async fn the_guest_takes_its_boot_time() {
    let site = site().await;
    site.faults.set(
        &format!("pagw:{IP}"),
        FaultKnobs {
            task_duration_ms: Some(400),
            ..Default::default()
        },
    );
    let started = Instant::now();
    site.events
        .send(start_event(
            300,
            Some(TEMPLATE),
            "ip=203.0.113.10/24,gw=203.0.113.1",
        ))
        .unwrap();
    let _ssh = wait_up(&site.endpoint).await;
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "up after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn apply_and_show_round_trip_idempotently() {
    let site = site().await;
    site.events
        .send(start_event(
            300,
            Some(TEMPLATE),
            "ip=203.0.113.10/24,gw=203.0.113.1",
        ))
        .unwrap();
    let ssh = wait_up(&site.endpoint).await;

    let first = apply(&ssh, &document()).await;
    assert_eq!(first.status, Some(0), "{}", first.stderr);
    let result = first.json();
    assert_eq!(result["changed"], true);
    let changes: Vec<String> = serde_json::from_value(result["changes"].clone()).unwrap();
    assert!(
        changes.contains(&"nftables: added DNAT 203.0.113.50 -> 192.168.212.130".to_string()),
        "{changes:?}"
    );
    let public_key = result["wireguard_public_key"].as_str().unwrap().to_string();
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(&public_key)
            .unwrap()
            .len(),
        32
    );

    let live = show(&ssh).await;
    assert_eq!(live["live"], document());
    assert_eq!(live["in_sync"], true);
    assert_eq!(live["config_file"]["sha256"], result["sha256"]);
    assert_eq!(live["wireguard_public_key"], public_key.as_str());
    let interfaces = live["interfaces"].as_array().unwrap();
    assert_eq!(
        interfaces[2],
        json!({"name": "ens20", "netdev": "net2", "vlan": 3001, "role": "bms", "master": "br0"})
    );
    assert!(
        !live.to_string().contains("private_key"),
        "no private key in the answer"
    );

    let again = apply(&ssh, &document()).await;
    assert_eq!(again.status, Some(0));
    assert_eq!(again.json()["changed"], false);
    assert_eq!(again.json()["changes"], json!([]));

    // An in-place change: re-point one rule, drop a peer.
    let mut changed = document();
    changed["dnat"][1]["private"] = json!("192.168.212.140");
    changed["wireguard"]["peers"].as_array_mut().unwrap().pop();
    let third = apply(&ssh, &changed).await;
    let changes = third.json()["changes"].clone();
    assert!(changes.as_array().unwrap().contains(&json!(
        "nftables: re-pointed DNAT 203.0.113.51 from 192.168.212.131 to 192.168.212.140"
    )));
    assert!(changes
        .as_array()
        .unwrap()
        .contains(&json!("wg0: removed peer bob")));
    assert_eq!(
        third.json()["wireguard_public_key"],
        public_key.as_str(),
        "the key stays"
    );

    let stored = exec(&ssh, "cat /etc/giif/pagw.json", None).await;
    assert_eq!(
        serde_json::from_str::<Value>(&stored.stdout).unwrap(),
        changed
    );
}

#[tokio::test]
async fn malformed_input_is_refused_and_changes_nothing() {
    let site = site().await;
    site.events
        .send(start_event(
            300,
            Some(TEMPLATE),
            "ip=203.0.113.10/24,gw=203.0.113.1",
        ))
        .unwrap();
    let ssh = wait_up(&site.endpoint).await;
    assert_eq!(apply(&ssh, &document()).await.status, Some(0));
    let before = show(&ssh).await;

    let refused = |run: &Run, needle: &str| {
        assert_eq!(run.status, Some(2), "{needle}: {}", run.stderr);
        assert!(
            run.stderr.contains(needle),
            "{needle:?} not in {:?}",
            run.stderr
        );
    };
    let mut unknown = document();
    unknown["dhcp"]["lease"] = json!(3600);
    refused(&apply(&ssh, &unknown).await, "unknown field `lease`");
    let mut missing = document();
    missing.as_object_mut().unwrap().remove("wireguard");
    refused(&apply(&ssh, &missing).await, "missing field `wireguard`");
    let mut bad_cidr = document();
    bad_cidr["lan"]["address"] = json!("192.168.212.1");
    refused(
        &apply(&ssh, &bad_cidr).await,
        "is not an address with a prefix length",
    );
    let mut newer = document();
    newer["format"] = json!(2);
    refused(&apply(&ssh, &newer).await, "format: 2 is not supported");
    let mut in_pool = document();
    in_pool["dnat"][0]["private"] = json!("192.168.212.50");
    refused(
        &apply(&ssh, &in_pool).await,
        "dnat[0].private: 192.168.212.50 is not a static host address",
    );
    let mut elsewhere = document();
    elsewhere["wan"]["address"] = json!("203.0.113.11/24");
    refused(
        &apply(&ssh, &elsewhere).await,
        "refusing a configuration meant for another gateway",
    );
    let mut bad_key = document();
    bad_key["wireguard"]["peers"][0]["public_key"] = json!("c2hvcnQ=");
    refused(
        &apply(&ssh, &bad_key).await,
        "wireguard.peers[0].public_key: is not a WireGuard key",
    );

    let wrong_sha = exec(
        &ssh,
        &format!("sudo giif-pagw-apply --sha256 {} -", "0".repeat(64)),
        Some(b"{}"),
    )
    .await;
    refused(&wrong_sha, "not 0000");
    refused(
        &exec(&ssh, "sudo giif-pagw-apply -", Some(b"{not json")).await,
        "invalid configuration",
    );
    refused(
        &exec(&ssh, "sudo giif-pagw-apply --force -", None).await,
        "usage: giif-pagw-apply",
    );
    let not_root = exec(&ssh, "giif-pagw-show --json", None).await;
    assert_eq!(
        (not_root.status, not_root.stderr.trim()),
        (Some(1), "giif-pagw-show: must be run as root (use sudo)")
    );
    let unknown_command = exec(&ssh, "sudo iptables -F", None).await;
    assert_eq!(
        (unknown_command.status, unknown_command.stderr.trim()),
        (Some(127), "sh: 1: iptables: not found")
    );

    assert_eq!(show(&ssh).await, before, "a refused input changes nothing");
}

#[tokio::test]
async fn out_of_band_changes_show_until_reboot() {
    let site = site().await;
    site.events
        .send(start_event(
            300,
            Some(TEMPLATE),
            "ip=203.0.113.10/24,gw=203.0.113.1",
        ))
        .unwrap();
    let ssh = wait_up(&site.endpoint).await;
    assert_eq!(apply(&ssh, &document()).await.status, Some(0));

    let admin = &site.admin;
    let response = http()
        .delete(format!("{admin}/{IP}/dnat/203.0.113.50"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = http()
        .put(format!("{admin}/{IP}/dhcp"))
        .json(&json!({"first": "192.168.212.30", "last": "192.168.212.90"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = http()
        .delete(format!("{admin}/{IP}/wireguard/peers/bob"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        http()
            .put(format!("{admin}/{IP}/pptp"))
            .json(&json!({"enabled": true}))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        http()
            .delete(format!("{admin}/{IP}/dnat/203.0.113.99"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        http()
            .get(format!("{admin}/198.51.100.1"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    let drifted = show(&ssh).await;
    assert_eq!(drifted["in_sync"], false);
    assert_eq!(
        drifted["live"]["dnat"],
        json!([{ "public": "203.0.113.51", "private": "192.168.212.131" }])
    );
    assert_eq!(drifted["live"]["dhcp"]["first"], "192.168.212.30");
    assert_eq!(
        drifted["live"]["wireguard"]["peers"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(drifted["live"]["pptp"], true);
    let all: Value = http()
        .get(admin.to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all[IP]["gateway"]["in_sync"], false);

    // A reboot brings back what the stored file says, and ends sessions.
    let response = http()
        .post(format!("{admin}/{IP}/reboot"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let ssh = wait_up(&site.endpoint).await;
    let rebooted = show(&ssh).await;
    assert_eq!(rebooted["live"], document());
    assert_eq!(rebooted["in_sync"], true);
}

#[tokio::test]
async fn stop_and_start_keep_the_disk_and_delete_drops_it() {
    let site = site().await;
    site.events
        .send(start_event(
            300,
            Some(TEMPLATE),
            "ip=203.0.113.10/24,gw=203.0.113.1",
        ))
        .unwrap();
    let ssh = wait_up(&site.endpoint).await;
    let applied = apply(&ssh, &document()).await.json();

    site.events.send(VmEvent::Stopped { vmid: 300 }).unwrap();
    wait_down(&site.endpoint).await;
    let open = exec_or_drop(&ssh).await;
    assert_eq!(open, None, "a stopped gateway ends open sessions");
    assert_eq!(site.fleet.state_json()[IP]["gateway"]["running"], false);

    site.events
        .send(start_event(
            300,
            Some(TEMPLATE),
            "ip=203.0.113.10/24,gw=203.0.113.1",
        ))
        .unwrap();
    let ssh = wait_up(&site.endpoint).await;
    let restarted = show(&ssh).await;
    assert_eq!(
        restarted["live"],
        document(),
        "boot re-applies the stored file"
    );
    assert_eq!(
        restarted["wireguard_public_key"],
        applied["wireguard_public_key"]
    );
    assert_eq!(site.fleet.state_json()[IP]["gateway"]["boots"], 2);

    site.events.send(VmEvent::Deleted { vmid: 300 }).unwrap();
    wait_down(&site.endpoint).await;
    assert_eq!(site.fleet.state_json()[IP]["gateway"], Value::Null);
    site.events
        .send(start_event(
            301,
            Some(TEMPLATE),
            "ip=203.0.113.10/24,gw=203.0.113.1",
        ))
        .unwrap();
    let ssh = wait_up(&site.endpoint).await;
    let rebuilt = show(&ssh).await;
    assert_eq!(
        rebuilt["live"],
        Value::Null,
        "a new VM starts from the template"
    );
    assert_eq!(rebuilt["config_file"], Value::Null);
}

/// Runs `show` on a possibly dead session: its exit status, or None.
async fn exec_or_drop(ssh: &Ssh) -> Option<u32> {
    let Ok(mut channel) = ssh.channel_open_session().await else {
        return None;
    };
    if channel
        .exec(true, "sudo giif-pagw-show --json")
        .await
        .is_err()
    {
        return None;
    }
    let mut status = None;
    while let Some(message) = channel.wait().await {
        if let ChannelMsg::ExitStatus { exit_status } = message {
            status = Some(exit_status);
        }
    }
    status
}

#[tokio::test]
async fn faults_fail_or_drop_one_command() {
    let site = site().await;
    site.events
        .send(start_event(
            300,
            Some(TEMPLATE),
            "ip=203.0.113.10/24,gw=203.0.113.1",
        ))
        .unwrap();
    let ssh = wait_up(&site.endpoint).await;
    site.faults.set(
        &format!("pagw:{IP}"),
        FaultKnobs {
            fail_next: 1,
            task_duration_ms: Some(0),
            ..Default::default()
        },
    );
    let busy = apply(&ssh, &document()).await;
    assert_eq!(busy.status, Some(75));
    assert!(
        busy.stderr.contains("Resource temporarily unavailable"),
        "{}",
        busy.stderr
    );
    assert_eq!(
        show(&ssh).await["live"],
        Value::Null,
        "a failed apply changes nothing"
    );

    site.faults.set(
        &format!("pagw:{IP}"),
        FaultKnobs {
            drop_next: 1,
            task_duration_ms: Some(0),
            ..Default::default()
        },
    );
    let dropped = apply(&ssh, &document()).await;
    assert_eq!(
        dropped.status, None,
        "the connection closes without an answer"
    );
    let ssh = login(&site.endpoint).await.unwrap();
    assert_eq!(show(&ssh).await["live"], Value::Null);
}

#[tokio::test]
async fn the_wrong_password_is_refused() {
    let site = site().await;
    site.events
        .send(start_event(
            300,
            Some(TEMPLATE),
            "ip=203.0.113.10/24,gw=203.0.113.1",
        ))
        .unwrap();
    let _ssh = wait_up(&site.endpoint).await;
    let mut handle = client::connect(
        Arc::new(client::Config::default()),
        site.endpoint.addr,
        AcceptAny,
    )
    .await
    .unwrap();
    let auth = handle.authenticate_password("giif", "wrong").await.unwrap();
    assert!(!auth.success());
}

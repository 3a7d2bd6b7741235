//! The fake PAGW guest over real SSH: it appears with its VM, speaks the
//! giif-pagw-apply/show protocol (the gateway's own tools, over an
//! in-memory system), refuses malformed input, shows out-of-band changes
//! and hot-plugged NICs, keeps its disk across stop/start and forgets it on
//! delete, and lets in the keys cloud-init authorized.

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
        "format": 2,
        "project_vlan": 101,
        "nics": {
            "lan": "bc:24:11:00:00:01",
            "wan": "bc:24:11:00:00:02",
            "servers": [{ "vlan": 3001, "mac": "bc:24:11:00:00:03" }]
        },
        "wan": { "address": "203.0.113.10/24", "gateway": "203.0.113.1" },
        "lan": { "address": "192.168.212.1/24" },
        "dhcp": { "first": "192.168.212.20", "last": "192.168.212.120", "dns_servers": ["9.9.9.9"] },
        "snat": true,
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
        "pptp": false,
        "toolbox": null
    })
}

fn start_event(vmid: u32, template: Option<u32>, ipconfig1: &str) -> VmEvent {
    VmEvent::Started {
        node: "pve1".into(),
        vmid,
        template,
        config: vm_config(ipconfig1),
    }
}

/// Starts gateway VM 300 on the slot's address and waits for its sshd.
async fn boot(site: &Site) -> Ssh {
    boot_with(site, vm_config("ip=203.0.113.10/24,gw=203.0.113.1")).await
}

/// Starts gateway VM 300 with `config` and waits for its sshd.
async fn boot_with(site: &Site, config: BTreeMap<String, String>) -> Ssh {
    site.events
        .send(VmEvent::Started {
            node: "pve1".into(),
            vmid: 300,
            template: Some(TEMPLATE),
            config,
        })
        .expect("the fleet listens");
    wait_up(&site.endpoint).await
}

/// The PAGW VM's configuration as Proxmox shows it: the project NIC, the
/// public NIC and one server's segment.
fn vm_config(ipconfig1: &str) -> BTreeMap<String, String> {
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
    config
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

    let ssh = boot(&site).await;
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
    let _ssh = boot(&site).await;
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "up after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn apply_and_show_round_trip_idempotently() {
    let site = site().await;
    let ssh = boot(&site).await;

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
        json!({"name": "ens20", "mac": "bc:24:11:00:00:03", "role": "server VLAN 3001",
               "master": "br0", "up": true, "addresses": []})
    );
    assert_eq!(
        interfaces[1]["addresses"],
        json!(["203.0.113.10/24", "203.0.113.50/32", "203.0.113.51/32"]),
        "the WAN NIC carries the floating IPs"
    );
    assert_eq!(live["drift"], json!([]));
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
    // wg0 knows peers only by key.
    assert!(
        changes
            .as_array()
            .unwrap()
            .contains(&json!("wg0: removed peer bob")),
        "{changes}"
    );
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
    let ssh = boot(&site).await;
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
    let mut older = document();
    older["format"] = json!(1);
    refused(
        &apply(&ssh, &older).await,
        "format: 1 is not supported (this gateway reads format 2)",
    );
    let mut newer = document();
    newer["format"] = json!(3);
    refused(&apply(&ssh, &newer).await, "format: 3 is not supported");
    let mut in_pool = document();
    in_pool["dnat"][0]["private"] = json!("192.168.212.50");
    refused(
        &apply(&ssh, &in_pool).await,
        "dnat[203.0.113.50].private: 192.168.212.50 is in the DHCP range",
    );
    let mut elsewhere = document();
    elsewhere["wan"]["address"] = json!("203.0.113.11/24");
    refused(
        &apply(&ssh, &elsewhere).await,
        "wan.address: 203.0.113.11/24 is not this gateway's address 203.0.113.10/24 (set by cloud-init); refusing a configuration meant for another gateway",
    );
    let mut bad_key = document();
    bad_key["wireguard"]["peers"][0]["public_key"] = json!("c2hvcnQ=");
    refused(
        &apply(&ssh, &bad_key).await,
        "wireguard.peers[alice].public_key: is not a WireGuard public key",
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
    let ssh = boot(&site).await;
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
    assert_eq!(
        drifted["drift"],
        json!([
            "nftables: added DNAT 203.0.113.50 -> 192.168.212.130",
            "dnsmasq: (re)started with the DHCP range and DNS servers",
            "wg0: added peer bob (192.168.213.3)",
            "pptpd: stopped (PPTP off)",
        ])
    );
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
    let ssh = boot(&site).await;
    let applied = apply(&ssh, &document()).await.json();

    site.events.send(VmEvent::Stopped { vmid: 300 }).unwrap();
    wait_down(&site.endpoint).await;
    let open = exec_or_drop(&ssh).await;
    assert_eq!(open, None, "a stopped gateway ends open sessions");
    assert_eq!(site.fleet.state_json()[IP]["gateway"]["running"], false);

    let ssh = boot(&site).await;
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
    let ssh = boot(&site).await;
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
    let _ssh = boot(&site).await;
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

/// POSTs or PUTs to an admin route; the answer is the slot's state.
async fn admin_send(
    site: &Site,
    method: reqwest::Method,
    route: &str,
    body: Option<Value>,
) -> Value {
    let mut request = http().request(method, format!("{}/{IP}/{route}", site.admin));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the admin route answers");
    assert_eq!(response.status(), 200, "{route}");
    response.json().await.expect("the slot's state")
}

#[tokio::test]
async fn hand_edits_show_as_drift_until_the_next_apply() {
    let site = site().await;
    let ssh = boot(&site).await;
    assert_eq!(apply(&ssh, &document()).await.status, Some(0));
    let reapply = "sudo giif-pagw-apply /etc/giif/pagw.json";

    // A rule someone added to table inet giif by hand.
    let state = admin_send(
        &site,
        reqwest::Method::POST,
        "nft/foreign",
        Some(json!({"rule": "rule in chain prerouting (tcp dport 22 accept)"})),
    )
    .await;
    assert_eq!(state["gateway"]["in_sync"], false);
    assert_eq!(
        state["gateway"]["drift"],
        json!(["nftables: removed rule in chain prerouting (tcp dport 22 accept) (not written by giif)"])
    );
    assert_eq!(show(&ssh).await["drift"], state["gateway"]["drift"]);
    let repaired = exec(&ssh, reapply, None).await;
    assert_eq!(repaired.status, Some(0), "{}", repaired.stderr);
    assert_eq!(repaired.json()["changed"], true);
    assert_eq!(show(&ssh).await["in_sync"], true);

    // dnsmasq stopped.
    let state = admin_send(&site, reqwest::Method::POST, "dnsmasq/stop", None).await;
    assert_eq!(state["gateway"]["in_sync"], false);
    assert_eq!(state["gateway"]["live"]["dhcp"], Value::Null);
    assert_eq!(
        state["gateway"]["drift"],
        json!(["dnsmasq: (re)started with the DHCP range and DNS servers"])
    );
    let stopped_twice = http()
        .post(format!("{}/{IP}/dnsmasq/stop", site.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(stopped_twice.status(), 404);

    // And SNAT off, on top.
    let state = admin_send(
        &site,
        reqwest::Method::PUT,
        "snat",
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!(state["gateway"]["live"]["snat"], false);
    assert_eq!(
        state["gateway"]["drift"],
        json!([
            "nftables: masquerade 192.168.212.0/24 behind the WAN address",
            "dnsmasq: (re)started with the DHCP range and DNS servers"
        ])
    );
    let state = admin_send(
        &site,
        reqwest::Method::PUT,
        "snat",
        Some(json!({"enabled": true})),
    )
    .await;
    assert_eq!(state["gateway"]["live"]["snat"], true);

    let repaired = exec(&ssh, reapply, None).await;
    assert_eq!(
        repaired.json()["changes"],
        json!(["dnsmasq: (re)started with the DHCP range and DNS servers"])
    );
    let shown = show(&ssh).await;
    assert_eq!(shown["in_sync"], true);
    assert_eq!(shown["live"], document());
}

#[tokio::test]
async fn hot_plugged_nics_come_and_go_with_the_vm_config() {
    let site = site().await;
    let ssh = boot(&site).await;
    assert_eq!(apply(&ssh, &document()).await.status, Some(0));

    // The server's NIC unplugged: the live document loses it.
    let mut config = vm_config("ip=203.0.113.10/24,gw=203.0.113.1");
    config.remove("net2");
    site.events
        .send(VmEvent::Reconfigured {
            vmid: 300,
            config: config.clone(),
        })
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let unplugged = loop {
        let shown = show(&ssh).await;
        if shown["in_sync"] == false {
            break shown;
        }
        assert!(Instant::now() < deadline, "the unplug never showed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(unplugged["live"]["nics"]["servers"], json!([]));
    assert_eq!(
        unplugged["drift"],
        json!(["nics.servers[3001]: no interface has MAC bc:24:11:00:00:03 (yet)"])
    );
    let names: Vec<&str> = unplugged["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|nic| nic["name"].as_str().unwrap_or_default())
        .collect();
    assert!(!names.contains(&"ens20"), "{names:?}");
    let not_yet = apply(&ssh, &document()).await;
    assert_eq!(not_yet.status, Some(75), "{}", not_yet.stderr);

    // Plugged into another slot: a new interface, unused until configured.
    config.insert(
        "net3".to_string(),
        "virtio=BC:24:11:00:00:04,bridge=vmbr1,tag=3002".to_string(),
    );
    site.events
        .send(VmEvent::Reconfigured { vmid: 300, config })
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let plugged = loop {
        let shown = show(&ssh).await;
        if shown["interfaces"].to_string().contains("ens21") {
            break shown;
        }
        assert!(Instant::now() < deadline, "the hot-plug never showed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let ens21 = plugged["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|nic| nic["name"] == "ens21")
        .unwrap()
        .clone();
    assert_eq!(ens21["mac"], "bc:24:11:00:00:04");
    assert_eq!(ens21["role"], "unused");
    assert_eq!(ens21["master"], Value::Null);
    let mut moved = document();
    moved["nics"]["servers"] = json!([{ "vlan": 3002, "mac": "bc:24:11:00:00:04" }]);
    let applied = apply(&ssh, &moved).await;
    assert_eq!(applied.status, Some(0), "{}", applied.stderr);
    assert!(
        applied.json()["changes"]
            .as_array()
            .unwrap()
            .contains(&json!("ens21: enslaved to br0 (server segment, VLAN 3002)")),
        "{}",
        applied.stdout
    );
    assert_eq!(show(&ssh).await["live"], moved);
}

/// An ed25519 key pair for `seed`.
fn user_key(seed: u8) -> russh::keys::PrivateKey {
    russh::keys::PrivateKey::from(russh::keys::ssh_key::private::Ed25519Keypair::from_seed(
        &[seed; 32],
    ))
}

/// A value as PVE stores a `format => 'urlencoded'` parameter.
fn pve_urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn login_with_key(endpoint: &PagwEndpoint, user: &str, key: russh::keys::PrivateKey) -> bool {
    let mut handle = client::connect(
        Arc::new(client::Config::default()),
        endpoint.addr,
        AcceptAny,
    )
    .await
    .expect("the gateway answers");
    let key = russh::keys::PrivateKeyWithHashAlg::new(Arc::new(key), None);
    handle
        .authenticate_publickey(user, key)
        .await
        .expect("the login gets an answer")
        .success()
}

#[tokio::test]
async fn keys_from_cloud_init_log_in_as_the_admin_user() {
    let site = site().await;
    let authorized = [user_key(1), user_key(2)]
        .iter()
        .map(|key| key.public_key().to_openssh().unwrap() + " ops@example")
        .collect::<Vec<_>>()
        .join("\n");
    let mut config = vm_config("ip=203.0.113.10/24,gw=203.0.113.1");
    config.insert("sshkeys".to_string(), pve_urlencode(&authorized));
    let _ssh = boot_with(&site, config).await;

    assert!(login_with_key(&site.endpoint, "giif", user_key(2)).await);
    assert!(
        !login_with_key(&site.endpoint, "giif", user_key(3)).await,
        "a key cloud-init did not authorize"
    );
    assert!(
        !login_with_key(&site.endpoint, "root", user_key(1)).await,
        "only the admin user"
    );
    assert!(
        login(&site.endpoint).await.is_ok(),
        "the password still works"
    );

    // Logged in by key, the session runs commands as the password's does.
    let mut handle = client::connect(
        Arc::new(client::Config::default()),
        site.endpoint.addr,
        AcceptAny,
    )
    .await
    .unwrap();
    let key = russh::keys::PrivateKeyWithHashAlg::new(Arc::new(user_key(1)), None);
    assert!(handle
        .authenticate_publickey("giif", key)
        .await
        .unwrap()
        .success());
    assert_eq!(show(&handle).await["hostname"], "pagw-203-0-113-10");
}

#[tokio::test]
async fn without_sshkeys_no_key_logs_in() {
    let site = site().await;
    let _ssh = boot(&site).await;
    assert!(!login_with_key(&site.endpoint, "giif", user_key(1)).await);
}

#[tokio::test]
async fn the_keys_belong_to_cloud_inits_user() {
    let site = site().await;
    let mut config = vm_config("ip=203.0.113.10/24,gw=203.0.113.1");
    let authorized = user_key(1).public_key().to_openssh().unwrap();
    config.insert("sshkeys".to_string(), pve_urlencode(&authorized));
    config.insert("ciuser".to_string(), "ops".to_string());
    let _ssh = boot_with(&site, config).await;
    assert!(login_with_key(&site.endpoint, "ops", user_key(1)).await);
    assert!(!login_with_key(&site.endpoint, "giif", user_key(1)).await);
}

//! The fake Proxmox VE cluster's own API behaviour, over HTTPS with a
//! plain HTTP client: authentication, envelopes, VM lifecycle, tasks,
//! locks, hot-plug, errors and status codes, admin knobs, request log.

#![allow(clippy::unwrap_used)] // test helpers may panic: that is how a test fails

use std::sync::Arc;
use std::time::{Duration, Instant};

use giif_sim::events::{self, VmEvent};
use giif_sim::faults::{FaultKnobs, Faults};
use giif_sim::pve::PveCluster;
use giif_sim::site::{NodeSpec, ProxmoxSpec, TemplateSpec};
use serde_json::{json, Value};
use sha2::Digest;
use tower::ServiceExt;

fn node(name: &str) -> NodeSpec {
    NodeSpec {
        name: name.into(),
        storage: vec!["local-lvm".into()],
        bridges: vec!["vmbr0".into(), "vmbr1".into()],
        cores: 16,
        memory_mb: 65536,
    }
}

fn spec() -> ProxmoxSpec {
    ProxmoxSpec {
        nodes: vec![node("pve1"), node("pve2")],
        templates: vec![
            TemplateSpec {
                vmid: 9000,
                name: "debian-12".into(),
                node: "pve1".into(),
                pagw: false,
                disk_gb: 10,
            },
            TemplateSpec {
                vmid: 9001,
                name: "pagw".into(),
                node: "pve1".into(),
                pagw: true,
                disk_gb: 4,
            },
        ],
        task_duration_ms: 60,
        iso_volumes: vec!["local:iso/debian-12.iso".into()],
    }
}

struct Sim {
    cluster: PveCluster,
    faults: Faults,
    events: events::VmEvents,
    http: reqwest::Client,
    auth: String,
}

/// What came back: status, reason phrase, and the JSON body (or Null).
#[derive(Debug)]
struct Answer {
    status: u16,
    reason: String,
    body: Value,
}

impl Answer {
    fn data(&self) -> &Value {
        &self.body["data"]
    }
}

async fn start() -> Sim {
    start_with_log(None).await
}

async fn start_with_log(log: Option<std::path::PathBuf>) -> Sim {
    let faults = Faults::default();
    let events = events::channel();
    let cluster = PveCluster::start(spec(), faults.clone(), events.clone(), log)
        .await
        .unwrap();
    let http = client(&cluster.ca_pem());
    let auth = format!(
        "PVEAPIToken={}={}",
        cluster.token_id(),
        cluster.token_secret()
    );
    Sim {
        cluster,
        faults,
        events,
        http,
        auth,
    }
}

fn client(ca_pem: &str) -> reqwest::Client {
    use rustls::pki_types::pem::PemObject;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .unwrap()
}

impl Sim {
    async fn call(
        &self,
        method: &str,
        path: &str,
        params: &[(&str, &str)],
        auth: Option<&str>,
    ) -> Answer {
        let url = format!("{}/api2/json{path}", self.cluster.api_url());
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method.clone(), url);
        if method == reqwest::Method::GET || method == reqwest::Method::DELETE {
            request = request.query(params);
        } else {
            request = request.form(params);
        }
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let reason = response
            .extensions()
            .get::<hyper::ext::ReasonPhrase>()
            .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned())
            .unwrap_or_else(|| {
                response
                    .status()
                    .canonical_reason()
                    .unwrap_or("")
                    .to_string()
            });
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            reason,
            body,
        }
    }

    async fn get(&self, path: &str, params: &[(&str, &str)]) -> Answer {
        self.call("GET", path, params, Some(&self.auth.clone()))
            .await
    }
    async fn post(&self, path: &str, params: &[(&str, &str)]) -> Answer {
        self.call("POST", path, params, Some(&self.auth.clone()))
            .await
    }
    async fn put(&self, path: &str, params: &[(&str, &str)]) -> Answer {
        self.call("PUT", path, params, Some(&self.auth.clone()))
            .await
    }
    async fn delete(&self, path: &str, params: &[(&str, &str)]) -> Answer {
        self.call("DELETE", path, params, Some(&self.auth.clone()))
            .await
    }

    /// Polls a task until it stops; returns its status object.
    async fn wait(&self, upid: &Value) -> Value {
        let upid = upid.as_str().expect("a UPID");
        let node = upid.split(':').nth(1).unwrap();
        let path = format!("/nodes/{node}/tasks/{}/status", encode(upid));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let status = self.get(&path, &[]).await;
            assert_eq!(status.status, 200, "{status:?}");
            if status.data()["status"] == "stopped" {
                return status.data().clone();
            }
            assert!(Instant::now() < deadline, "task {upid} never stopped");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn task_log(&self, upid: &Value) -> Vec<String> {
        let upid = upid.as_str().unwrap();
        let node = upid.split(':').nth(1).unwrap();
        let log = self
            .get(&format!("/nodes/{node}/tasks/{}/log", encode(upid)), &[])
            .await;
        log.data()
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["t"].as_str().unwrap().to_string())
            .collect()
    }

    async fn admin(&self, method: &str, path: &str, body: Value) -> Value {
        let request = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.to_string()))
            .unwrap();
        let response = self.cluster.admin_routes().oneshot(request).await.unwrap();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    }

    async fn clone_vm(&self, newid: &str, name: &str) -> Value {
        let clone = self
            .post(
                "/nodes/pve1/qemu/9000/clone",
                &[("newid", newid), ("name", name), ("full", "1")],
            )
            .await;
        assert_eq!(clone.status, 200, "{clone:?}");
        self.wait(clone.data()).await
    }

    async fn start_vm(&self, vmid: &str) -> Value {
        let start = self
            .post(&format!("/nodes/pve1/qemu/{vmid}/status/start"), &[])
            .await;
        assert_eq!(start.status, 200, "{start:?}");
        self.wait(start.data()).await
    }
}

/// UPIDs go into paths percent-encoded, as clients send them.
fn encode(text: &str) -> String {
    text.replace(':', "%3A")
        .replace('@', "%40")
        .replace('!', "%21")
}

#[tokio::test]
async fn requests_without_a_valid_token_are_refused_like_pve() {
    let sim = start().await;
    let none = sim.call("GET", "/version", &[], None).await;
    assert_eq!((none.status, none.reason.as_str()), (401, "No ticket"));
    assert_eq!(none.body, Value::Null, "pveproxy sends no body");
    let wrong = format!("PVEAPIToken={}=not-the-secret", sim.cluster.token_id());
    let bad = sim.call("GET", "/version", &[], Some(&wrong)).await;
    assert_eq!(
        (bad.status, bad.reason.as_str()),
        (401, "Authentication failed!")
    );
    let good = sim.get("/version", &[]).await;
    assert_eq!(good.status, 200);
    assert_eq!(good.data()["release"], "9.1");
}

#[tokio::test]
async fn cluster_endpoints_answer_in_envelopes() {
    let sim = start().await;
    let nodes = sim.get("/nodes", &[]).await;
    let names: Vec<&str> = nodes
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["node"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pve1", "pve2"]);
    assert_eq!(nodes.data()[0]["status"], "online");
    assert_eq!(
        nodes.data()[0]["ssl_fingerprint"],
        json!(sim.cluster.ssl_fingerprint())
    );

    let next = sim.get("/cluster/nextid", &[]).await;
    assert_eq!(next.data(), &json!("100"));
    let taken = sim.get("/cluster/nextid", &[("vmid", "9000")]).await;
    assert_eq!(taken.status, 400);
    assert_eq!(taken.reason, "Parameter verification failed.");
    assert_eq!(taken.body["errors"]["vmid"], "VM 9000 already exists");
    assert_eq!(taken.body["data"], Value::Null);

    let list = sim.get("/nodes/pve1/qemu", &[]).await;
    let templates: Vec<u64> = list
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["vmid"].as_u64().unwrap())
        .collect();
    assert_eq!(templates, [9000, 9001]);
    assert_eq!(list.data()[0]["template"], 1);
    assert_eq!(list.data()[0]["status"], "stopped");

    let missing = sim.get("/nodes/pve1/nothing", &[]).await;
    assert_eq!(missing.status, 501);
    assert_eq!(
        missing.body["message"],
        "Method 'GET /nodes/pve1/nothing' not implemented"
    );
    let no_node = sim.get("/nodes/pve9/qemu", &[]).await;
    assert_eq!(
        (no_node.status, no_node.reason.as_str()),
        (500, "no such cluster node 'pve9'")
    );
}

#[tokio::test]
async fn a_clone_locks_the_new_vm_until_its_task_ends() {
    let sim = start().await;
    // Long enough to look at the clone while it runs, even on a busy machine.
    sim.faults.set(
        "pve",
        FaultKnobs {
            task_duration_ms: Some(1000),
            ..Default::default()
        },
    );
    let template = sim.get("/nodes/pve1/qemu/9000/config", &[]).await;
    let clone = sim
        .post(
            "/nodes/pve1/qemu/9000/clone",
            &[("newid", "101"), ("name", "web-1"), ("full", "1")],
        )
        .await;
    assert_eq!(clone.status, 200, "{clone:?}");
    let upid = clone.data().as_str().unwrap().to_string();
    let parts: Vec<&str> = upid.split(':').collect();
    assert_eq!(parts.len(), 9, "{upid}");
    assert_eq!(
        (parts[0], parts[1], parts[5], parts[6], parts[7]),
        ("UPID", "pve1", "qmclone", "9000", "root@pam!giif")
    );
    assert!(parts[2].len() == 8 && parts[2].chars().all(|c| c.is_ascii_hexdigit()));

    let during = sim.get("/nodes/pve1/qemu/101/config", &[]).await;
    assert_eq!(during.data()["lock"], "clone");
    let running = sim
        .get(&format!("/nodes/pve1/tasks/{}/status", encode(&upid)), &[])
        .await;
    assert_eq!(running.data()["status"], "running");
    assert_eq!(running.data()["tokenid"], "giif");
    let locked = sim
        .put("/nodes/pve1/qemu/101/config", &[("cores", "2")])
        .await;
    assert_eq!(
        (locked.status, locked.reason.as_str()),
        (500, "VM is locked (clone)")
    );
    assert_eq!(locked.body["message"], "VM is locked (clone)\n");

    let done = sim.wait(clone.data()).await;
    assert_eq!(done["exitstatus"], "OK");
    let log = sim.task_log(clone.data()).await;
    assert!(
        log[0].starts_with("create full clone of drive scsi0 (local-lvm:base-9000-disk-0)"),
        "{log:?}"
    );
    assert_eq!(log.last().map(String::as_str), Some("TASK OK"));

    let config = sim.get("/nodes/pve1/qemu/101/config", &[]).await;
    let config = config.data();
    assert_eq!(config["name"], "web-1");
    assert_eq!(config["template"], Value::Null);
    assert_eq!(config["lock"], Value::Null);
    assert_eq!(config["cores"], 1, "numbers are numbers");
    assert_eq!(
        config["scsi0"],
        "local-lvm:vm-101-disk-0,iothread=1,size=10G"
    );
    let net0 = config["net0"].as_str().unwrap();
    assert!(
        net0.starts_with("virtio=BC:24:11:") && net0.ends_with(",bridge=vmbr1"),
        "{net0}"
    );
    assert_ne!(
        config["net0"],
        template.data()["net0"],
        "a clone gets a new MAC"
    );
    assert_eq!(config["digest"].as_str().unwrap().len(), 40);
}

#[tokio::test]
async fn clone_refusals_use_pves_words() {
    let sim = start().await;
    sim.clone_vm("101", "a").await;
    let taken = sim
        .post("/nodes/pve1/qemu/9000/clone", &[("newid", "101")])
        .await;
    assert_eq!(
        taken.reason,
        "unable to create VM 101: config file already exists"
    );
    let linked = sim
        .post(
            "/nodes/pve1/qemu/101/clone",
            &[("newid", "102"), ("full", "0")],
        )
        .await;
    assert_eq!(
        linked.reason,
        "Linked clone feature is not supported for 'local-lvm:vm-101-disk-0' (scsi0)"
    );
    let missing = sim
        .post("/nodes/pve1/qemu/777/clone", &[("newid", "102")])
        .await;
    assert_eq!(
        missing.reason,
        "Configuration file 'nodes/pve1/qemu-server/777.conf' does not exist"
    );
    let no_newid = sim.post("/nodes/pve1/qemu/9000/clone", &[]).await;
    assert_eq!(no_newid.status, 400);
    assert_eq!(
        no_newid.body["errors"]["newid"],
        "property is missing and it is not optional"
    );

    // A linked clone of a template onto another node with a storage of the same name.
    let linked = sim
        .post(
            "/nodes/pve1/qemu/9000/clone",
            &[
                ("newid", "103"),
                ("full", "0"),
                ("target", "pve2"),
                ("name", "far"),
            ],
        )
        .await;
    assert_eq!(linked.status, 200, "{linked:?}");
    sim.wait(linked.data()).await;
    let far = sim.get("/nodes/pve2/qemu/103/config", &[]).await;
    assert_eq!(
        far.data()["scsi0"],
        "local-lvm:base-9000-disk-0/vm-103-disk-0,iothread=1,size=10G"
    );
    let not_here = sim.get("/nodes/pve1/qemu/103/config", &[]).await;
    assert_eq!(
        not_here.reason,
        "Configuration file 'nodes/pve1/qemu-server/103.conf' does not exist"
    );
}

#[tokio::test]
async fn config_writes_check_the_digest_and_parameters() {
    let sim = start().await;
    sim.clone_vm("101", "web").await;
    let before = sim.get("/nodes/pve1/qemu/101/config", &[]).await;
    let digest = before.data()["digest"].as_str().unwrap().to_string();
    let ok = sim
        .put(
            "/nodes/pve1/qemu/101/config",
            &[("cores", "2"), ("digest", &digest)],
        )
        .await;
    assert_eq!((ok.status, &ok.body), (200, &json!({ "data": null })));
    let stale = sim
        .put(
            "/nodes/pve1/qemu/101/config",
            &[("cores", "3"), ("digest", &digest)],
        )
        .await;
    assert_eq!(stale.status, 500);
    assert_eq!(
        stale.body["message"],
        "checksum mismatch (file change by other user?)\n"
    );

    let bad = sim
        .put(
            "/nodes/pve1/qemu/101/config",
            &[
                ("net1", "virtio,bridge=vmbr1,tag=5000"),
                ("colour", "red"),
                ("sshkeys", "ssh-ed25519 AAAA me@host"),
            ],
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.body["message"], "Parameter verification failed.\n");
    assert_eq!(
        bad.body["errors"]["net1"],
        "invalid format - format error\nnet1.tag: value must have a maximum value of 4094\n"
    );
    assert_eq!(
        bad.body["errors"]["colour"],
        "property is not defined in schema and the schema does not allow additional properties"
    );
    assert!(bad.body["errors"]["sshkeys"]
        .as_str()
        .unwrap()
        .contains("invalid urlencoded string"));

    let keys = "ssh-ed25519%20AAAAC3NzaC1lZDI1NTE5AAAAIB%2Bk%20me%40host";
    let set = sim
        .put(
            "/nodes/pve1/qemu/101/config",
            &[
                ("net1", "virtio,bridge=vmbr1,tag=13,firewall=1"),
                ("ipconfig1", "ip=192.168.212.130/24,gw=192.168.212.1"),
                ("ciuser", "student"),
                ("sshkeys", keys),
                ("memory", "2048"),
            ],
        )
        .await;
    assert_eq!(set.status, 200, "{set:?}");
    let config = sim.get("/nodes/pve1/qemu/101/config", &[]).await;
    let net1 = config.data()["net1"].as_str().unwrap();
    assert!(
        net1.starts_with("virtio=BC:24:11:") && net1.ends_with(",bridge=vmbr1,firewall=1,tag=13"),
        "{net1}"
    );
    assert_eq!(
        config.data()["sshkeys"],
        keys,
        "kept encoded, as PVE shows it"
    );
    assert_eq!(config.data()["memory"], "2048");

    let removed = sim
        .put(
            "/nodes/pve1/qemu/101/config",
            &[("delete", "net1,ipconfig1")],
        )
        .await;
    assert_eq!(removed.status, 200);
    let config = sim.get("/nodes/pve1/qemu/101/config", &[]).await;
    assert_eq!(config.data()["net1"], Value::Null);
    let both = sim
        .put(
            "/nodes/pve1/qemu/101/config",
            &[("net2", "virtio"), ("delete", "net2")],
        )
        .await;
    assert_eq!(both.status, 400);
    let nothing = sim.put("/nodes/pve1/qemu/101/config", &[]).await;
    assert_eq!(nothing.reason, "no options specified");
}

#[tokio::test]
async fn json_bodies_are_accepted() {
    let sim = start().await;
    sim.clone_vm("101", "web").await;
    let url = format!(
        "{}/api2/json/nodes/pve1/qemu/101/config",
        sim.cluster.api_url()
    );
    let response = sim
        .http
        .put(url)
        .header("Authorization", &sim.auth)
        .json(&json!({ "cores": 3, "onboot": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let config = sim.get("/nodes/pve1/qemu/101/config", &[]).await;
    assert_eq!(
        (
            config.data()["cores"].clone(),
            config.data()["onboot"].clone()
        ),
        (json!(3), json!(1))
    );
}

#[tokio::test]
async fn a_running_vm_takes_nics_at_once_and_cores_at_next_start() {
    let sim = start().await;
    let mut events = sim.events.subscribe();
    sim.clone_vm("101", "gw").await;
    assert_eq!(sim.start_vm("101").await["exitstatus"], "OK");
    let status = sim.get("/nodes/pve1/qemu/101/status/current", &[]).await;
    assert_eq!(
        (
            status.data()["status"].as_str(),
            status.data()["qmpstatus"].as_str()
        ),
        (Some("running"), Some("running"))
    );
    assert!(status.data()["pid"].as_u64().is_some());
    match events.recv().await.unwrap() {
        VmEvent::Started {
            node,
            vmid,
            template,
            config,
        } => {
            assert_eq!((node.as_str(), vmid, template), ("pve1", 101, Some(9000)));
            assert!(config["net0"].contains("bridge=vmbr1"));
        }
        other => panic!("expected a start, got {other:?}"),
    }

    let plug = sim
        .put(
            "/nodes/pve1/qemu/101/config",
            &[("net1", "virtio,bridge=vmbr1,tag=3001"), ("cores", "4")],
        )
        .await;
    assert_eq!(plug.status, 200, "{plug:?}");
    let current = sim
        .get("/nodes/pve1/qemu/101/config", &[("current", "1")])
        .await;
    assert!(
        current.data()["net1"]
            .as_str()
            .unwrap()
            .contains("tag=3001"),
        "hot-plugged"
    );
    assert_eq!(current.data()["cores"], 1, "cores wait for the next start");
    let pending = sim.get("/nodes/pve1/qemu/101/config", &[]).await;
    assert_eq!(pending.data()["cores"], 4);

    let unplug = sim
        .put("/nodes/pve1/qemu/101/config", &[("delete", "net1")])
        .await;
    assert_eq!(unplug.status, 200);
    let current = sim
        .get("/nodes/pve1/qemu/101/config", &[("current", "1")])
        .await;
    assert_eq!(current.data()["net1"], Value::Null);

    let again = sim.post("/nodes/pve1/qemu/101/status/start", &[]).await;
    let failed = sim.wait(again.data()).await;
    assert_eq!(failed["exitstatus"], "VM 101 already running");
}

#[tokio::test]
async fn concurrent_hotplugs_on_one_vm_collide_on_its_lock() {
    let sim = start().await;
    sim.clone_vm("101", "gw").await;
    sim.start_vm("101").await;
    // A hot-plug holds the lock longer than another writer waits for it.
    sim.admin(
        "PUT",
        "/settings",
        json!({ "lock_wait_ms": 50, "hotplug_ms": 300 }),
    )
    .await;
    let (a, b) = tokio::join!(
        sim.put(
            "/nodes/pve1/qemu/101/config",
            &[("net1", "virtio,bridge=vmbr1,tag=3001")]
        ),
        sim.put(
            "/nodes/pve1/qemu/101/config",
            &[("net2", "virtio,bridge=vmbr1,tag=3002")]
        ),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [200, 500], "{a:?} {b:?}");
    let loser = if a.status == 500 { a } else { b };
    assert_eq!(
        loser.reason,
        "can't lock file '/var/lock/qemu-server/lock-101.conf' - got timeout"
    );
    assert_eq!(sim.cluster.state_json()["lock_timeouts"], 1);
}

#[tokio::test]
async fn stopping_and_destroying_a_vm() {
    let sim = start().await;
    let mut events = sim.events.subscribe();
    sim.clone_vm("101", "web").await;
    sim.start_vm("101").await;
    let _started = events.recv().await.unwrap();

    let refused = sim.delete("/nodes/pve1/qemu/101", &[("purge", "1")]).await;
    assert_eq!(
        (refused.status, refused.reason.as_str()),
        (500, "VM 101 is running - destroy failed")
    );

    let stop = sim.post("/nodes/pve1/qemu/101/status/stop", &[]).await;
    assert_eq!(sim.wait(stop.data()).await["exitstatus"], "OK");
    assert!(matches!(
        events.recv().await.unwrap(),
        VmEvent::Stopped { vmid: 101 }
    ));
    let status = sim.get("/nodes/pve1/qemu/101/status/current", &[]).await;
    assert_eq!(status.data()["status"], "stopped");
    let shutdown = sim.post("/nodes/pve1/qemu/101/status/shutdown", &[]).await;
    assert_eq!(
        sim.wait(shutdown.data()).await["exitstatus"],
        "OK",
        "shutting down a stopped VM is a no-op"
    );

    let destroy = sim
        .delete(
            "/nodes/pve1/qemu/101",
            &[("purge", "1"), ("destroy-unreferenced-disks", "1")],
        )
        .await;
    assert_eq!(destroy.status, 200);
    assert_eq!(sim.wait(destroy.data()).await["exitstatus"], "OK");
    assert!(matches!(
        events.recv().await.unwrap(),
        VmEvent::Deleted { vmid: 101 }
    ));
    let gone = sim.get("/nodes/pve1/qemu/101/config", &[]).await;
    assert_eq!(
        (gone.status, gone.reason.as_str()),
        (
            500,
            "Configuration file 'nodes/pve1/qemu-server/101.conf' does not exist"
        )
    );

    // Power tasks on a missing VM fail in the task, as in PVE.
    let start = sim.post("/nodes/pve1/qemu/555/status/start", &[]).await;
    assert_eq!(
        sim.wait(start.data()).await["exitstatus"],
        "Configuration file 'nodes/pve1/qemu-server/555.conf' does not exist"
    );
    let stop = sim.post("/nodes/pve1/qemu/555/status/stop", &[]).await;
    assert_eq!(
        sim.wait(stop.data()).await["exitstatus"],
        "unable to find configuration file for VM 555 on node 'pve1'"
    );
}

#[tokio::test]
async fn disks_grow_but_never_shrink() {
    let sim = start().await;
    sim.clone_vm("101", "web").await;
    let grow = sim
        .put(
            "/nodes/pve1/qemu/101/resize",
            &[("disk", "scsi0"), ("size", "+2G")],
        )
        .await;
    assert_eq!(sim.wait(grow.data()).await["exitstatus"], "OK");
    let absolute = sim
        .put(
            "/nodes/pve1/qemu/101/resize",
            &[("disk", "scsi0"), ("size", "20G")],
        )
        .await;
    assert_eq!(sim.wait(absolute.data()).await["exitstatus"], "OK");
    let config = sim.get("/nodes/pve1/qemu/101/config", &[]).await;
    assert_eq!(
        config.data()["scsi0"],
        "local-lvm:vm-101-disk-0,iothread=1,size=20G"
    );
    let shrink = sim
        .put(
            "/nodes/pve1/qemu/101/resize",
            &[("disk", "scsi0"), ("size", "5G")],
        )
        .await;
    assert_eq!(
        sim.wait(shrink.data()).await["exitstatus"],
        "shrinking disks is not supported"
    );
    let log = sim.task_log(shrink.data()).await;
    assert_eq!(
        log.last().unwrap(),
        "TASK ERROR: shrinking disks is not supported"
    );
    let bad = sim
        .put(
            "/nodes/pve1/qemu/101/resize",
            &[("disk", "scsi0"), ("size", "-5G")],
        )
        .await;
    assert_eq!(
        bad.body["errors"]["size"],
        "value does not match the regex pattern"
    );
    let post = sim
        .post(
            "/nodes/pve1/qemu/101/resize",
            &[("disk", "scsi0"), ("size", "+1G")],
        )
        .await;
    assert_eq!(post.status, 501, "resize is PUT only");
}

#[tokio::test]
async fn create_allocates_disks_and_macs() {
    let sim = start().await;
    let keys = "ssh-ed25519%20AAAA%20me%40host";
    let params = [
        ("vmid", "200"),
        ("name", "fresh"),
        ("cores", "2"),
        ("memory", "2048"),
        ("scsihw", "virtio-scsi-single"),
        ("scsi0", "local-lvm:8"),
        ("ide2", "local-lvm:cloudinit"),
        ("net0", "virtio,bridge=vmbr1,tag=120"),
        ("ipconfig0", "ip=dhcp"),
        ("sshkeys", keys),
        ("ostype", "l26"),
    ];
    sim.faults.set(
        "pve",
        FaultKnobs {
            task_duration_ms: Some(500),
            ..Default::default()
        },
    );
    let create = sim.post("/nodes/pve1/qemu", &params).await;
    assert_eq!(create.status, 200, "{create:?}");
    assert!(create.data().as_str().unwrap().contains(":qmcreate:200:"));
    let during = sim.get("/nodes/pve1/qemu/200/config", &[]).await;
    assert_eq!(during.data()["lock"], "create");
    assert_eq!(sim.wait(create.data()).await["exitstatus"], "OK");
    let config = sim.get("/nodes/pve1/qemu/200/config", &[]).await;
    let config = config.data();
    assert_eq!(config["scsi0"], "local-lvm:vm-200-disk-0,size=8G");
    assert_eq!(config["ide2"], "local-lvm:vm-200-cloudinit,media=cdrom");
    assert!(config["net0"]
        .as_str()
        .unwrap()
        .starts_with("virtio=BC:24:11:"));
    assert_eq!(config["boot"], "order=scsi0;net0");
    assert_eq!(config["lock"], Value::Null);

    let again = sim.post("/nodes/pve1/qemu", &params).await;
    assert_eq!(
        again.reason,
        "unable to create VM 200 - VM 200 already exists on node 'pve1'"
    );
    let bad_storage = sim
        .post("/nodes/pve1/qemu", &[("vmid", "201"), ("scsi0", "nfs:8")])
        .await;
    assert_eq!(
        bad_storage.reason,
        "unable to create VM 201 - storage 'nfs' does not exist"
    );
}

#[tokio::test]
async fn a_task_can_be_made_to_fail() {
    let sim = start().await;
    let armed = sim
        .admin(
            "POST",
            "/fail-next-task",
            json!({ "type": "qmclone", "message": "clone failed: no space left on device" }),
        )
        .await;
    assert_eq!(armed["fail_next_task"][0]["type"], "qmclone");
    let clone = sim
        .post(
            "/nodes/pve1/qemu/9000/clone",
            &[("newid", "101"), ("name", "doomed")],
        )
        .await;
    let done = sim.wait(clone.data()).await;
    assert_eq!(done["status"], "stopped");
    assert_eq!(done["exitstatus"], "clone failed: no space left on device");
    let log = sim.task_log(clone.data()).await;
    assert_eq!(
        log.last().unwrap(),
        "TASK ERROR: clone failed: no space left on device"
    );
    let gone = sim.get("/nodes/pve1/qemu/101/config", &[]).await;
    assert_eq!(gone.status, 500, "a failed clone leaves nothing behind");
    // Only the next one.
    assert_eq!(sim.clone_vm("101", "fine").await["exitstatus"], "OK");
}

#[tokio::test]
async fn a_start_on_a_missing_bridge_fails_with_qemus_story() {
    let sim = start().await;
    sim.clone_vm("101", "web").await;
    sim.put(
        "/nodes/pve1/qemu/101/config",
        &[("net1", "virtio,bridge=vmbr9")],
    )
    .await;
    let start = sim.post("/nodes/pve1/qemu/101/status/start", &[]).await;
    let done = sim.wait(start.data()).await;
    assert_eq!(done["exitstatus"], "start failed: QEMU exited with code 1");
    assert!(sim
        .task_log(start.data())
        .await
        .iter()
        .any(|l| l == "bridge 'vmbr9' does not exist"));
}

#[tokio::test]
async fn a_start_with_a_missing_iso_fails_like_pve() {
    let sim = start().await;
    for (vmid, iso) in [
        ("200", "local:iso/debian-12.iso"),
        ("201", "local:iso/gone.iso"),
    ] {
        let create = sim
            .post(
                "/nodes/pve1/qemu",
                &[
                    ("vmid", vmid),
                    ("scsi0", "local-lvm:8"),
                    ("ide2", &format!("{iso},media=cdrom")),
                ],
            )
            .await;
        assert_eq!(
            sim.wait(create.data()).await["exitstatus"],
            "OK",
            "{create:?}"
        );
    }
    assert_eq!(sim.start_vm("200").await["exitstatus"], "OK");
    let failed = sim.start_vm("201").await;
    assert_eq!(
        failed["exitstatus"],
        "volume 'local:iso/gone.iso' does not exist"
    );
    let status = sim.get("/nodes/pve1/qemu/201/status/current", &[]).await;
    assert_eq!(status.data()["status"], "stopped");
}

#[tokio::test]
async fn tasks_are_looked_up_like_pve() {
    let sim = start().await;
    let garbage = sim.get("/nodes/pve1/tasks/not-a-upid/status", &[]).await;
    assert_eq!(garbage.status, 400);
    assert_eq!(
        garbage.body["errors"]["upid"],
        "unable to parse worker upid"
    );
    let unknown = "UPID:pve1:00001234:00ABCDEF:65000000:qmstart:101:root@pam!giif:";
    let missing = sim
        .get(
            &format!("/nodes/pve1/tasks/{}/status", encode(unknown)),
            &[],
        )
        .await;
    assert_eq!(missing.body["errors"]["upid"], "no such task");
}

#[tokio::test]
async fn privileges_and_locks_are_enforced() {
    let sim = start().await;
    sim.clone_vm("101", "web").await;
    let token = sim
        .admin(
            "POST",
            "/tokens",
            json!({ "id": "audit@pve!ro", "privileges": ["VM.Audit"] }),
        )
        .await;
    let auth = format!(
        "PVEAPIToken=audit@pve!ro={}",
        token["secret"].as_str().unwrap()
    );
    let read = sim
        .call("GET", "/nodes/pve1/qemu/101/config", &[], Some(&auth))
        .await;
    assert_eq!(read.status, 200);
    let write = sim
        .call(
            "PUT",
            "/nodes/pve1/qemu/101/config",
            &[("net1", "virtio,bridge=vmbr1")],
            Some(&auth),
        )
        .await;
    assert_eq!(
        (write.status, write.reason.as_str()),
        (403, "Permission check failed (/vms/101, VM.Config.Network)")
    );
    let skip = sim
        .put(
            "/nodes/pve1/qemu/101/config",
            &[("cores", "2"), ("skiplock", "1")],
        )
        .await;
    assert_eq!(
        skip.body["errors"]["skiplock"],
        "Only root may use this option."
    );

    sim.admin("POST", "/vms/101/lock", json!({ "lock": "backup" }))
        .await;
    let locked = sim
        .put("/nodes/pve1/qemu/101/config", &[("cores", "2")])
        .await;
    assert_eq!(locked.reason, "VM is locked (backup)");
    sim.admin("DELETE", "/vms/101/lock", Value::Null).await;
    assert_eq!(
        sim.put("/nodes/pve1/qemu/101/config", &[("cores", "2")])
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn out_of_band_changes_show_through_the_api() {
    let sim = start().await;
    sim.clone_vm("101", "web").await;
    sim.admin(
        "PUT",
        "/vms/101/config",
        json!({ "cores": 8, "description": "edited by hand" }),
    )
    .await;
    let config = sim.get("/nodes/pve1/qemu/101/config", &[]).await;
    assert_eq!(config.data()["cores"], 8);
    sim.admin("POST", "/vms/101/start", Value::Null).await;
    assert_eq!(
        sim.get("/nodes/pve1/qemu/101/status/current", &[])
            .await
            .data()["status"],
        "running"
    );
    sim.admin("POST", "/vms/101/stop", Value::Null).await;
    assert_eq!(
        sim.get("/nodes/pve1/qemu/101/status/current", &[])
            .await
            .data()["status"],
        "stopped"
    );
    sim.admin("DELETE", "/vms/101", Value::Null).await;
    assert_eq!(
        sim.get("/nodes/pve1/qemu/101/status/current", &[])
            .await
            .status,
        500
    );
    let state = sim.admin("GET", "/", Value::Null).await;
    assert!(state["vms"]
        .as_array()
        .unwrap()
        .iter()
        .all(|vm| vm["vmid"] != 101));
    assert!(!state["tasks"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn faults_answer_busy_or_drop_the_connection() {
    let sim = start().await;
    sim.faults.set(
        "pve",
        FaultKnobs {
            fail_next: 1,
            ..Default::default()
        },
    );
    let busy = sim.get("/version", &[]).await;
    assert_eq!(
        (busy.status, busy.reason.as_str()),
        (596, "Connection timed out")
    );
    assert_eq!(sim.get("/version", &[]).await.status, 200);

    sim.faults.set(
        "pve",
        FaultKnobs {
            drop_next: 1,
            ..Default::default()
        },
    );
    let url = format!("{}/api2/json/version", sim.cluster.api_url());
    let dropped = sim
        .http
        .get(&url)
        .header("Authorization", &sim.auth)
        .send()
        .await;
    let err = dropped.expect_err("the connection is closed without an answer");
    assert!(!err.is_connect(), "the request went out: {err:?}");
    assert_eq!(sim.get("/version", &[]).await.status, 200);
}

#[tokio::test]
async fn every_request_is_logged_as_a_json_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("requests.jsonl");
    let sim = start_with_log(Some(path.clone())).await;
    sim.clone_vm("101", "web").await;
    sim.put(
        "/nodes/pve1/qemu/101/config",
        &[("net1", "virtio,bridge=vmbr1,tag=13")],
    )
    .await;
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines[0],
        json!({ "method": "POST", "path": "/api2/json/nodes/pve1/qemu/9000/clone", "params": { "newid": "101", "name": "web", "full": "1" } })
    );
    assert!(lines
        .iter()
        .any(|l| l["method"] == "GET" && l["path"].as_str().unwrap().contains("/tasks/UPID")));
    assert_eq!(
        lines.last().unwrap(),
        &json!({ "method": "PUT", "path": "/api2/json/nodes/pve1/qemu/101/config", "params": { "net1": "virtio,bridge=vmbr1,tag=13" } })
    );
}

/// QEMU's monitor through Proxmox: a VNC password is taken only by a
/// running VM started with `password=on`, and is gone after a stop; the
/// request log keeps the command without the password.
#[tokio::test]
async fn the_monitor_sets_a_vnc_password_only_where_qemu_takes_one() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("requests.jsonl");
    let sim = start_with_log(Some(log.clone())).await;
    sim.clone_vm("101", "web").await;
    let sim = &sim;
    let set = |password: &'static str| async move {
        let command = format!("set_password vnc {password}");
        sim.post(
            "/nodes/pve1/qemu/101/monitor",
            &[("command", command.as_str())],
        )
        .await
    };
    let stopped = set("secret01").await;
    assert_eq!(stopped.status, 500, "{stopped:?}");
    assert!(
        format!("{stopped:?}").contains("not running"),
        "{stopped:?}"
    );

    // Started without password=on: QEMU refuses, as it does.
    let plain = sim
        .put(
            "/nodes/pve1/qemu/101/config",
            &[("args", "-vnc 127.0.0.1:101")],
        )
        .await;
    assert_eq!(plain.status, 200, "{plain:?}");
    sim.start_vm("101").await;
    assert_eq!(set("secret01").await.data(), "Could not set password");

    // The new args take effect at the next start; then the password holds
    // until the VM stops.
    let args = "-vnc 127.0.0.1:101,password=on";
    let with_password = sim
        .put("/nodes/pve1/qemu/101/config", &[("args", args)])
        .await;
    assert_eq!(with_password.status, 200, "{with_password:?}");
    assert_eq!(set("secret01").await.data(), "Could not set password");
    let stop = sim.post("/nodes/pve1/qemu/101/status/stop", &[]).await;
    sim.wait(stop.data()).await;
    sim.start_vm("101").await;
    assert_eq!(set("secret01").await.data(), "");
    let state = sim.admin("GET", "/state", Value::Null).await;
    let vm = state["vms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|vm| vm["vmid"] == 101)
        .cloned()
        .unwrap();
    assert_eq!(
        vm["vnc_password_sha256"],
        hex::encode(sha2::Sha256::digest(b"secret01"))
    );
    let stop = sim.post("/nodes/pve1/qemu/101/status/stop", &[]).await;
    sim.wait(stop.data()).await;
    let state = sim.admin("GET", "/state", Value::Null).await;
    let vm = state["vms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|vm| vm["vmid"] == 101)
        .cloned()
        .unwrap();
    assert_eq!(
        vm["vnc_password_sha256"],
        Value::Null,
        "forgotten at the stop"
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("set_password vnc ******"), "{logged}");
    assert!(!logged.contains("secret01"), "{logged}");
}

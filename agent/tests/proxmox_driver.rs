//! The Proxmox VE driver against the simulated cluster, over the real
//! protocol (HTTPS, API token, tasks): happy paths, retries, classified
//! failures, task errors, hot-plug serialization, certificate trust, and
//! the token secret kept out of every message.

#![allow(clippy::unwrap_used)] // test helpers may panic: that is how a test fails

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use giif_agent::credentials::Secret;
use giif_agent::drivers::error::ErrorClass;
use giif_agent::drivers::hypervisor::{
    CloneSpec, CloudInit, CloudInitUpdate, Hypervisor, IpConfig, Nic, PowerState, VmRef, VmSpec,
    VmUpdate,
};
use giif_agent::drivers::proxmox::{
    parse_fingerprint, ProxmoxConfig, ProxmoxDriver, PveTrust, TaskPoll,
};
use giif_agent::drivers::retry::RetryPolicy;
use giif_sim::events;
use giif_sim::faults::{FaultKnobs, Faults};
use giif_sim::pve::PveCluster;
use giif_sim::site::{NodeSpec, ProxmoxSpec, TemplateSpec};
use serde_json::Value;

const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx/8+Ul= student@lab";

fn node(name: &str) -> NodeSpec {
    NodeSpec {
        name: name.into(),
        storage: vec!["local-lvm".into()],
        bridges: vec!["vmbr0".into(), "vmbr1".into()],
        cores: 16,
        memory_mb: 65536,
    }
}

struct Site {
    cluster: PveCluster,
    faults: Faults,
    _dir: tempfile::TempDir,
    log: PathBuf,
}

impl Site {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("pve-requests.jsonl");
        let spec = ProxmoxSpec {
            nodes: vec![node("pve1"), node("pve2")],
            templates: vec![TemplateSpec {
                vmid: 9000,
                name: "debian-12".into(),
                node: "pve1".into(),
                pagw: false,
                disk_gb: 10,
            }],
            task_duration_ms: 40,
            iso_volumes: vec!["local:iso/debian-12.iso".into()],
        };
        let faults = Faults::default();
        let cluster = PveCluster::start(spec, faults.clone(), events::channel(), Some(log.clone()))
            .await
            .unwrap();
        Site {
            cluster,
            faults,
            _dir: dir,
            log,
        }
    }

    fn config(&self, trust: PveTrust) -> ProxmoxConfig {
        ProxmoxConfig {
            retry: RetryPolicy::quick(),
            task_poll: TaskPoll::quick(),
            request_timeout: Duration::from_secs(10),
            ..ProxmoxConfig::new(
                self.cluster.api_url(),
                self.cluster.token_id(),
                Secret::new(self.cluster.token_secret()),
                trust,
            )
        }
    }

    fn driver(&self) -> ProxmoxDriver {
        ProxmoxDriver::new(self.config(PveTrust::CaPem(self.cluster.ca_pem()))).unwrap()
    }

    fn faults(&self, knobs: FaultKnobs) {
        self.faults.set("pve", knobs);
    }

    /// The requests the cluster saw, as `METHOD path` lines.
    fn requests(&self) -> Vec<(String, String, Value)> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .map(|v| {
                (
                    v["method"].as_str().unwrap().to_string(),
                    v["path"].as_str().unwrap().to_string(),
                    v["params"].clone(),
                )
            })
            .collect()
    }
}

impl Drop for Site {
    /// With GIIF_PVE_REQUEST_LOG set, every request of every test is also
    /// appended there, to check against the real API schema afterwards.
    fn drop(&mut self) {
        if let Ok(path) = std::env::var("GIIF_PVE_REQUEST_LOG") {
            use std::io::Write;
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            if let Ok(mut file) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
            {
                let _ = file.write_all(text.as_bytes());
            }
        }
    }
}

fn template() -> VmRef {
    VmRef::new("pve1", 9000)
}

fn clone_spec(vmid: u32, name: &str) -> CloneSpec {
    CloneSpec {
        vmid,
        name: name.into(),
        target_node: None,
        storage: None,
        full: true,
        description: Some(giif_agent::ownership::mark(name)),
    }
}

#[tokio::test]
async fn a_vm_lives_its_whole_life() {
    let site = Site::start().await;
    let pve = site.driver();
    let vmid = pve.next_free_id().await.unwrap();
    assert_eq!(vmid, 100);

    let vm = pve
        .clone_vm(&template(), &clone_spec(vmid, "web-1"))
        .await
        .unwrap();
    assert_eq!(vm.vm, VmRef::new("pve1", vmid));
    assert_eq!(
        (vm.name.as_str(), vm.power.clone(), vm.template),
        ("web-1", PowerState::Stopped, false)
    );
    assert_eq!(vm.disks["scsi0"].size_gb(), 10);
    assert!(vm.nics[&0].mac.is_some());
    let vm_ref = vm.vm.clone();

    let update = VmUpdate {
        cores: Some(2),
        memory_mb: Some(2048),
        cloud_init: Some(CloudInitUpdate {
            user: Some("student".into()),
            ssh_keys: Some(vec![KEY.into()]),
            ip: BTreeMap::from([(
                0,
                Some(IpConfig::Static {
                    address: "192.168.212.130/24".into(),
                    gateway: Some("192.168.212.1".into()),
                }),
            )]),
        }),
        nics: BTreeMap::from([(0, Some(Nic::virtio("vmbr1", Some(120))))]),
        ..Default::default()
    };
    let updated = pve.update_vm(&vm_ref, &update).await.unwrap();
    assert_eq!((updated.cores, updated.memory_mb), (2, 2048));
    assert_eq!(updated.cloud_init.user.as_deref(), Some("student"));
    assert_eq!(updated.cloud_init.ssh_keys, [KEY]);
    assert_eq!(updated.nics[&0].vlan, Some(120));
    assert_eq!(
        updated.nics[&0].mac, vm.nics[&0].mac,
        "changing a NIC keeps its MAC"
    );

    pve.resize_disk(&vm_ref, "scsi0", 20).await.unwrap();
    pve.resize_disk(&vm_ref, "scsi0", 20).await.unwrap();
    let shrink = pve.resize_disk(&vm_ref, "scsi0", 5).await.unwrap_err();
    assert_eq!(shrink.class, ErrorClass::Permanent);
    assert!(
        shrink.message.contains("shrinking disks is not supported"),
        "{shrink}"
    );

    pve.start_vm(&vm_ref).await.unwrap();
    pve.start_vm(&vm_ref).await.unwrap();
    let running = pve.read_vm(&vm_ref).await.unwrap();
    assert_eq!(running.power, PowerState::Running);
    assert_eq!(running.disks["scsi0"].size_gb(), 20);

    let plugged = pve
        .plug_nic(&vm_ref, 1, &Nic::virtio("vmbr1", Some(3001)))
        .await
        .unwrap();
    assert!(plugged.mac.is_some());
    assert_eq!(plugged.vlan, Some(3001));
    let again = pve
        .plug_nic(&vm_ref, 1, &Nic::virtio("vmbr1", Some(3001)))
        .await
        .unwrap();
    assert_eq!(
        again, plugged,
        "plugging the same NIC twice changes nothing"
    );
    assert_eq!(pve.read_vm(&vm_ref).await.unwrap().nics[&1], plugged);
    pve.unplug_nic(&vm_ref, 1).await.unwrap();
    pve.unplug_nic(&vm_ref, 1).await.unwrap();
    assert!(!pve.read_vm(&vm_ref).await.unwrap().nics.contains_key(&1));

    pve.shutdown_vm(&vm_ref, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(
        pve.read_vm(&vm_ref).await.unwrap().power,
        PowerState::Stopped
    );
    pve.stop_vm(&vm_ref).await.unwrap();

    let list = pve.list_vms("pve1").await.unwrap();
    let ids: Vec<u32> = list.iter().map(|s| s.vm.vmid).collect();
    assert_eq!(ids, [vmid, 9000]);
    assert!(list[1].template);

    pve.start_vm(&vm_ref).await.unwrap();
    pve.delete_vm(&vm_ref).await.unwrap();
    let gone = pve.read_vm(&vm_ref).await.unwrap_err();
    assert_eq!(gone.class, ErrorClass::NotFound);
}

#[tokio::test]
async fn a_vm_can_be_built_without_a_template() {
    let site = Site::start().await;
    let pve = site.driver();
    let spec = VmSpec {
        name: "installer".into(),
        cores: 2,
        memory_mb: 4096,
        disk: Some(("local-lvm".into(), 32)),
        iso: Some("local:iso/debian-12.iso".into()),
        nics: BTreeMap::from([(0, Nic::virtio("vmbr1", Some(150)))]),
        cloud_init: Some((
            "local-lvm".into(),
            CloudInit {
                user: Some("admin".into()),
                ssh_keys: vec![KEY.into()],
                ip: BTreeMap::from([(0, IpConfig::Dhcp)]),
            },
        )),
        description: Some(giif_agent::ownership::mark("vm-installer")),
    };
    let vm = pve.create_vm("pve1", 200, &spec).await.unwrap();
    // The mark is part of the create call and reads back.
    assert_eq!(
        giif_agent::ownership::owner(&vm.description),
        Some("vm-installer")
    );
    assert_eq!(
        (vm.cores, vm.memory_mb, vm.disks["scsi0"].size_gb()),
        (2, 4096, 32)
    );
    assert_eq!(vm.nics[&0].vlan, Some(150));
    assert_eq!(vm.cloud_init.ip[&0], IpConfig::Dhcp);
    assert_eq!(vm.cloud_init.ssh_keys, [KEY]);

    let twice = pve.create_vm("pve1", 200, &spec).await.unwrap_err();
    assert_eq!(twice.class, ErrorClass::Permanent);
    assert!(twice.message.contains("VM 200 already exists"), "{twice}");
}

#[tokio::test]
async fn a_transient_failure_is_retried_until_it_succeeds() {
    let site = Site::start().await;
    let pve = site.driver();
    site.faults(FaultKnobs {
        fail_next: 2,
        ..Default::default()
    });
    assert_eq!(pve.next_free_id().await.unwrap(), 100);
    site.faults(FaultKnobs {
        fail_next: 1,
        ..Default::default()
    });
    let vm = pve
        .clone_vm(&template(), &clone_spec(101, "busy"))
        .await
        .unwrap();
    assert_eq!(vm.name, "busy");
    let clones = site
        .requests()
        .iter()
        .filter(|(m, p, _)| m == "POST" && p.ends_with("/clone"))
        .count();
    assert_eq!(
        clones, 2,
        "the busy answer came before PVE did anything, so the clone was sent again"
    );
}

#[tokio::test]
async fn a_permanent_failure_surfaces_once_in_pves_words() {
    let site = Site::start().await;
    let pve = site.driver();
    let vm = pve
        .clone_vm(&template(), &clone_spec(101, "web"))
        .await
        .unwrap()
        .vm;
    let err = pve
        .clone_vm(&template(), &clone_spec(101, "again"))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent);
    assert_eq!(err.target, "pve:pve1");
    assert_eq!(err.action, "POST /nodes/pve1/qemu/9000/clone");
    assert_eq!(
        err.message,
        "HTTP 500: unable to create VM 101: config file already exists"
    );
    let clones = site
        .requests()
        .iter()
        .filter(|(m, p, _)| m == "POST" && p.ends_with("/clone"))
        .count();
    assert_eq!(clones, 2, "the second clone was sent once, not retried");

    // What PVE would refuse is refused before it is sent.
    let bad = Nic::virtio("vmbr1", Some(5000));
    let err = pve.plug_nic(&vm, 1, &bad).await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent);
    assert!(
        err.message.contains("VLAN tag 5000 is outside 1-4094"),
        "{err}"
    );
    assert_eq!(
        site.requests()
            .iter()
            .filter(|(m, _, _)| m == "PUT")
            .count(),
        0
    );

    let stale = VmUpdate {
        cores: Some(4),
        if_revision: Some("0000000000000000000000000000000000000000".into()),
        ..Default::default()
    };
    let err = pve.update_vm(&vm, &stale).await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent);
    assert!(err.message.contains("checksum mismatch"), "{err}");
}

#[tokio::test]
async fn a_dropped_connection_is_recovered() {
    let site = Site::start().await;
    let pve = site.driver();
    let vm = pve
        .clone_vm(&template(), &clone_spec(101, "web"))
        .await
        .unwrap()
        .vm;

    // A read is simply sent again.
    site.faults(FaultKnobs {
        drop_next: 1,
        ..Default::default()
    });
    assert_eq!(pve.read_vm(&vm).await.unwrap().name, "web");

    // A change may have happened: the caller is told to look.
    pve.start_vm(&vm).await.unwrap();
    site.faults(FaultKnobs {
        drop_next: 1,
        ..Default::default()
    });
    let err = pve.stop_vm(&vm).await.unwrap_err();
    assert_eq!(err.class, ErrorClass::MaybeApplied, "{err}");
    assert!(
        err.message
            .contains("connection lost after the request was sent"),
        "{err}"
    );
    // The caller re-reads: this time it had not happened, so it asks again.
    assert_eq!(pve.read_vm(&vm).await.unwrap().power, PowerState::Running);
    pve.stop_vm(&vm).await.unwrap();
    assert_eq!(pve.read_vm(&vm).await.unwrap().power, PowerState::Stopped);
}

#[tokio::test]
async fn a_failed_task_brings_its_exit_status_and_log() {
    let site = Site::start().await;
    let pve = site.driver();
    site.cluster.fail_next_task(
        "qmclone",
        "clone failed: lvcreate 'pve/vm-101-disk-0' error: no space left on device",
    );
    let err = pve
        .clone_vm(&template(), &clone_spec(101, "doomed"))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent);
    assert_eq!(err.target, "pve:pve1");
    assert!(
        err.message
            .starts_with("task qmclone 9000 failed: clone failed: lvcreate"),
        "{err}"
    );
    assert!(
        err.message
            .contains("create full clone of drive scsi0 (local-lvm:base-9000-disk-0)"),
        "{err}"
    );
    assert!(err.message.contains("TASK ERROR: clone failed"), "{err}");
    assert_eq!(
        pve.read_vm(&VmRef::new("pve1", 101))
            .await
            .unwrap_err()
            .class,
        ErrorClass::NotFound
    );

    // QEMU's own story of a failed start, from the task log.
    let vm = pve
        .clone_vm(&template(), &clone_spec(102, "lost"))
        .await
        .unwrap()
        .vm;
    let elsewhere = VmUpdate {
        nics: BTreeMap::from([(0, Some(Nic::virtio("vmbr9", None)))]),
        ..Default::default()
    };
    pve.update_vm(&vm, &elsewhere).await.unwrap();
    let err = pve.start_vm(&vm).await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent);
    assert!(
        err.message
            .contains("start failed: QEMU exited with code 1"),
        "{err}"
    );
    assert!(
        err.message.contains("bridge 'vmbr9' does not exist"),
        "{err}"
    );
}

#[tokio::test]
async fn concurrent_hotplugs_on_one_vm_are_serialized_not_failed() {
    let site = Site::start().await;
    let pve = site.driver();
    let vm = pve
        .clone_vm(&template(), &clone_spec(101, "gw"))
        .await
        .unwrap()
        .vm;
    pve.start_vm(&vm).await.unwrap();
    // Each hot-plug holds the VM's lock longer than another writer waits.
    site.cluster.set_lock_timing(50, Some(250));
    let started = Instant::now();
    let nics = [3001, 3002, 3003].map(|vlan| Nic::virtio("vmbr1", Some(vlan)));
    let (a, b, c) = tokio::join!(
        pve.plug_nic(&vm, 1, &nics[0]),
        pve.plug_nic(&vm, 2, &nics[1]),
        pve.plug_nic(&vm, 3, &nics[2]),
    );
    assert_eq!(a.unwrap().vlan, Some(3001));
    assert_eq!(b.unwrap().vlan, Some(3002));
    assert_eq!(c.unwrap().vlan, Some(3003));
    assert!(
        started.elapsed() >= Duration::from_millis(750),
        "one after the other"
    );
    assert_eq!(
        site.cluster.state_json()["lock_timeouts"],
        0,
        "no request ever hit PVE's lock (so none needed a retry)"
    );
    let nics = pve.read_vm(&vm).await.unwrap().nics;
    assert_eq!(nics.len(), 4);
}

#[tokio::test]
async fn trust_by_ca_or_fingerprint_and_nothing_else() {
    let site = Site::start().await;
    let other = Site::start().await;

    let by_ca = site.driver();
    assert_eq!(by_ca.next_free_id().await.unwrap(), 100);

    let fingerprint = parse_fingerprint(&site.cluster.ssl_fingerprint()).unwrap();
    let by_pin = ProxmoxDriver::new(site.config(PveTrust::Fingerprint(fingerprint))).unwrap();
    assert_eq!(by_pin.next_free_id().await.unwrap(), 100);

    let started = Instant::now();
    let wrong_ca =
        ProxmoxDriver::new(site.config(PveTrust::CaPem(other.cluster.ca_pem()))).unwrap();
    let err = wrong_ca.next_free_id().await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent, "{err}");
    assert!(
        err.message.starts_with("TLS: the server is not trusted"),
        "{err}"
    );

    let wrong_pin = ProxmoxDriver::new(site.config(PveTrust::Fingerprint([7; 32]))).unwrap();
    let err = wrong_pin.next_free_id().await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Permanent, "{err}");
    assert!(
        err.message.starts_with("TLS: the server is not trusted"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "refusals are not retried"
    );

    let other_pin = parse_fingerprint(&other.cluster.ssl_fingerprint()).unwrap();
    let pinned_elsewhere =
        ProxmoxDriver::new(site.config(PveTrust::Fingerprint(other_pin))).unwrap();
    assert_eq!(
        pinned_elsewhere.next_free_id().await.unwrap_err().class,
        ErrorClass::Permanent
    );
}

#[tokio::test]
async fn missing_vms_are_not_found() {
    let site = Site::start().await;
    let pve = site.driver();
    let ghost = VmRef::new("pve1", 777);
    assert_eq!(
        pve.read_vm(&ghost).await.unwrap_err().class,
        ErrorClass::NotFound
    );
    assert_eq!(
        pve.delete_vm(&ghost).await.unwrap_err().class,
        ErrorClass::NotFound
    );
    assert_eq!(
        pve.stop_vm(&ghost).await.unwrap_err().class,
        ErrorClass::NotFound
    );
    assert_eq!(
        pve.unplug_nic(&ghost, 1).await.unwrap_err().class,
        ErrorClass::NotFound
    );
    // A VM on another node is not on this one.
    assert_eq!(
        pve.read_vm(&VmRef::new("pve2", 9000))
            .await
            .unwrap_err()
            .class,
        ErrorClass::NotFound
    );

    // Deleted behind the driver's back.
    let vm = pve
        .clone_vm(&template(), &clone_spec(101, "web"))
        .await
        .unwrap()
        .vm;
    assert!(site.cluster.delete_vm(101));
    let err = pve.read_vm(&vm).await.unwrap_err();
    assert_eq!(err.class, ErrorClass::NotFound);
    assert!(err
        .message
        .contains("Configuration file 'nodes/pve1/qemu-server/101.conf' does not exist"));
}

#[tokio::test]
async fn a_locked_vm_is_waited_for_then_reported() {
    let site = Site::start().await;
    let patient = RetryPolicy {
        deadline: Duration::from_millis(600),
        ..RetryPolicy::quick()
    };
    let pve = ProxmoxDriver::new(ProxmoxConfig {
        retry: patient,
        ..site.config(PveTrust::CaPem(site.cluster.ca_pem()))
    })
    .unwrap();
    let vm = pve
        .clone_vm(&template(), &clone_spec(101, "web"))
        .await
        .unwrap()
        .vm;
    site.cluster.set_vm_lock(101, Some("backup"));
    let started = Instant::now();
    let err = pve
        .update_vm(
            &vm,
            &VmUpdate {
                cores: Some(2),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.class,
        ErrorClass::Transient,
        "retried until the deadline"
    );
    assert!(err.message.contains("VM is locked (backup)"), "{err}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    let puts = site
        .requests()
        .iter()
        .filter(|(m, _, _)| m == "PUT")
        .count();
    assert!(puts > 1, "retried while locked ({puts} attempts)");
}

#[tokio::test]
async fn the_token_secret_never_shows() {
    let site = Site::start().await;
    let secret = site.cluster.token_secret();
    let config = site.config(PveTrust::CaPem(site.cluster.ca_pem()));
    assert!(!format!("{config:?}").contains(&secret));
    let pve = ProxmoxDriver::new(config).unwrap();
    assert!(!format!("{pve:?}").contains(&secret));

    let mut errors = Vec::new();
    errors.push(pve.read_vm(&VmRef::new("pve1", 777)).await.unwrap_err());
    errors.push(
        pve.clone_vm(&template(), &clone_spec(9000, "clash"))
            .await
            .unwrap_err(),
    );
    let wrong = ProxmoxConfig {
        token_secret: Secret::new(format!("{secret}-wrong")),
        ..site.config(PveTrust::CaPem(site.cluster.ca_pem()))
    };
    let refused = ProxmoxDriver::new(wrong)
        .unwrap()
        .next_free_id()
        .await
        .unwrap_err();
    assert_eq!(refused.class, ErrorClass::Permanent);
    assert!(refused.message.contains("401"), "{refused}");
    errors.push(refused);
    let untrusted = ProxmoxDriver::new(site.config(PveTrust::Fingerprint([1; 32]))).unwrap();
    errors.push(untrusted.next_free_id().await.unwrap_err());
    for err in errors {
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(&secret), "{shown}");
    }
}

/// A VM with only a name and notes, as someone would make it by hand.
fn by_hand(name: &str, description: &str) -> VmSpec {
    VmSpec {
        name: name.into(),
        cores: 1,
        memory_mb: 512,
        disk: None,
        iso: None,
        nics: BTreeMap::new(),
        cloud_init: None,
        description: Some(description.into()),
    }
}

#[tokio::test]
async fn only_vms_with_giif_mark_are_adopted_or_deleted() {
    use giif_agent::ownership::{find_own_vm, mark, ours_to_delete, owner};
    use giif_agent::store::{Store, VmidOwner};

    let site = Site::start().await;
    let pve = site.driver();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!(
        "sqlite://{}",
        dir.path().join("agent.db").display()
    ))
    .await
    .unwrap();
    let hold = |vmid: i64, owner: &'static str| {
        let store = store.clone();
        async move {
            sqlx::query(
                "INSERT INTO vmid_allocations (vmid, owner_kind, owner_id) VALUES ($1, 'vm', $2)",
            )
            .bind(vmid)
            .bind(owner)
            .execute(store.pool())
            .await
            .unwrap();
        }
    };

    // An operator's VM, and one forging another object's mark, sit at the
    // ids giif holds for vm-new: it steps over both to the next free id.
    pve.create_vm("pve1", 100, &by_hand("ops-db", "the operator's database"))
        .await
        .unwrap();
    pve.create_vm("pve1", 101, &by_hand("ops-web", &mark("vm-other")))
        .await
        .unwrap();
    hold(100, "vm-new").await;
    let mut vmid = 100;
    let found = find_own_vm(
        &store,
        &pve,
        VmidOwner::Vm,
        "vm-new",
        "pve1",
        &mut vmid,
        "ops-db",
    )
    .await
    .unwrap();
    assert_eq!((found, vmid), (None, 102));
    // Only 102 counts as giif's; 100 and 101 are never chosen again.
    assert_eq!(store.vmid_allocation_count().await.unwrap(), 1);
    for id in [100, 101] {
        let vm = VmRef::new("pve1", id);
        assert!(!ours_to_delete(&store, &pve, "vm-new", &vm, "ops-db")
            .await
            .unwrap());
        assert!(pve.read_vm(&vm).await.is_ok(), "VM {id} was touched");
    }

    // Its own mark makes a VM giif's.
    pve.create_vm("pve1", 102, &by_hand("web", &mark("vm-new")))
        .await
        .unwrap();
    let mut vmid = 102;
    let found = find_own_vm(
        &store,
        &pve,
        VmidOwner::Vm,
        "vm-new",
        "pve1",
        &mut vmid,
        "web",
    )
    .await
    .unwrap();
    assert_eq!(found.map(|state| state.vm.vmid), Some(102));
    assert!(
        ours_to_delete(&store, &pve, "vm-new", &VmRef::new("pve1", 102), "web")
            .await
            .unwrap()
    );

    // A VM an older agent made (recorded as such by the migration) is
    // adopted by its name once, and marked.
    sqlx::query("INSERT INTO made_before_marks (object_id) VALUES ('vm-old')")
        .execute(store.pool())
        .await
        .unwrap();
    pve.create_vm("pve1", 110, &by_hand("legacy", "made in 2025"))
        .await
        .unwrap();
    hold(110, "vm-old").await;
    let mut vmid = 110;
    let found = find_own_vm(
        &store,
        &pve,
        VmidOwner::Vm,
        "vm-old",
        "pve1",
        &mut vmid,
        "legacy",
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(vmid, 110);
    assert_eq!(owner(&found.description), Some("vm-old"));
    assert!(found.description.starts_with("made in 2025"));
    assert!(!store.made_before_marks("vm-old").await.unwrap());
}

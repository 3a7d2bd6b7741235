//! `giif-sim` as users run it: the binary writes the agent inventory for
//! its site, `giif-agent inventory import` loads it, and `giif-agent site
//! check` reaches every device through the real drivers. A device the
//! admin API breaks shows up as a failure naming it.

#![allow(clippy::unwrap_used)] // test helpers may panic: that is how a test fails

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use giif_tests::binary;
use giif_tests::site::http;

const SITE: &str = r#"
[servers]
count = 2
list = [{ name = "old1", service_tag = "OLD0001", vlan = 3100, macs = ["d0:94:66:09:00:01"], firmware = "idrac8" }]

[proxmox]
nodes = [{ name = "pve1" }]
templates = [{ vmid = 9000, name = "pagw-template", node = "pve1", pagw = true }]

[[pagw_slots]]
public_ip = "203.0.113.10"
gateway = "203.0.113.1"
host = "pve1"
"#;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn agent(args: &[&str]) -> std::process::Output {
    Command::new(binary("giif-agent"))
        .args(args)
        .env("GIIF_LOG", "error")
        .output()
        .unwrap()
}

#[test]
fn sim_inventory_import_and_site_check() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site.toml");
    std::fs::write(&site, SITE).unwrap();
    let inventory_dir = dir.path().join("sim");
    let admin_file = dir.path().join("admin-addr");
    let _sim = Killed(
        Command::new(binary("giif-sim"))
            .arg("--site")
            .arg(&site)
            .arg("--inventory-dir")
            .arg(&inventory_dir)
            .arg("--request-log")
            .arg(dir.path().join("pve.jsonl"))
            .arg("--admin-addr-file")
            .arg(&admin_file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !admin_file.exists() {
        assert!(Instant::now() < deadline, "giif-sim did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let admin = std::fs::read_to_string(&admin_file).unwrap();

    // Credentials are files of their own, readable by the owner only.
    let credentials = inventory_dir.join("credentials");
    for entry in std::fs::read_dir(&credentials).unwrap() {
        let path = entry.unwrap().path();
        if path
            .extension()
            .is_some_and(|e| e == "password" || e == "secret")
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", path.display());
        }
    }
    let inventory = std::fs::read_to_string(inventory_dir.join("site.toml")).unwrap();
    assert!(
        !inventory.contains("password = \""),
        "no secret inline in the inventory:\n{inventory}"
    );

    let agent_dir = dir.path().join("agent");
    let config = agent_dir.join("agent.toml");
    let config = config.to_str().unwrap();
    assert!(agent(&["init", "--dir", agent_dir.to_str().unwrap()])
        .status
        .success());
    let import = agent(&[
        "inventory",
        "import",
        inventory_dir.join("site.toml").to_str().unwrap(),
        "--config",
        config,
    ]);
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
    assert!(String::from_utf8_lossy(&import.stdout).contains("3 bare-metal servers"));

    // Twice: the iDRAC8 answers every second getsysinfo with nothing and
    // appends its default-password warning; the driver asks again and
    // reads past the warning.
    for _ in 0..2 {
        let check = agent(&["site", "check", "--config", config]);
        let report = String::from_utf8_lossy(&check.stdout).to_string();
        assert!(check.status.success(), "{report}");
        assert!(report.contains("ok    idrac bms01"), "{report}");
        assert!(report.contains("BMC firmware 7.00.00.172"), "{report}");
        assert!(report.contains("ok    idrac old1"), "{report}");
        assert!(report.contains("BMC firmware 2.30.30.30"), "{report}");
        assert!(report.contains("ok    proxmox pve1"), "{report}");
        assert!(report.contains("5 devices, 0 failed"), "{report}");
    }

    // Break one iDRAC through the admin API: every connection dropped.
    let (status, answer) = http(
        &admin,
        "PUT",
        "/faults/idrac:bms02",
        Some(r#"{"drop_rate": 1.0}"#),
    );
    assert_eq!(status, 200, "{answer}");
    let check = agent(&["site", "check", "--config", config]);
    let report = String::from_utf8_lossy(&check.stdout).to_string();
    assert!(!check.status.success());
    assert!(report.contains("FAIL  idrac bms02"), "{report}");
    assert!(report.contains("ok    idrac bms01"), "{report}");
}

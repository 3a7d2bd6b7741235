//! The Redfish driver against OpenStack's sushy-tools emulator, a Redfish
//! implementation this project did not write: power, virtual media, the
//! one-time boot, a BMC without a console or drive erasure, basic
//! authentication over TLS with the certificate pinned on first use, a wrong
//! password and a changed certificate. What the emulator lacks (sessions,
//! ETags, task monitors, Dell's paths) is in `redfish_shapes`, against the
//! recorded shapes of an iDRAC9.

#![allow(clippy::unwrap_used)] // test helpers may panic: that is how a test fails

#[path = "redfish/shapes.rs"]
mod redfish_shapes;

use std::sync::Arc;
use std::time::Duration;

use giif_agent::credentials::Secret;
use giif_agent::drivers::bmc::{Bmc, MediaSource, PowerAction, PowerState};
use giif_agent::drivers::host_keys::{HostKeyPins, MemoryPins};
use giif_agent::drivers::redfish::{Redfish, RedfishConfig};
use giif_agent::drivers::retry::RetryPolicy;
use giif_agent::drivers::ErrorClass;
use giif_tests::sushy::{image_server, self_signed, Sushy, SushyOptions, SYSTEM_MAC};

const USER: &str = "giif";
const PASSWORD: &str = "canary-bmc-password-7c1e";

pub fn config(url: &str, password: &str) -> RedfishConfig {
    let mut config = RedfishConfig::new("bms-rf", url, USER, Secret::new(password));
    config.min_interval = Duration::from_millis(5);
    config.retry = RetryPolicy::quick();
    config.poll = Duration::from_millis(250);
    // The emulator applies a power change 1 to 11 s after the request.
    config.power_wait = Duration::from_secs(30);
    config.task_wait = Duration::from_secs(20);
    config
}

fn driver(url: &str, password: &str, pins: &Arc<MemoryPins>) -> Redfish {
    let pins: Arc<dyn HostKeyPins> = pins.clone();
    Redfish::new(config(url, password), pins).expect("driver")
}

#[tokio::test]
async fn power_media_and_boot_on_sushy_over_http() {
    let sushy = Sushy::start(&SushyOptions::default());
    let pins = Arc::new(MemoryPins::default());
    let bmc = driver(&sushy.url, PASSWORD, &pins);

    let info = bmc.system_info().await.expect("system info");
    assert_eq!(info.power, PowerState::Off);
    assert_eq!(info.nic_macs, vec![SYSTEM_MAC.to_string()]);

    bmc.power(PowerAction::On).await.expect("power on");
    assert_eq!(bmc.power_state().await.expect("state"), PowerState::On);
    // On is a state: asking again changes nothing.
    bmc.power(PowerAction::On).await.expect("power on again");
    bmc.power(PowerAction::Off).await.expect("power off");
    assert_eq!(bmc.power_state().await.expect("state"), PowerState::Off);

    let (images, server) = image_server(b"an ISO 9660 image").await;
    let image = format!("{images}/installer.iso");
    let source = MediaSource {
        image: image.clone(),
        user: None,
        password: None,
    };
    bmc.attach_media(&source).await.expect("insert");
    assert_eq!(
        bmc.media_status().await.expect("media").image,
        Some(image.clone())
    );
    let cd = sushy
        .read(&format!("{}/VirtualMedia/Cd", Sushy::system_path()))
        .await;
    assert_eq!(
        (cd["Image"].as_str(), cd["Inserted"].as_bool()),
        (Some(image.as_str()), Some(true)),
        "{cd}"
    );
    // Another image replaces it: eject first, then insert.
    let other = format!("{images}/rescue.iso");
    bmc.attach_media(&MediaSource {
        image: other.clone(),
        ..source.clone()
    })
    .await
    .expect("replace");
    assert_eq!(bmc.media_status().await.expect("media").image, Some(other));

    bmc.boot_once_from_media().await.expect("boot once");
    let system = sushy.read(&Sushy::system_path()).await;
    assert_eq!(system["Boot"]["BootSourceOverrideTarget"], "Cd", "{system}");

    bmc.detach_media().await.expect("eject");
    assert_eq!(bmc.media_status().await.expect("media").image, None);
    bmc.detach_media()
        .await
        .expect("eject with nothing inserted");
    server.abort();

    // What the emulator's BMC does not have is said so, not pretended.
    let console = bmc.console_settings().await.expect_err("no VNC");
    assert_eq!(console.class, ErrorClass::Unsupported, "{console}");
    let erase = bmc.erase_disks().await.expect_err("no SecureErase");
    assert_eq!(erase.class, ErrorClass::Unsupported, "{erase}");
    assert!(
        erase
            .message
            .contains("Drive.SecureErase is not offered by /redfish/v1/Systems/"),
        "{erase}"
    );
    assert!(erase.message.contains("not erased"), "{erase}");
}

#[tokio::test]
async fn tls_with_basic_auth_pins_the_certificate_and_refuses_others() {
    let (cert, key) = self_signed();
    let options = SushyOptions {
        tls: Some((cert, key)),
        basic_auth: Some((USER.to_string(), PASSWORD.to_string())),
        port: None,
    };
    let sushy = Sushy::start(&options);
    let pins = Arc::new(MemoryPins::default());
    let bmc = driver(&sushy.url, PASSWORD, &pins);
    assert_eq!(bmc.power_state().await.expect("state"), PowerState::Off);
    bmc.power(PowerAction::On).await.expect("power on");
    let endpoint = format!("https://{}", sushy.addr);
    let pinned = pins
        .pinned(&endpoint)
        .await
        .unwrap()
        .expect("pinned on first use");
    assert_eq!(pinned.len(), 95, "SHA-256 as AA:BB:..: {pinned}");

    // A wrong password is refused for good, and the password is not told.
    let wrong = driver(&sushy.url, "not-the-password", &pins);
    let error = wrong.power_state().await.expect_err("refused");
    assert_eq!(error.class, ErrorClass::Permanent, "{error}");
    assert!(error.message.contains("refused user \"giif\""), "{error}");
    assert!(
        !error.to_string().contains("not-the-password") && !format!("{wrong:?}").contains(PASSWORD)
    );

    // The same address with another certificate is not the BMC we pinned.
    let port = sushy.addr.port();
    drop(sushy);
    let (cert, key) = self_signed();
    let impostor = Sushy::start(&SushyOptions {
        tls: Some((cert, key)),
        port: Some(port),
        ..options.clone()
    });
    let fresh = driver(&impostor.url, PASSWORD, &pins);
    let error = fresh.power_state().await.expect_err("impostor");
    assert_eq!(error.class, ErrorClass::Permanent, "{error}");
    assert!(
        error.message.contains("not the one pinned on first use"),
        "{error}"
    );
    assert!(
        error
            .message
            .contains(&format!("giif-agent host-keys forget {endpoint}")),
        "{error}"
    );
    // Forgetting the pin (what the command does) trusts the new certificate.
    let forgotten = Arc::new(MemoryPins::default());
    let trusted = driver(&impostor.url, PASSWORD, &forgotten);
    assert_eq!(trusted.power_state().await.expect("state"), PowerState::Off);
}

/// The site file's `idrac` tables of `server` become a `bmc` table that
/// points at `url` (plain HTTP: the emulator instance without TLS).
fn redfish_server(site_file: &str, server: &str, url: &str) -> String {
    let entry = site_file
        .find(&format!("name = \"{server}\""))
        .expect("the server's entry");
    let start = entry
        + site_file[entry..]
            .find("[bms.idrac]")
            .expect("its idrac table");
    let password = start
        + site_file[start..]
            .find("[bms.idrac.password]")
            .expect("its password");
    let file_line = password + site_file[password..].find("file = ").expect("a file");
    let end = file_line + site_file[file_line..].find('\n').expect("line end");
    let file = &site_file[file_line..end];
    format!(
        "{}[bms.bmc]\ndriver = \"redfish\"\nurl = \"{url}\"\nplain_http = true\nuser = \"{USER}\"\n\n[bms.bmc.password]\n{file}{}",
        &site_file[..start],
        &site_file[end..]
    )
}

/// The assignment lifecycle through the real terraform with one server
/// whose BMC is the emulator: power and the ISO as Redfish shows them, an
/// empty plan read back live, the console reported unavailable, and a
/// release that asks for an erase the BMC cannot do quarantining the server.
#[tokio::test(flavor = "multi_thread")]
async fn a_redfish_server_through_terraform() {
    use giif_tests::guacamole_db::{GuacFlavor, GuacamoleDb};
    use giif_tests::site::{pagw_slots, TestSite};
    use giif_tests::terraform::Workspace;

    let sushy = Sushy::start(&SushyOptions::default());
    let (images, server) = image_server(b"an ISO 9660 image").await;
    let iso = format!("{images}/installer.iso");
    let db = GuacamoleDb::start(GuacFlavor::Postgres);
    let site_toml = r#"
[servers]
count = 1

[proxmox]
task_duration_ms = 30
nodes = [{ name = "pve1" }]
templates = [{ vmid = 9000, name = "pagw-template", node = "pve1", pagw = true }]
"#
    .to_string()
        + &pagw_slots(1);
    let site = TestSite::start_with_guacamole(&site_toml, &db.url());
    site.reimport(|text| redfish_server(&text, "bms01", &sushy.url));
    let check = site.agent.cli(&["site", "check"]);
    let check = format!(
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(check.contains("redfish bms01"), "{check}");

    let config = format!(
        r#"
resource "giif_project" "a" {{
  name = "alpha"
}}

resource "giif_pagw" "a" {{
  project_id = giif_project.a.id
}}

resource "giif_bms_assignment" "s" {{
  project_id  = giif_project.a.id
  bms         = "bms01"
  power_state = "on"
  boot_iso    = "{iso}"
  release = {{
    erase = true
  }}
  depends_on = [giif_pagw.a]
}}

output "s" {{
  value = giif_bms_assignment.s
}}
"#
    );
    let ws = Workspace::new(&site.agent, &config);
    ws.apply();
    let s = ws.outputs()["s"]["value"].clone();
    assert_eq!(s["status"], "console_unavailable", "{s}");
    assert_eq!(s["console_url"], serde_json::Value::Null, "{s}");
    let system = sushy.read(&Sushy::system_path()).await;
    assert_eq!(system["PowerState"], "On", "{system}");
    assert_eq!(system["Boot"]["BootSourceOverrideTarget"], "Cd", "{system}");
    let cd = sushy
        .read(&format!("{}/VirtualMedia/Cd", Sushy::system_path()))
        .await;
    assert_eq!(cd["Image"], iso.as_str(), "{cd}");
    // Power and media read back from the emulator match the configuration.
    let (empty, plan) = ws.plan_is_empty();
    assert!(empty, "plan after apply:\n{}", plan.all());

    let run = ws.ok(&["destroy", "-auto-approve"]);
    let text = run.flat();
    assert!(text.contains("quarantined"), "{text}");
    assert!(text.contains("Drive.SecureErase is not offered"), "{text}");
    let system = sushy.read(&Sushy::system_path()).await;
    assert_eq!(
        system["PowerState"], "Off",
        "powered off on release: {system}"
    );
    let cd = sushy
        .read(&format!("{}/VirtualMedia/Cd", Sushy::system_path()))
        .await;
    assert_eq!(cd["Inserted"], false, "ejected on release: {cd}");
    server.abort();
}

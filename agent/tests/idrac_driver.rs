//! The iDRAC driver against the simulator's fake iDRACs, over real SSH:
//! the happy paths, retries of transient failures, permanent failures in the
//! device's words, dropped connections and resets recovered, pacing and
//! serialization, host key pinning, and secrets kept out of errors.

use std::sync::Arc;
use std::time::{Duration, Instant};

use giif_agent::credentials::Secret;
use giif_agent::drivers::bmc::{
    Bmc, JobState, MediaSource, PowerAction, PowerState, ProfileLocation, VncSettings,
};
use giif_agent::drivers::host_keys::{HostKeyPins, MemoryPins};
use giif_agent::drivers::idrac::{Idrac, IdracConfig};
use giif_agent::drivers::retry::RetryPolicy;
use giif_agent::drivers::ErrorClass;
use giif_sim::faults::{FaultKnobs, Faults};
use giif_sim::idrac::{IdracEndpoint, IdracFleet};
use giif_sim::site::{Firmware, ServerSpec};

struct Site {
    fleet: IdracFleet,
    faults: Faults,
    ep: IdracEndpoint,
    pins: Arc<MemoryPins>,
}

async fn site() -> Site {
    site_on(Firmware::Idrac9).await
}

async fn site_on(firmware: Firmware) -> Site {
    let faults = Faults::default();
    let spec = ServerSpec {
        name: "bms01".to_string(),
        service_tag: "SIM0001".to_string(),
        vlan: 3001,
        macs: vec![
            "d0:94:66:00:00:01".to_string(),
            "d0:94:66:01:00:01".to_string(),
        ],
        model: "PowerEdge R640".to_string(),
        tags: vec![],
        firmware,
    };
    let fleet = IdracFleet::start(vec![spec], faults.clone())
        .await
        .expect("fleet");
    let ep = fleet.endpoints().remove(0);
    Site {
        fleet,
        faults,
        ep,
        pins: Arc::new(MemoryPins::default()),
    }
}

impl Site {
    fn config(&self, min_interval: Duration) -> IdracConfig {
        let mut config = IdracConfig::new(
            &self.ep.server.name,
            self.ep.addr.ip().to_string(),
            self.ep.addr.port(),
            &self.ep.user,
            Secret::new(&self.ep.password),
        );
        config.min_interval = min_interval;
        config.command_timeout = Duration::from_secs(5);
        config.retry = RetryPolicy::quick();
        config
    }

    fn driver(&self) -> Idrac {
        Idrac::new(self.config(Duration::from_millis(20)), self.pins.clone())
    }

    fn faults(&self, knobs: FaultKnobs) {
        self.faults.set("idrac:bms01", knobs);
    }

    fn log(&self) -> Vec<giif_sim::idrac::CommandRecord> {
        self.fleet.command_log("bms01")
    }

    fn state(&self) -> serde_json::Value {
        self.fleet.state_json()["bms01"].clone()
    }
}

#[tokio::test]
async fn power_on_off_and_status() {
    let site = site().await;
    let idrac = site.driver();
    assert_eq!(idrac.target(), "idrac:bms01");
    assert_eq!(idrac.power_state().await, Ok(PowerState::Off));
    idrac.power(PowerAction::On).await.expect("power on");
    assert_eq!(idrac.power_state().await, Ok(PowerState::On));
    // On is a desired state: asking again succeeds and changes nothing.
    idrac.power(PowerAction::On).await.expect("power on again");
    idrac.power(PowerAction::Cycle).await.expect("cycle");
    idrac.power(PowerAction::HardReset).await.expect("reset");
    idrac
        .power(PowerAction::GracefulShutdown)
        .await
        .expect("shutdown");
    idrac.power(PowerAction::Off).await.expect("off when off");
    assert_eq!(idrac.power_state().await, Ok(PowerState::Off));
    assert_eq!(site.state()["boots"], 3);

    // Someone presses the button: the next read tells the truth.
    site.fleet.set_power("bms01", true);
    assert_eq!(idrac.power_state().await, Ok(PowerState::On));

    // All of it over one reused SSH connection.
    let sessions: std::collections::BTreeSet<u64> = site.log().iter().map(|r| r.session).collect();
    assert_eq!(sessions.len(), 1, "{:?}", site.log());
}

#[tokio::test]
async fn virtual_media() {
    let site = site().await;
    let idrac = site.driver();
    assert_eq!(idrac.media_status().await.expect("status").image, None);
    let cifs = MediaSource {
        image: "//10.0.0.5/iso/ubuntu 24.04.iso".to_string(),
        user: Some("share".to_string()),
        password: Some(Secret::new("sh4re pw")),
    };
    idrac.attach_media(&cifs).await.expect("attach");
    assert_eq!(
        idrac.media_status().await.expect("status").image.as_deref(),
        Some(cifs.image.as_str())
    );
    assert_eq!(site.state()["media"]["share_user"], "share");
    let commands_before = site.log().len();
    idrac.attach_media(&cifs).await.expect("attach again");
    assert_eq!(
        site.log().len(),
        commands_before + 1,
        "attaching the same image only looks"
    );

    // Another image replaces it (detach, wait for the detach, attach).
    let http = MediaSource {
        image: "https://images.example.org/live.iso".to_string(),
        user: None,
        password: None,
    };
    idrac.attach_media(&http).await.expect("replace");
    assert_eq!(site.state()["media"]["image"], http.image);
    idrac.detach_media().await.expect("detach");
    assert_eq!(idrac.media_status().await.expect("status").image, None);
    idrac
        .detach_media()
        .await
        .expect("detach when nothing is attached");
    assert!(site.log().iter().all(|r| !r.line.contains("sh4re")));
}

#[tokio::test]
async fn vnc_console_settings() {
    let site = site().await;
    let idrac = site.driver();
    let defaults = idrac.console_settings().await.expect("read");
    assert_eq!(
        defaults,
        VncSettings {
            enabled: false,
            port: 5901,
            timeout_secs: 300,
            password: None
        }
    );
    let wanted = VncSettings {
        enabled: true,
        port: 5902,
        timeout_secs: 600,
        password: Some(Secret::new("vnc-pw1")),
    };
    idrac.set_console_settings(&wanted).await.expect("write");
    let read = idrac.console_settings().await.expect("read back");
    assert_eq!(
        read,
        VncSettings {
            password: None,
            ..wanted.clone()
        },
        "the password is write-only"
    );
    use sha2::Digest;
    assert_eq!(
        site.state()["vnc"]["password_sha256"],
        hex::encode(sha2::Sha256::digest("vnc-pw1"))
    );

    // Only what differs is sent.
    let before = site.log().len();
    idrac
        .set_console_settings(&VncSettings {
            password: None,
            ..wanted
        })
        .await
        .expect("no-op");
    assert_eq!(site.log().len(), before + 1, "{:?}", site.log());
}

/// The same driver against both firmware generations as they print: a power
/// status read while iDRAC9 still says `Powering ON`, an iDRAC8 answering
/// every second `getsysinfo` with nothing and appending its default-password
/// warning, iDRAC9 closing the channel without an exit status, and an iDRAC8
/// reset that drops the virtual media.
#[tokio::test]
async fn both_firmware_generations_as_they_print() {
    for firmware in [Firmware::Idrac8, Firmware::Idrac9] {
        let site = site_on(firmware).await;
        let idrac = site.driver();
        idrac.power(PowerAction::On).await.expect("power on");
        assert_eq!(
            idrac.power_state().await,
            Ok(PowerState::On),
            "{firmware:?}"
        );
        for _ in 0..2 {
            let info = idrac.system_info().await.expect("sysinfo");
            assert_eq!(info.service_tag, "SIM0001", "{firmware:?}");
            assert_eq!(info.nic_macs, site.ep.server.macs, "{firmware:?}");
        }
        let asked = site
            .log()
            .iter()
            .filter(|r| r.line.contains("getsysinfo"))
            .count();
        let expected = if firmware == Firmware::Idrac8 { 3 } else { 2 };
        assert_eq!(asked, expected, "{firmware:?}: {:?}", site.log());
        let iso = MediaSource {
            image: "http://files.example.org/live.iso".to_string(),
            user: None,
            password: None,
        };
        idrac.attach_media(&iso).await.expect("attach");
        // A refusal reads as one with or without an exit status.
        idrac.power(PowerAction::Off).await.expect("power off");
        let error = idrac.power(PowerAction::Cycle).await.unwrap_err();
        assert_eq!(error.class, ErrorClass::Permanent, "{firmware:?}: {error}");
        assert!(
            error.message.contains("powered OFF"),
            "{firmware:?}: {error}"
        );
        idrac.reset_bmc().await.expect("reset");
        let media = idrac.media_status().await.expect("media after the reset");
        assert_eq!(
            media.image.is_none(),
            firmware == Firmware::Idrac8,
            "{firmware:?}: {media:?}"
        );
    }
}

#[tokio::test]
async fn system_information() {
    let site = site().await;
    let idrac = site.driver();
    let info = idrac.system_info().await.expect("sysinfo");
    assert_eq!(info.service_tag, "SIM0001");
    assert_eq!(info.model, "PowerEdge R640");
    assert_eq!(info.power, PowerState::Off);
    assert_eq!(info.nic_macs, site.ep.server.macs);
    assert!(!info.bmc_firmware.is_empty() && !info.bios_version.is_empty());
    assert_eq!(info.bmc_mac.len(), 17);
}

#[tokio::test]
async fn configuration_profile_jobs() {
    let site = site().await;
    site.faults(FaultKnobs {
        task_duration_ms: Some(800),
        ..Default::default()
    });
    let idrac = site.driver();
    let location = ProfileLocation {
        file: "bms01.xml".to_string(),
        share: Some(MediaSource {
            image: "//10.0.0.5/idrac".to_string(),
            user: Some("share".to_string()),
            password: Some(Secret::new("pw")),
        }),
    };
    let export = idrac.export_profile(&location).await.expect("export");
    let running = idrac.job_status(&export).await.expect("status");
    assert_eq!(running.id, export);
    assert_eq!(running.state, JobState::Running);
    tokio::time::sleep(Duration::from_millis(850)).await;
    let done = idrac.job_status(&export).await.expect("status");
    assert_eq!(
        (done.state, done.message_id.as_deref(), done.percent),
        (JobState::Completed, Some("SYS043"), Some(100))
    );

    let import = idrac.import_profile(&location).await.expect("import");
    tokio::time::sleep(Duration::from_millis(850)).await;
    let done = idrac.job_status(&import).await.expect("status");
    assert_eq!(
        (done.state, done.message_id.as_deref()),
        (JobState::Completed, Some("SYS053"))
    );

    let missing = idrac
        .job_status(&giif_agent::drivers::bmc::JobId("JID_000000000001".into()))
        .await;
    assert_eq!(
        missing.expect_err("no such job").class,
        ErrorClass::NotFound
    );
    let garbage = idrac
        .job_status(&giif_agent::drivers::bmc::JobId("JID_1; reboot".into()))
        .await;
    assert_eq!(
        garbage.expect_err("not a job id").class,
        ErrorClass::Permanent
    );
}

#[tokio::test]
async fn system_erase_runs_as_a_job_to_its_end() {
    let site = site().await;
    site.faults(FaultKnobs {
        task_duration_ms: Some(600),
        ..Default::default()
    });
    let mut config = site.config(Duration::from_millis(10));
    config.job_poll = Duration::from_millis(100);
    let idrac = Idrac::new(config, site.pins.clone());
    let started = Instant::now();
    idrac.erase_disks().await.expect("erase");
    // The driver returned only once the job had completed.
    assert!(started.elapsed() >= Duration::from_millis(600));
    let jobs = site.state()["jobs"].clone();
    assert_eq!(jobs[0]["kind"], "system_erase", "{jobs}");
    assert_eq!(jobs[0]["file"], "secureerasepd,overwritepd", "{jobs}");
    assert_eq!(jobs[0]["status"], "Completed", "{jobs}");
}

#[tokio::test]
async fn the_next_boot_only_starts_from_the_virtual_cd() {
    let site = site().await;
    let idrac = site.driver();
    idrac.boot_once_from_media().await.expect("boot once");
    let boot = site.state()["boot"].clone();
    assert_eq!(
        (boot["first_device"].as_str(), boot["once"].as_bool()),
        (Some("VCD-DVD"), Some(true)),
        "{boot}"
    );
    idrac.power(PowerAction::On).await.expect("on");
    assert_eq!(site.state()["boot"]["last_device"], "VCD-DVD");
    idrac.power(PowerAction::Cycle).await.expect("cycle");
    let boot = site.state()["boot"].clone();
    // The cycle booted normally again: the one-time device lasted one boot.
    assert_eq!(
        (
            boot["first_device"].as_str(),
            boot["once"].as_bool(),
            boot["last_device"].as_str()
        ),
        (Some("Normal"), Some(false), Some("Normal")),
        "{boot}"
    );
}

#[tokio::test]
async fn a_busy_idrac_is_retried_until_it_answers() {
    let site = site().await;
    let idrac = site.driver();
    site.faults(FaultKnobs {
        fail_next: 2,
        ..Default::default()
    });
    idrac
        .power(PowerAction::On)
        .await
        .expect("power on after two busy answers");
    let outcomes: Vec<String> = site.log().into_iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes, ["busy", "busy", "ok"]);
    assert_eq!(site.state()["power"], "on");
}

#[tokio::test]
async fn a_permanent_error_surfaces_once_in_the_devices_words() {
    let site = site().await;
    let idrac = site.driver();
    let error = idrac
        .power(PowerAction::Cycle)
        .await
        .expect_err("cycling a server that is off");
    assert_eq!(error.class, ErrorClass::Permanent);
    assert_eq!(error.target, "idrac:bms01");
    assert_eq!(error.action, "power cycle");
    assert!(
        error.message.contains("ERROR: Unable to perform the requested power operation because the server is powered OFF."),
        "{error}"
    );
    assert!(
        error.message.contains("racadm serveraction powercycle"),
        "{error}"
    );
    assert_eq!(site.log().len(), 1, "not retried");

    let ftp = MediaSource {
        image: "ftp://10.0.0.5/x.iso".to_string(),
        user: None,
        password: None,
    };
    let error = idrac
        .attach_media(&ftp)
        .await
        .expect_err("ftp is not a share");
    assert_eq!(error.class, ErrorClass::Permanent);
    assert!(
        error
            .message
            .contains("ERROR: Invalid share path specified"),
        "{error}"
    );
}

#[tokio::test]
async fn a_dropped_connection_is_recovered() {
    let site = site().await;
    let idrac = site.driver();
    assert_eq!(idrac.power_state().await, Ok(PowerState::Off));

    // A read whose connection dies is simply repeated on a new connection.
    site.faults(FaultKnobs {
        drop_next: 1,
        ..Default::default()
    });
    assert_eq!(idrac.power_state().await, Ok(PowerState::Off));

    // A power-up whose answer is lost is checked, then sent again.
    site.faults(FaultKnobs {
        drop_next: 1,
        ..Default::default()
    });
    idrac.power(PowerAction::On).await.expect("power on");
    assert_eq!(site.state()["power"], "on");
    assert_eq!(site.state()["boots"], 1, "powered up exactly once");
    let log: Vec<(String, String)> = site
        .log()
        .into_iter()
        .map(|r| (r.line, r.outcome))
        .collect();
    let expect =
        |line: &str, outcome: &str| (format!("racadm serveraction {line}"), outcome.to_string());
    assert_eq!(
        log,
        [
            expect("powerstatus", "ok"),
            expect("powerstatus", "dropped"),
            expect("powerstatus", "ok"),
            expect("powerup", "dropped"),
            expect("powerstatus", "ok"),
            expect("powerup", "ok"),
        ]
    );
    let sessions: std::collections::BTreeSet<u64> = site.log().iter().map(|r| r.session).collect();
    assert_eq!(
        sessions.len(),
        3,
        "one connection, and a new one after each drop"
    );
}

#[tokio::test]
async fn an_idrac_reset_is_waited_out() {
    let site = site().await;
    site.fleet
        .set_reset_duration("bms01", Duration::from_millis(700));
    let idrac = site.driver();
    idrac.power(PowerAction::On).await.expect("on");
    let started = Instant::now();
    idrac.reset_bmc().await.expect("reset");
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "returned before the iDRAC was back"
    );
    assert_eq!(site.state()["resets"], 1);
    assert_eq!(
        idrac.power_state().await,
        Ok(PowerState::On),
        "the server kept running"
    );
}

#[tokio::test]
async fn a_reset_behind_the_drivers_back_is_recovered() {
    let site = site().await;
    site.fleet
        .set_reset_duration("bms01", Duration::from_millis(500));
    let idrac = site.driver();
    assert_eq!(idrac.power_state().await, Ok(PowerState::Off));
    // Another client resets the iDRAC: our cached connection dies with it.
    let other = Idrac::new(site.config(Duration::ZERO), site.pins.clone());
    let reset = tokio::spawn(async move { other.reset_bmc().await });
    while site.state()["resetting"] != true {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(idrac.power_state().await, Ok(PowerState::Off));
    reset.await.expect("join").expect("reset");
}

#[tokio::test]
async fn commands_are_serialized_and_paced() {
    let site = site().await;
    let min_interval = Duration::from_millis(100);
    let idrac = Arc::new(Idrac::new(site.config(min_interval), site.pins.clone()));
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let idrac = idrac.clone();
            tokio::spawn(async move { idrac.power_state().await })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.expect("join"), Ok(PowerState::Off));
    }
    let mut log = site.log();
    assert_eq!(log.len(), 10);
    log.sort_by_key(|r| r.start_us);
    for pair in log.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let a_end = a.end_us.expect("finished");
        assert!(b.start_us >= a_end, "overlap: {a:?} {b:?}");
        assert!(
            b.start_us - a.start_us >= min_interval.as_micros() as u64,
            "starts {} us apart: {a:?} {b:?}",
            b.start_us - a.start_us
        );
    }
    assert_eq!(site.fleet.max_concurrent_commands("bms01"), 1);
}

#[tokio::test]
async fn the_host_key_is_pinned_on_first_use_and_a_new_one_refused() {
    let site = site().await;
    let endpoint = format!("{}", site.ep.addr);
    assert_eq!(site.pins.pinned(&endpoint).await.expect("pins"), None);
    let idrac = site.driver();
    idrac.power_state().await.expect("first contact");
    assert_eq!(
        site.pins.pinned(&endpoint).await.expect("pins").as_deref(),
        Some(site.ep.host_key_fingerprint.as_str())
    );

    // The iDRAC now shows another key (a board swap, or an impostor).
    let new_key = site.fleet.rotate_host_key("bms01").expect("rotated");
    let commands = site.log().len();
    let fresh = site.driver();
    let error = fresh.power_state().await.expect_err("a changed host key");
    assert_eq!(error.class, ErrorClass::Permanent);
    assert!(
        error.message.contains("host key") && error.message.contains("changed"),
        "{error}"
    );
    assert!(
        error.message.contains(&site.ep.host_key_fingerprint) && error.message.contains(&new_key),
        "{error}"
    );
    assert!(
        error.message.contains("giif-agent host-keys forget"),
        "says how to re-pin: {error}"
    );
    assert_eq!(
        site.log().len(),
        commands,
        "no command reached the impostor"
    );
}

#[tokio::test]
async fn secrets_stay_out_of_errors_and_debug_output() {
    let site = site().await;
    let config = site.config(Duration::from_millis(20));
    assert!(!format!("{config:?}").contains(&site.ep.password));
    let idrac = site.driver();
    assert!(!format!("{idrac:?}").contains(&site.ep.password));

    let share_password = "sup3r-s3cret";
    let text_file = MediaSource {
        image: "//10.0.0.5/iso/notes.txt".to_string(),
        user: Some("share".to_string()),
        password: Some(Secret::new(share_password)),
    };
    let error = idrac
        .attach_media(&text_file)
        .await
        .expect_err("not an image");
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains(share_password), "{shown}");
    assert!(shown.contains("-p ******"), "{shown}");

    let long = VncSettings {
        enabled: true,
        port: 5901,
        timeout_secs: 300,
        password: Some(Secret::new("much-too-long-password")),
    };
    let error = idrac
        .set_console_settings(&long)
        .await
        .expect_err("too long for VNC");
    assert_eq!(error.class, ErrorClass::Permanent);
    assert!(
        !format!("{error} {error:?}").contains("much-too-long"),
        "{error}"
    );

    let mut wrong = site.config(Duration::from_millis(20));
    wrong.password = Secret::new("not-the-password");
    let pins: Arc<dyn HostKeyPins> = Arc::new(MemoryPins::default());
    let error = Idrac::new(wrong, pins)
        .power_state()
        .await
        .expect_err("wrong password");
    assert_eq!(error.class, ErrorClass::Permanent);
    assert!(
        !format!("{error} {error:?}").contains("not-the-password"),
        "{error}"
    );
}

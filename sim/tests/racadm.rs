//! The fake iDRAC over real SSH: its racadm grammar, the texts it prints,
//! its state, resets, jobs, injected faults and admin routes. A minimal
//! russh client lives here because the sim crate has none of its own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use giif_sim::faults::{FaultKnobs, Faults};
use giif_sim::idrac::{IdracEndpoint, IdracFleet};
use giif_sim::site::{Firmware, ServerSpec};
use russh::client::{self, Handle};
use russh::keys::HashAlg;
use russh::ChannelMsg;

struct Client {
    expected_fingerprint: String,
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let russh::keys::PublicKeyOrCertificate::PublicKey { key, .. } = key else {
            return Ok(false);
        };
        Ok(key.fingerprint(HashAlg::Sha256).to_string() == self.expected_fingerprint)
    }
}

async fn connect_as(ep: &IdracEndpoint, password: &str) -> Result<Handle<Client>, String> {
    let client = Client {
        expected_fingerprint: ep.host_key_fingerprint.clone(),
    };
    let config = client::Config {
        nodelay: true,
        ..Default::default()
    };
    let mut handle = client::connect(Arc::new(config), ep.addr, client)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let auth = handle
        .authenticate_password(&ep.user, password)
        .await
        .map_err(|e| format!("auth: {e}"))?;
    if !auth.success() {
        return Err("authentication rejected".into());
    }
    Ok(handle)
}

async fn connect(ep: &IdracEndpoint) -> Handle<Client> {
    connect_as(ep, &ep.password).await.expect("connect")
}

/// Runs one exec request: (exit status if one came, everything printed).
async fn exec(handle: &Handle<Client>, command: &str) -> (Option<u32>, String) {
    let mut channel = handle.channel_open_session().await.expect("channel");
    channel.exec(true, command).await.expect("exec");
    let mut out = Vec::new();
    let mut status = None;
    while let Some(msg) = channel.wait().await {
        match msg {
            ChannelMsg::Data { data } => out.extend_from_slice(&data),
            ChannelMsg::ExtendedData { data, .. } => out.extend_from_slice(&data),
            ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
            _ => {}
        }
    }
    let out = String::from_utf8_lossy(&out).into_owned();
    // Every iDRAC8 answer ends with its factory-password warning.
    // (An injected busy answer comes from the SSH layer, without it.)
    let out = out
        .strip_suffix(&format!("{DEFAULT_PASSWORD_WARNING}\n"))
        .map(str::to_string)
        .unwrap_or(out);
    (status, out)
}

const DEFAULT_PASSWORD_WARNING: &str =
    "WARNING: Default password is configured. Dell highly recommends changing user root's password immediately";

async fn ok(handle: &Handle<Client>, command: &str) -> String {
    let (status, out) = exec(handle, command).await;
    assert_eq!(status, Some(0), "{command}: {out}");
    out
}

async fn fails(handle: &Handle<Client>, command: &str) -> String {
    let (status, out) = exec(handle, command).await;
    assert_eq!(status, Some(1), "{command}: {out}");
    assert!(out.starts_with("ERROR: "), "{command}: {out}");
    out
}

fn server(name: &str) -> ServerSpec {
    ServerSpec {
        name: name.to_string(),
        service_tag: "SIM0001".to_string(),
        vlan: 3001,
        macs: vec![
            "d0:94:66:00:00:01".to_string(),
            "d0:94:66:01:00:01".to_string(),
        ],
        model: "PowerEdge R640".to_string(),
        tags: vec![],
        // The exact texts below are iDRAC8's, which sends exit statuses;
        // sim/src/idrac/racadm/profile.rs holds both generations to their
        // golden files.
        firmware: Firmware::Idrac8,
    }
}

async fn fleet() -> (IdracFleet, IdracEndpoint, Faults) {
    let faults = Faults::default();
    let fleet = IdracFleet::start(vec![server("bms01")], faults.clone())
        .await
        .expect("start");
    let ep = fleet.endpoints().remove(0);
    (fleet, ep, faults)
}

#[tokio::test]
async fn endpoint_facts() {
    let (_fleet, ep, _) = fleet().await;
    assert!(ep.addr.ip().is_loopback());
    assert_eq!(ep.user, "root");
    assert!(
        ep.host_key_fingerprint.starts_with("SHA256:"),
        "{}",
        ep.host_key_fingerprint
    );
    assert!(!ep.host_key_fingerprint.ends_with('='), "no base64 padding");
    assert!(connect_as(&ep, "wrong").await.is_err());
}

#[tokio::test]
async fn power_transitions_and_their_messages() {
    let (fleet, ep, _) = fleet().await;
    let ssh = connect(&ep).await;
    assert_eq!(
        ok(&ssh, "racadm serveraction powerstatus").await,
        "Server power status: OFF\n"
    );
    assert_eq!(
        fails(&ssh, "racadm serveraction powerdown").await,
        "ERROR: Server is already powered OFF.\n"
    );
    fails(&ssh, "racadm serveraction powercycle").await;
    assert_eq!(
        ok(&ssh, "racadm serveraction powerup").await,
        "Server power operation successful\n"
    );
    assert_eq!(
        ok(&ssh, "racadm serveraction powerstatus").await,
        "Server power status: ON\n"
    );
    assert_eq!(
        fails(&ssh, "racadm serveraction powerup").await,
        "ERROR: Server is already powered ON.\n"
    );
    ok(&ssh, "racadm serveraction powercycle").await;
    ok(&ssh, "racadm serveraction hardreset").await;
    ok(&ssh, "racadm serveraction graceshutdown").await;
    assert_eq!(
        ok(&ssh, "racadm serveraction powerstatus").await,
        "Server power status: OFF\n"
    );
    let state = fleet.state_json();
    assert_eq!(state["bms01"]["power"], "off");
    assert_eq!(state["bms01"]["boots"], 3, "one power-up and two resets");
}

#[tokio::test]
async fn unknown_commands_and_bad_arguments_fail_like_racadm() {
    let (_fleet, ep, _) = fleet().await;
    let ssh = connect(&ep).await;
    assert!(fails(&ssh, "racadm frobnicate")
        .await
        .contains("Invalid subcommand"));
    assert!(fails(&ssh, "racadm serveraction")
        .await
        .contains("Invalid syntax"));
    assert!(fails(&ssh, "racadm serveraction dance")
        .await
        .contains("Invalid action"));
    assert!(fails(&ssh, "racadm serveraction -x powerup")
        .await
        .contains("Invalid option"));
    assert!(fails(&ssh, "ls -l").await.contains("Invalid command"));
    assert!(fails(&ssh, "racadm remoteimage -c -l //10.0.0.1/iso/x.iso")
        .await
        .contains("-u"));
    assert!(fails(&ssh, "racadm remoteimage -c -s")
        .await
        .contains("Invalid syntax"));
    assert!(fails(&ssh, "racadm get iDRAC.Nope.Enable")
        .await
        .contains("Invalid object name"));
    assert!(fails(&ssh, "racadm set iDRAC.VNCServer.Port nine")
        .await
        .contains("Invalid object value"));
    assert!(fails(&ssh, "racadm jobqueue view -i JID_000000000001")
        .await
        .contains("Invalid Job ID"));
    assert!(fails(&ssh, "racadm get -t csv -f a.csv")
        .await
        .contains("Invalid file type"));
    assert!(fails(&ssh, "racadm 'unbalanced").await.contains("quotes"));
    assert!(ok(&ssh, "racadm help").await.contains("serveraction"));
}

#[tokio::test]
async fn virtual_media_attach_status_and_detach() {
    let (fleet, ep, _) = fleet().await;
    let ssh = connect(&ep).await;
    assert!(ok(&ssh, "racadm remoteimage -s")
        .await
        .starts_with("Remote File Share is Disabled\n"));
    let image = "//10.0.0.5/iso/ubuntu 24.04.iso";
    let attach = format!("racadm remoteimage -c -u share -p 'pa ss' -l '{image}'");
    assert_eq!(ok(&ssh, &attach).await, "Remote Image is now Configured\n");
    let status = ok(&ssh, "racadm remoteimage -s").await;
    assert_eq!(
        status,
        format!("Remote File Share is Enabled\nUserName \nPassword \nShareName {image}\n")
    );
    assert!(fails(&ssh, &attach).await.contains("already connected"));

    let state = fleet.state_json();
    assert_eq!(state["bms01"]["media"]["image"], image);
    assert_eq!(state["bms01"]["media"]["share_user"], "share");
    assert_eq!(state["bms01"]["media"]["attached_by"], "racadm (root)");
    let log = fleet.command_log("bms01");
    assert!(log.iter().all(|r| !r.line.contains("pa ss")), "{log:?}");
    assert!(log.iter().any(|r| r.line.contains("-p ******")), "{log:?}");

    // Detaching runs in the background, as on a real iDRAC.
    assert!(ok(&ssh, "racadm remoteimage -d")
        .await
        .starts_with("Disable Remote File Started."));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(ok(&ssh, "racadm remoteimage -s")
        .await
        .starts_with("Remote File Share is Disabled"));

    ok(
        &ssh,
        "racadm remoteimage -c -l https://images.example.org/live.iso",
    )
    .await;
    ok(&ssh, "racadm remoteimage -d").await;
    assert!(fails(
        &ssh,
        "racadm remoteimage -c -l https://images.example.org/notes.txt"
    )
    .await
    .contains("file type"));
    assert!(fails(&ssh, "racadm remoteimage -c -l ftp://h/x.iso")
        .await
        .contains("share path"));
}

#[tokio::test]
async fn vnc_settings_get_and_set() {
    let (fleet, ep, _) = fleet().await;
    let ssh = connect(&ep).await;
    let all = ok(&ssh, "racadm get iDRAC.VNCServer").await;
    assert!(
        all.starts_with("[Key=iDRAC.Embedded.1#VNCServer.1]\n"),
        "{all}"
    );
    for line in [
        "Enable=Disabled",
        "Port=5901",
        "Timeout=300",
        "!!Password=******** (Write-Only)",
    ] {
        assert!(all.lines().any(|l| l == line), "{line} in {all}");
    }
    let modified = "[Key=iDRAC.Embedded.1#VNCServer.1]\nObject value modified successfully\n";
    assert_eq!(
        ok(&ssh, "racadm set iDRAC.VNCServer.Enable 1").await,
        modified
    );
    assert_eq!(
        ok(&ssh, "racadm set iDRAC.VNCServer.Port 5902").await,
        modified
    );
    assert_eq!(
        ok(&ssh, "racadm set idrac.vncserver.timeout 600").await,
        modified
    );
    assert_eq!(
        ok(&ssh, "racadm set iDRAC.VNCServer.Password longsecret").await,
        modified
    );
    assert_eq!(
        ok(&ssh, "racadm get iDRAC.VNCServer.Enable").await,
        "[Key=iDRAC.Embedded.1#VNCServer.1]\nEnable=Enabled\n"
    );
    assert!(ok(&ssh, "racadm get iDRAC.VNCServer.Port")
        .await
        .ends_with("\nPort=5902\n"));
    assert!(ok(&ssh, "racadm get iDRAC.VNCServer.Password")
        .await
        .ends_with("\n!!Password=******** (Write-Only)\n"));
    fails(&ssh, "racadm set iDRAC.VNCServer.Timeout 5").await;
    fails(&ssh, "racadm set iDRAC.VNCServer.ActiveSessions 2").await;

    let vnc = &fleet.state_json()["bms01"]["vnc"];
    assert_eq!(vnc["enabled"], true);
    assert_eq!(vnc["timeout"], 600);
    // VNC passwords are eight characters; the iDRAC keeps the first eight.
    use sha2::Digest;
    assert_eq!(
        vnc["password_sha256"],
        hex::encode(sha2::Sha256::digest("longsecr"))
    );
    assert!(fleet
        .command_log("bms01")
        .iter()
        .all(|r| !r.line.contains("longsecret")));
}

#[tokio::test]
async fn system_information_and_versions() {
    let (_fleet, ep, _) = fleet().await;
    let ssh = connect(&ep).await;
    let info = ok(&ssh, "racadm getsysinfo").await;
    for needle in [
        "RAC Information:",
        "System Information:",
        "System Model            = PowerEdge R640",
        "Service Tag             = SIM0001",
        "Power Status            = OFF",
        "Embedded NIC MAC Addresses:",
        "NIC.Integrated.1-1-1    Ethernet                = D0:94:66:00:00:01",
        "NIC.Integrated.1-2-1    Ethernet                = D0:94:66:01:00:01",
    ] {
        assert!(info.contains(needle), "{needle} in {info}");
    }
    // iDRAC8 answers every second getsysinfo with nothing.
    assert_eq!(ok(&ssh, "racadm getsysinfo -s").await, "");
    let system_only = ok(&ssh, "racadm getsysinfo -s").await;
    assert!(
        system_only.trim_start().starts_with("System Information:")
            && !system_only.contains("RAC Information")
    );
    assert!(ok(&ssh, "racadm getversion")
        .await
        .contains("iDRAC Version"));
    assert!(ok(&ssh, "racadm version")
        .await
        .starts_with("RACADM version"));
}

#[tokio::test]
async fn racreset_makes_ssh_unreachable_for_a_while() {
    let (fleet, ep, _) = fleet().await;
    fleet.set_reset_duration("bms01", Duration::from_millis(800));
    let ssh = connect(&ep).await;
    let out = ok(&ssh, "racadm racreset soft").await;
    assert!(
        out.starts_with("RAC reset operation initiated successfully."),
        "{out}"
    );
    let reset_at = Instant::now();
    // The session is gone...
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        ssh.channel_open_session().await.is_err(),
        "old session survived the reset"
    );
    // ...and new ones are refused until the iDRAC is back.
    assert!(
        connect_as(&ep, &ep.password).await.is_err(),
        "connected during the reset"
    );
    while reset_at.elapsed() < Duration::from_millis(900) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ssh = connect(&ep).await;
    ok(&ssh, "racadm serveraction powerstatus").await;
    assert_eq!(fleet.state_json()["bms01"]["resets"], 1);
}

#[tokio::test]
async fn configuration_export_and_import_jobs_progress_to_completion() {
    let (_fleet, ep, faults) = fleet().await;
    faults.set(
        "idrac:bms01",
        FaultKnobs {
            task_duration_ms: Some(800),
            ..Default::default()
        },
    );
    let ssh = connect(&ep).await;
    let started = ok(
        &ssh,
        "racadm get -t xml -f bms01.xml -l //10.0.0.5/idrac -u share -p pw",
    )
    .await;
    assert!(
        started.starts_with("RAC976: Export configuration XML file operation initiated.\n"),
        "{started}"
    );
    let job = job_id(&started);
    let running = ok(&ssh, &format!("racadm jobqueue view -i {job}")).await;
    assert!(running.contains(&format!("[Job ID={job}]")), "{running}");
    assert!(running.contains("Status=Running"), "{running}");
    tokio::time::sleep(Duration::from_millis(850)).await;
    let done = ok(&ssh, &format!("racadm jobqueue view -i {job}")).await;
    assert!(done.contains("Status=Completed"), "{done}");
    assert!(
        done.contains("Message=[SYS043: Successfully exported system configuration XML file.]"),
        "{done}"
    );
    assert!(done.contains("Percent Complete=[100]"), "{done}");

    let started = ok(
        &ssh,
        "racadm set -t xml -f bms01.xml -l //10.0.0.5/idrac -u share -p pw -b Graceful",
    )
    .await;
    assert!(
        started.starts_with("RAC977: Import configuration XML file operation initiated.\n"),
        "{started}"
    );
    let import = job_id(&started);
    tokio::time::sleep(Duration::from_millis(850)).await;
    let done = ok(&ssh, &format!("racadm jobqueue view -i {import}")).await;
    assert!(
        done.contains(
            "Message=[SYS053: Successfully imported and applied Server Configuration Profile.]"
        ),
        "{done}"
    );
    let queue = ok(&ssh, "racadm jobqueue view").await;
    assert!(queue.contains(&job) && queue.contains(&import), "{queue}");
}

fn job_id(text: &str) -> String {
    let at = text.find("JID_").expect("a job id");
    let id: String = text[at..].chars().take(16).collect();
    assert!(id[4..].chars().all(|c| c.is_ascii_digit()), "{id}");
    id
}

#[tokio::test]
async fn injected_failures_and_drops() {
    let (fleet, ep, faults) = fleet().await;
    let ssh = connect(&ep).await;
    faults.set(
        "idrac:bms01",
        FaultKnobs {
            fail_next: 1,
            ..Default::default()
        },
    );
    assert!(fails(&ssh, "racadm serveraction powerup")
        .await
        .contains("busy"));
    assert_eq!(
        fleet.state_json()["bms01"]["power"],
        "off",
        "a busy iDRAC does nothing"
    );
    faults.set(
        "idrac:bms01",
        FaultKnobs {
            drop_next: 1,
            ..Default::default()
        },
    );
    let (status, out) = exec(&ssh, "racadm serveraction powerup").await;
    assert_eq!(
        (status, out.as_str()),
        (None, ""),
        "a dropped command gets no answer"
    );
    assert!(
        ssh.channel_open_session().await.is_err(),
        "the connection is gone"
    );
    let ssh = connect(&ep).await;
    assert_eq!(
        ok(&ssh, "racadm serveraction powerstatus").await,
        "Server power status: OFF\n"
    );
    let outcomes: Vec<String> = fleet
        .command_log("bms01")
        .into_iter()
        .map(|r| r.outcome)
        .collect();
    assert_eq!(outcomes, ["busy", "dropped", "ok"]);
}

#[tokio::test]
async fn admin_routes_change_things_out_of_band() {
    let (fleet, ep, _) = fleet().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = listener.local_addr().unwrap();
    let router = axum::Router::new().nest("/idrac", fleet.admin_routes());
    tokio::spawn(async move { axum::serve(listener, router).await });
    // reqwest is built without a default TLS provider; plain HTTP still asks for one.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let http = reqwest::Client::new();
    let base = format!("http://{admin}/idrac");

    let on = http
        .post(format!("{base}/bms01/power"))
        .json(&serde_json::json!({"state": "on"}))
        .send()
        .await
        .unwrap();
    assert!(on.status().is_success());
    let ssh = connect(&ep).await;
    assert_eq!(
        ok(&ssh, "racadm serveraction powerstatus").await,
        "Server power status: ON\n"
    );

    ok(&ssh, "racadm remoteimage -c -l http://h/x.iso").await;
    let eject = http
        .post(format!("{base}/bms01/media/eject"))
        .send()
        .await
        .unwrap();
    assert!(eject.status().is_success());
    assert!(ok(&ssh, "racadm remoteimage -s")
        .await
        .starts_with("Remote File Share is Disabled"));

    let all: serde_json::Value = http
        .get(base.as_str())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all["bms01"]["power"], "on");
    assert_eq!(all["bms01"]["max_concurrent_commands"], 1);
    let missing = http.get(format!("{base}/nope")).send().await.unwrap();
    assert_eq!(missing.status(), 404);

    let rotated: serde_json::Value = http
        .post(format!("{base}/bms01/rotate-host-key"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new_fingerprint = rotated["host_key_fingerprint"].as_str().unwrap();
    assert_ne!(new_fingerprint, ep.host_key_fingerprint);
    assert!(
        connect_as(&ep, &ep.password).await.is_err(),
        "the old fingerprint no longer matches"
    );
    assert_eq!(fleet.endpoints()[0].host_key_fingerprint, new_fingerprint);
}

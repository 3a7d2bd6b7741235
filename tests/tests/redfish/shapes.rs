//! What sushy-tools lacks, against the recorded shapes of an iDRAC9's
//! Redfish service (Dell's published scripts and answers): a session with
//! `X-Auth-Token` that can expire, ETags with `If-Match` and a 412 when the
//! resource changed, the virtual CD under the manager refusing `Inserted`
//! and `WriteProtected`, Dell's VNC attributes, `Drive.SecureErase` as a
//! task behind a monitor, and a BMC that is busy for a moment.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use giif_agent::credentials::Secret;
use giif_agent::drivers::bmc::{Bmc, MediaSource, PowerState, VncSettings};
use giif_agent::drivers::host_keys::{HostKeyPins, MemoryPins};
use giif_agent::drivers::redfish::Redfish;
use giif_agent::drivers::ErrorClass;

const SYSTEM: &str = "/redfish/v1/Systems/System.Embedded.1";
const MANAGER: &str = "/redfish/v1/Managers/iDRAC.Embedded.1";
const CD: &str = "/redfish/v1/Managers/iDRAC.Embedded.1/VirtualMedia/CD";
const ATTRIBUTES: &str =
    "/redfish/v1/Managers/iDRAC.Embedded.1/Oem/Dell/DellAttributes/iDRAC.Embedded.1";
const DRIVE: &str = "/redfish/v1/Systems/System.Embedded.1/Storage/RAID.Integrated.1-1/Drives/Disk.Bay.0:Enclosure.Internal.0-1:RAID.Integrated.1-1";
const TASK: &str = "/redfish/v1/TaskService/Tasks/JID_100000000001";
const LC_SERVICE: &str = "/redfish/v1/Managers/iDRAC.Embedded.1/Oem/Dell/DellLCService";
const ERASE_TASK: &str = "/redfish/v1/TaskService/Tasks/JID_200000000002";
const ERASE_JOB: &str = "/redfish/v1/Managers/iDRAC.Embedded.1/Oem/Dell/Jobs/JID_200000000002";

#[derive(Default)]
struct Idrac9 {
    sessions: u32,
    token: Option<String>,
    generation: u32,
    /// The next PATCH of the system finds its ETag stale (someone else changed it).
    stale_once: bool,
    /// The next GET of the system answers 503.
    busy_once: bool,
    boot_target: String,
    image: Option<String>,
    vnc: serde_json::Map<String, Value>,
    task_polls: u32,
    erase_fails: bool,
    /// The drive offers no `Drive.SecureErase` (an HBA330 without ISE
    /// drives): only Dell's System Erase remains.
    drive_without_secure_erase: bool,
    system_erase_polls: u32,
    /// Each request: method, path, whether it carried the token, its If-Match.
    log: Vec<(String, String, bool, Option<String>)>,
    /// When each request arrived.
    arrivals: Vec<std::time::Instant>,
    bodies: Vec<Value>,
}

type Shared = Arc<Mutex<Idrac9>>;

fn dell_error(status: StatusCode, id: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": "Base.1.12.GeneralError",
            "message": "A general error has occurred. See ExtendedInfo for more information",
            "@Message.ExtendedInfo": [{"MessageId": id, "Message": message, "Severity": "Critical"}]}})),
    )
        .into_response()
}

fn with_etag(etag: String, body: Value) -> Response {
    ([("ETag", etag)], Json(body)).into_response()
}

async fn handle(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Option<Json<Value>>,
) -> Response {
    let path = uri.path().trim_end_matches('/').to_string();
    let body = body.map(|Json(b)| b).unwrap_or(Value::Null);
    let mut bmc = shared.lock().unwrap();
    let token = headers
        .get("X-Auth-Token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let if_match = headers
        .get("If-Match")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let authorized = token.is_some() && token == bmc.token;
    bmc.log.push((
        method.to_string(),
        path.clone(),
        authorized,
        if_match.clone(),
    ));
    bmc.arrivals.push(std::time::Instant::now());
    if method != Method::GET {
        bmc.bodies.push(body.clone());
    }
    if path == "/redfish/v1" {
        return Json(json!({"@odata.id": "/redfish/v1/", "RedfishVersion": "1.17.0",
            "Systems": {"@odata.id": "/redfish/v1/Systems"}, "Managers": {"@odata.id": "/redfish/v1/Managers"},
            "Links": {"Sessions": {"@odata.id": "/redfish/v1/SessionService/Sessions"}}}))
        .into_response();
    }
    if path == "/redfish/v1/SessionService/Sessions" && method == Method::POST {
        if body["UserName"] != "root" || body["Password"] != "calvin-9" {
            return dell_error(StatusCode::UNAUTHORIZED, "IDRAC.2.9.SYS415",
                "Unable to complete the operation because an invalid username and/or password is entered, and therefore authentication failed.");
        }
        bmc.sessions += 1;
        let token = format!("token-{}", bmc.sessions);
        bmc.token = Some(token.clone());
        let location = format!("/redfish/v1/SessionService/Sessions/{}", bmc.sessions);
        return (
            StatusCode::CREATED,
            [("X-Auth-Token", token), ("Location", location)],
            Json(json!({"Id": "1"})),
        )
            .into_response();
    }
    if !authorized {
        return dell_error(
            StatusCode::UNAUTHORIZED,
            "IDRAC.2.9.SYS415",
            "The authentication credentials included with this request are missing or invalid.",
        );
    }
    let etag = format!("W/\"gen-{}\"", bmc.generation);
    match (method.as_str(), path.as_str()) {
        ("GET", "/redfish/v1/Systems") => Json(json!({"Members": [{"@odata.id": SYSTEM}]})).into_response(),
        ("GET", SYSTEM) => {
            if std::mem::take(&mut bmc.busy_once) {
                return dell_error(StatusCode::SERVICE_UNAVAILABLE, "IDRAC.2.9.SYS446", "Unable to complete the operation because the iDRAC is busy.");
            }
            with_etag(etag, json!({"@odata.id": SYSTEM, "Id": "System.Embedded.1", "Model": "PowerEdge R650",
                "SKU": "7XK2M03", "SerialNumber": "CNIVC0012300AB", "BiosVersion": "1.13.2", "PowerState": "On",
                "Boot": {"BootSourceOverrideEnabled": "Disabled", "BootSourceOverrideTarget": bmc.boot_target,
                    "BootSourceOverrideTarget@Redfish.AllowableValues": ["None", "Pxe", "Floppy", "Cd", "Hdd", "BiosSetup", "Utilities", "UefiTarget", "SDCard", "UefiHttp"]},
                "Links": {"ManagedBy": [{"@odata.id": MANAGER}]},
                "Storage": {"@odata.id": format!("{SYSTEM}/Storage")},
                "Actions": {"#ComputerSystem.Reset": {"target": format!("{SYSTEM}/Actions/ComputerSystem.Reset"),
                    "ResetType@Redfish.AllowableValues": ["On", "ForceOff", "ForceRestart", "GracefulRestart", "GracefulShutdown", "PushPowerButton", "Nmi", "PowerCycle"]}}}))
        }
        ("PATCH", SYSTEM) => {
            if std::mem::take(&mut bmc.stale_once) {
                bmc.generation += 1;
            }
            if if_match.as_deref() != Some(format!("W/\"gen-{}\"", bmc.generation).as_str()) {
                return dell_error(StatusCode::PRECONDITION_FAILED, "Base.1.12.PreconditionFailed", "The ETag supplied did not match the ETag required to change this resource.");
            }
            bmc.generation += 1;
            bmc.boot_target = body["Boot"]["BootSourceOverrideTarget"].as_str().unwrap_or_default().to_string();
            Json(json!({"@Message.ExtendedInfo": [{"MessageId": "Base.1.12.Success", "Message": "Successfully Completed Request"}]})).into_response()
        }
        ("GET", MANAGER) => Json(json!({"@odata.id": MANAGER, "FirmwareVersion": "7.00.60.00",
            "VirtualMedia": {"@odata.id": format!("{MANAGER}/VirtualMedia")}})).into_response(),
        ("GET", "/redfish/v1/Managers/iDRAC.Embedded.1/VirtualMedia") => Json(json!({"Members": [
            {"@odata.id": format!("{MANAGER}/VirtualMedia/RemovableDisk")}, {"@odata.id": CD}]})).into_response(),
        ("GET", "/redfish/v1/Managers/iDRAC.Embedded.1/VirtualMedia/RemovableDisk") => Json(json!({"MediaTypes": ["USBStick"], "Image": null, "Inserted": false})).into_response(),
        ("GET", CD) => Json(json!({"@odata.id": CD, "MediaTypes": ["CD", "DVD"], "Image": bmc.image, "Inserted": bmc.image.is_some(),
            "Actions": {"#VirtualMedia.InsertMedia": {"target": format!("{CD}/Actions/VirtualMedia.InsertMedia")},
                "#VirtualMedia.EjectMedia": {"target": format!("{CD}/Actions/VirtualMedia.EjectMedia")}}})).into_response(),
        ("POST", "/redfish/v1/Managers/iDRAC.Embedded.1/VirtualMedia/CD/Actions/VirtualMedia.InsertMedia") => {
            if body.get("Inserted").is_some() {
                return dell_error(StatusCode::BAD_REQUEST, "Base.1.12.PropertyUnknown", "The property Inserted is not in the list of valid properties for the resource.");
            }
            if bmc.image.is_some() {
                return dell_error(StatusCode::INTERNAL_SERVER_ERROR, "IDRAC.2.9.VRM0012", "The requested operation cannot be completed because the Virtual Media device is already attached.");
            }
            bmc.image = body["Image"].as_str().map(str::to_string);
            StatusCode::NO_CONTENT.into_response()
        }
        ("POST", "/redfish/v1/Managers/iDRAC.Embedded.1/VirtualMedia/CD/Actions/VirtualMedia.EjectMedia") => {
            bmc.image = None;
            StatusCode::NO_CONTENT.into_response()
        }
        ("GET", ATTRIBUTES) => with_etag(etag, json!({"Attributes": bmc.vnc})),
        ("PATCH", ATTRIBUTES) => {
            if if_match.as_deref() != Some(etag.as_str()) {
                return dell_error(StatusCode::PRECONDITION_FAILED, "Base.1.12.PreconditionFailed", "The ETag supplied did not match.");
            }
            bmc.generation += 1;
            for (key, value) in body["Attributes"].as_object().cloned().unwrap_or_default() {
                let shown = if key.ends_with("Password") { Value::Null } else { value };
                bmc.vnc.insert(key, shown);
            }
            Json(json!({"@Message.ExtendedInfo": [{"MessageId": "Base.1.12.Success"}]})).into_response()
        }
        ("GET", "/redfish/v1/Systems/System.Embedded.1/Storage") => Json(json!({"Members": [{"@odata.id": format!("{SYSTEM}/Storage/RAID.Integrated.1-1")}]})).into_response(),
        ("GET", "/redfish/v1/Systems/System.Embedded.1/Storage/RAID.Integrated.1-1") => Json(json!({"Drives": [{"@odata.id": DRIVE}]})).into_response(),
        ("GET", DRIVE) if bmc.drive_without_secure_erase => Json(json!({"@odata.id": DRIVE, "EncryptionAbility": "None", "Actions": {}})).into_response(),
        ("GET", DRIVE) => Json(json!({"@odata.id": DRIVE, "EncryptionAbility": "SelfEncryptingDrive",
            "Actions": {"#Drive.SecureErase": {"target": format!("{DRIVE}/Actions/Drive.SecureErase")}}})).into_response(),
        ("GET", LC_SERVICE) => Json(json!({"@odata.id": LC_SERVICE, "Actions": {"#DellLCService.SystemErase": {
            "target": format!("{LC_SERVICE}/Actions/DellLCService.SystemErase"),
            "Component@Redfish.AllowableValues": ["BIOS", "CryptographicErasePD", "DIAG", "DrvPack", "IDRAC", "LCData",
                "NonVolatileMemory", "OverwritePD", "PERCNVCache", "ReinstallFW", "vFlash"]}}})).into_response(),
        ("POST", p) if p == format!("{LC_SERVICE}/Actions/DellLCService.SystemErase") => {
            bmc.system_erase_polls = 0;
            (StatusCode::ACCEPTED, [("Location", ERASE_TASK.to_string())], "").into_response()
        }
        ("GET", ERASE_TASK) => {
            bmc.system_erase_polls += 1;
            if bmc.system_erase_polls == 1 {
                (StatusCode::ACCEPTED, Json(json!({"TaskState": "Running", "TaskStatus": "OK", "Messages": [
                    {"Message": "Turning on the server to perform System Erase tasks."}]}))).into_response()
            } else {
                // Finished, and gone from the TaskService (iDRAC before 7.10.30).
                dell_error(StatusCode::NOT_FOUND, "Base.1.12.ResourceMissingAtURI", "The resource at the URI was not found.")
            }
        }
        ("GET", ERASE_JOB) => Json(json!({"@odata.type": "#DellJob.v1_5_0.DellJob", "Id": "JID_200000000002",
            "JobType": "SystemErase", "Name": "System_Erase", "JobState": "Completed",
            "Message": "Job completed successfully.", "MessageId": "SYS018", "PercentComplete": 100})).into_response(),
        ("POST", p) if p == format!("{DRIVE}/Actions/Drive.SecureErase") => {
            bmc.task_polls = 0;
            (StatusCode::ACCEPTED, [("Location", TASK.to_string())], "").into_response()
        }
        ("GET", TASK) => {
            bmc.task_polls += 1;
            let task = |state: &str, status: &str, message: &str, percent: u32| json!({"@odata.type": "#Task.v1_5_1.Task",
                "Id": "JID_100000000001", "Name": "Task", "TaskState": state, "TaskStatus": status, "PercentComplete": percent,
                "Messages": [{"MessageId": "IDRAC.2.9.SYS018", "Message": message}]});
            if bmc.task_polls < 3 {
                (StatusCode::ACCEPTED, Json(task("Running", "OK", "Task successfully scheduled.", 10))).into_response()
            } else if bmc.erase_fails {
                Json(task("Exception", "Critical", "Unable to erase the physical disk because it is in a failed state.", 100)).into_response()
            } else {
                Json(task("Completed", "OK", "Job completed successfully.", 100)).into_response()
            }
        }
        _ => dell_error(StatusCode::NOT_FOUND, "Base.1.12.ResourceMissingAtURI", &format!("The resource at the URI {path} was not found.")),
    }
}

async fn idrac9() -> (String, Shared) {
    let shared: Shared = Arc::new(Mutex::new(Idrac9 {
        boot_target: "None".into(),
        ..Default::default()
    }));
    shared.lock().unwrap().vnc = serde_json::from_value(json!({"VNCServer.1.Enable": "Disabled",
        "VNCServer.1.Port": 5901, "VNCServer.1.Timeout": 300, "VNCServer.1.Password": null,
        "VNCServer.1.ActiveSessions": 0}))
    .unwrap();
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), shared)
}

fn driver(url: &str, password: &str) -> Redfish {
    let mut config = super::config(url, password);
    config.user = "root".into();
    config.poll = std::time::Duration::from_millis(20);
    let pins: Arc<dyn HostKeyPins> = Arc::new(MemoryPins::default());
    Redfish::new(config, pins).expect("driver")
}

#[tokio::test]
async fn a_session_is_used_and_opened_again_when_it_expires() {
    let (url, bmc) = idrac9().await;
    let driver = driver(&url, "calvin-9");
    let info = driver.system_info().await.expect("info");
    assert_eq!(
        (
            info.model.as_str(),
            info.service_tag.as_str(),
            info.bmc_firmware.as_str()
        ),
        ("PowerEdge R650", "7XK2M03", "7.00.60.00")
    );
    assert_eq!(info.power, PowerState::On);
    // The session expires behind the driver's back.
    bmc.lock().unwrap().token = Some("expired".into());
    assert_eq!(driver.power_state().await.expect("state"), PowerState::On);
    {
        let state = bmc.lock().unwrap();
        assert_eq!(state.sessions, 2, "logged in again once");
        let basic = state
            .log
            .iter()
            .filter(|(m, p, authorized, _)| {
                !authorized && p != "/redfish/v1" && !(m == "POST" && p.ends_with("Sessions"))
            })
            .count();
        assert_eq!(
            basic, 1,
            "only the request that met the expired session went without a valid token: {:?}",
            state.log
        );
    }

    let refused = driver_with_password(&url, "wrong");
    let error = refused.power_state().await.expect_err("refused");
    assert_eq!(error.class, ErrorClass::Permanent);
    assert!(
        error.message.contains("HTTP 401") && error.message.contains("bmc.password"),
        "{error}"
    );
}

fn driver_with_password(url: &str, password: &str) -> Redfish {
    driver(url, password)
}

#[tokio::test]
async fn a_patch_carries_the_etag_and_reads_again_after_a_412() {
    let (url, bmc) = idrac9().await;
    let driver = driver(&url, "calvin-9");
    bmc.lock().unwrap().stale_once = true;
    bmc.lock().unwrap().busy_once = true;
    driver.boot_once_from_media().await.expect("boot once");
    let state = bmc.lock().unwrap();
    assert_eq!(state.boot_target, "Cd");
    let patches: Vec<_> = state
        .log
        .iter()
        .filter(|(m, _, _, _)| m == "PATCH")
        .collect();
    assert_eq!(
        patches.len(),
        2,
        "a 412, then the PATCH with the fresh ETag: {patches:?}"
    );
    assert!(patches
        .iter()
        .all(|(_, _, _, etag)| etag.as_deref().is_some_and(|e| e.starts_with("W/\"gen-"))));
    assert_eq!(
        state.bodies.last().unwrap()["Boot"]["BootSourceOverrideEnabled"],
        "Once"
    );
}

#[tokio::test]
async fn the_cd_under_the_manager_without_inserted_and_write_protected() {
    let (url, bmc) = idrac9().await;
    let driver = driver(&url, "calvin-9");
    let source = MediaSource {
        image: "//10.0.0.5/iso/installer.iso".into(),
        user: Some("share".into()),
        password: Some(Secret::new("share-secret-41")),
    };
    driver.attach_media(&source).await.expect("insert");
    assert_eq!(
        driver.media_status().await.expect("media").image.as_deref(),
        Some("//10.0.0.5/iso/installer.iso")
    );
    let body = bmc.lock().unwrap().bodies.last().cloned().unwrap();
    assert_eq!(
        body.get("Inserted"),
        None,
        "sent again without Inserted: {body}"
    );
    assert_eq!(body["TransferProtocolType"], "CIFS");
    driver.detach_media().await.expect("eject");
    assert_eq!(bmc.lock().unwrap().image, None);
}

#[tokio::test]
async fn the_vnc_console_through_dells_attributes() {
    let (url, bmc) = idrac9().await;
    let driver = driver(&url, "calvin-9");
    let before = driver.console_settings().await.expect("read");
    assert_eq!(
        (before.enabled, before.port, before.timeout_secs),
        (false, 5901, 300)
    );
    let wanted = VncSettings {
        enabled: true,
        port: 5902,
        timeout_secs: 3600,
        password: Some(Secret::new("Xy7pQ2aa")),
    };
    driver.set_console_settings(&wanted).await.expect("write");
    let after = driver.console_settings().await.expect("read");
    assert_eq!(
        (after.enabled, after.port, after.timeout_secs),
        (true, 5902, 3600)
    );
    let state = bmc.lock().unwrap();
    let patch = state.bodies.last().unwrap();
    assert_eq!(
        patch["Attributes"]["VNCServer.1.Password"], "Xy7pQ2aa",
        "{patch}"
    );
    assert_eq!(patch["Attributes"]["VNCServer.1.Enable"], "Enabled");
}

#[tokio::test]
async fn secure_erase_runs_behind_a_task_monitor() {
    let (url, bmc) = idrac9().await;
    let driver = driver(&url, "calvin-9");
    driver.erase_disks().await.expect("erase");
    assert!(
        bmc.lock().unwrap().task_polls >= 3,
        "the monitor was followed to its end"
    );

    bmc.lock().unwrap().erase_fails = true;
    let error = driver.erase_disks().await.expect_err("the task failed");
    assert_eq!(error.class, ErrorClass::Permanent, "{error}");
    assert!(
        error.message.contains("Exception") && error.message.contains("failed state"),
        "{error}"
    );
}

#[tokio::test]
async fn requests_to_one_bmc_go_one_at_a_time_and_paced() {
    let (url, bmc) = idrac9().await;
    let mut config = super::config(&url, "calvin-9");
    config.user = "root".into();
    config.min_interval = std::time::Duration::from_millis(60);
    let pins: Arc<dyn HostKeyPins> = Arc::new(MemoryPins::default());
    let driver = Redfish::new(config, pins).expect("driver");
    let (a, b, c) = tokio::join!(
        driver.power_state(),
        driver.power_state(),
        driver.media_status()
    );
    assert!(a.is_ok() && b.is_ok() && c.is_ok());
    let arrivals = bmc.lock().unwrap().arrivals.clone();
    assert!(arrivals.len() >= 6, "{arrivals:?}");
    for pair in arrivals.windows(2) {
        // The gap is measured from the previous answer, so starts are at least as far apart.
        assert!(
            pair[1] - pair[0] >= std::time::Duration::from_millis(55),
            "{:?}",
            pair[1] - pair[0]
        );
    }
}

#[tokio::test]
async fn drives_without_secure_erase_get_dells_system_erase() {
    let (url, bmc) = idrac9().await;
    let driver = driver(&url, "calvin-9");
    bmc.lock().unwrap().drive_without_secure_erase = true;
    driver.erase_disks().await.expect("erase");
    let state = bmc.lock().unwrap();
    assert_eq!(
        state.bodies.last().unwrap()["Component"],
        json!(["CryptographicErasePD", "OverwritePD"])
    );
    // The task vanished once finished; Dell's job store told how it ended.
    assert!(
        state.log.iter().any(|(_, path, _, _)| path == ERASE_JOB),
        "{:?}",
        state.log
    );
}

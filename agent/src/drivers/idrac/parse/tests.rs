//! The parsers against answers shaped like real iDRACs', and against
//! answers they must refuse.

use super::*;

#[test]
fn power_status_is_strict() {
    assert_eq!(
        power_status("Server power status: ON\n"),
        Ok(Some(PowerState::On))
    );
    assert_eq!(
        power_status("Server Power Status: OFF\r\n"),
        Ok(Some(PowerState::Off))
    );
    assert!(power_status("Server power status: STANDBY\n").is_err());
    assert!(power_status("Server power status: ON\nServer power status: OFF\n").is_err());
    assert!(power_status("").is_err());
    assert!(power_operation("Server power operation successful\n").is_ok());
    assert!(power_operation("Done\n").is_err());
}

#[test]
fn media_status_enabled_and_disabled() {
    let enabled =
        "Remote File Share is Enabled\nUserName \nPassword \nShareName //10.0.0.5/iso/a b.iso\n";
    assert_eq!(
        media_status(enabled),
        Ok(MediaStatus {
            image: Some("//10.0.0.5/iso/a b.iso".into())
        })
    );
    let disabled = "Remote File Share is Disabled\nUserName \nPassword \nShareName \n";
    assert_eq!(media_status(disabled), Ok(MediaStatus { image: None }));
    assert!(media_status("Remote File Share is Enabled\nShareName \n").is_err());
    assert!(media_status("Something else\n").is_err());
    assert!(media_detach_started(
        "Disable Remote File Started. Please check status using -s\noption ...\n"
    )
    .is_ok());
}

#[test]
fn vnc_group() {
    let text = "[Key=iDRAC.Embedded.1#VNCServer.1]\nActiveSessions=0\nEnable=Enabled\n\
                LowerEncryptionBitLength=Disabled\n!!Password=******** (Write-Only)\nPort=5901\n\
                SSLEncryptionBitLength=Disabled\nTimeout=300\n";
    assert_eq!(
        vnc(text),
        Ok(VncSettings {
            enabled: true,
            port: 5901,
            timeout_secs: 300,
            password: None
        })
    );
    assert!(vnc("[Key=iDRAC.Embedded.1#VNCServer.1]\nEnable=Maybe\nPort=1\nTimeout=1\n").is_err());
    assert!(vnc("Enable=Enabled\n").is_err());
    assert!(object_modified(
        "[Key=iDRAC.Embedded.1#VNCServer.1]\nObject value modified successfully\n"
    )
    .is_ok());
}

#[test]
fn jobs() {
    let started = "RAC976: Export configuration XML file operation initiated.\n\
                   Use the \"racadm jobqueue view -i JID_552080244178\" command to view the status\n\
                   of the operation.\n";
    assert_eq!(
        job_started(started, "RAC976"),
        Ok(JobId("JID_552080244178".into()))
    );
    assert!(job_started(started, "RAC977").is_err());
    let view = "---------------------------- JOB -------------------------\n\
                [Job ID=JID_552080244178]\n\
                Job Name=Export: Server Configuration Profile\n\
                Status=Completed\n\
                Scheduled Start Time=[Not Applicable]\n\
                Expiration Time=[Not Applicable]\n\
                Actual Start Time=[Thu, 27 Mar 2025 16:44:19]\n\
                Actual Completion Time=[Thu, 27 Mar 2025 16:44:21]\n\
                Message=[SYS043: Successfully exported Server Configuration Profile]\n\
                Percent Complete=[100]\n\
                ----------------------------------------------------------\n";
    let job = job(view).expect("a job");
    assert_eq!(job.state, JobState::Completed);
    assert_eq!(job.message_id.as_deref(), Some("SYS043"));
    assert_eq!(
        job.message,
        "Successfully exported Server Configuration Profile"
    );
    assert_eq!(job.percent, Some(100));
    assert!(super::job(&view.replace("Status=Completed", "Status=Pondering")).is_err());
    assert!(job_id("JID_12a").is_err());
}

#[test]
fn sysinfo_sections() {
    let text = "RAC Information:\nRAC Date/Time           = Thu Feb 27 2025 10:15:21\n\
                Firmware Version        = 7.00.00.172\nMAC Address             = D0:94:66:AA:BB:CC\n\n\
                System Information:\nSystem Model            = PowerEdge R640\n\
                System BIOS Version     = 2.19.1\nService Tag             = SIM0001\n\
                Host Name               = \nPower Status            = ON\n\n\
                Embedded NIC MAC Addresses:\n\
                NIC.Integrated.1-1-1    Ethernet                = D0:94:66:00:00:01\n\
                NIC.Integrated.1-2-1    Ethernet                = D0:94:66:01:00:01\n";
    let info = sysinfo(text).expect("sysinfo");
    assert_eq!(info.model, "PowerEdge R640");
    assert_eq!(info.service_tag, "SIM0001");
    assert_eq!(info.bmc_mac, "d0:94:66:aa:bb:cc");
    assert_eq!(info.power, PowerState::On);
    assert_eq!(info.nic_macs, ["d0:94:66:00:00:01", "d0:94:66:01:00:01"]);
    assert!(sysinfo(&text.replace("Service Tag", "Svc Tag")).is_err());
    assert!(sysinfo(&text.replace("D0:94:66:AA:BB:CC", "nope")).is_err());
    // A NIC without a MAC (N/A) is left out, not an error.
    let na = sysinfo(&text.replace("D0:94:66:00:00:01", "N/A")).unwrap();
    assert_eq!(na.nic_macs, ["d0:94:66:01:00:01"]);
}

/// Every golden answer in tests/fixtures/racadm (real firmware's output,
/// with its source in the file's header), read by the parser for its
/// command: as printed, with CRLF line ends, and with the lines firmware
/// appends (a default-password warning, iDRAC9's RACnnnn notice).
#[test]
fn every_golden_answer_is_understood() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/racadm");
    let mut checked = 0;
    for firmware in std::fs::read_dir(&dir).unwrap() {
        let firmware = firmware.unwrap().path();
        if !firmware.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&firmware).unwrap() {
            let path = file.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let (header, answer) = text
                .split_once("# ---\n")
                .unwrap_or_else(|| panic!("{} has no header", path.display()));
            assert!(
                header.contains("# command: ") && header.contains("# source: "),
                "{} must name its command and source",
                path.display()
            );
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let variants = [
                answer.to_string(),
                answer.replace('\n', "\r\n"),
                format!("{answer}WARNING: Default password is configured. Dell highly recommends changing user root's password immediately\n"),
                format!("{answer}Warning: It is recommended not to use the default user name (root) and password as it is a security risk.\n"),
                format!("{answer}RAC1195: Notice printed after a successful command.\n"),
            ];
            for variant in &variants {
                check_golden(&name, variant)
                    .unwrap_or_else(|why| panic!("{}: {why}\nanswer: {variant:?}", path.display()));
            }
            checked += 1;
        }
    }
    assert!(checked >= 14, "only {checked} golden files");
}

fn check_golden(name: &str, answer: &str) -> Result<(), String> {
    let expect = |ok: bool, what: &str| if ok { Ok(()) } else { Err(what.to_string()) };
    match name {
        "serveraction_powerup.txt" => power_operation(answer),
        "serveraction_powerstatus.txt" | "serveraction_powerstatus_default_password.txt" => {
            expect(power_status(answer)? == Some(PowerState::On), "not ON")
        }
        "serveraction_powerstatus_transition.txt" => expect(
            power_status(answer)?.is_none(),
            "a transition is to be asked again",
        ),
        "getsysinfo.txt" => {
            let info = sysinfo(answer)?;
            expect(
                info == SystemInfo {
                    model: "PowerEdge R730".into(),
                    service_tag: "HG2H8D2".into(),
                    bios_version: "2.1.7".into(),
                    bmc_firmware: "2.30.30.30".into(),
                    bmc_mac: "18:fb:7b:a5:b2:69".into(),
                    power: PowerState::On,
                    nic_macs: ["f4", "f6", "f8", "fa"]
                        .iter()
                        .map(|last| format!("18:66:da:58:d1:{last}"))
                        .collect(),
                },
                "wrong system information",
            )
        }
        "getsysinfo_empty.txt" => expect(is_empty_answer(answer), "not read as empty"),
        "jobqueue_view_running.txt" => {
            let status = job(answer)?;
            expect(
                status.state == JobState::Running
                    && status.percent == Some(10)
                    && status.message_id.as_deref() == Some("SYS057")
                    && status.id.0 == "JID_552080244178",
                "wrong job status",
            )
        }
        "get_export_started.txt" => expect(
            job_started(answer, "RAC976")?.0 == "JID_552080244178",
            "wrong job id",
        ),
        "racreset_soft.txt" => reset_started(answer),
        "remoteimage_connect.txt" => media_configured(answer),
        "remoteimage_disconnect.txt" => media_detach_started(answer),
        "remoteimage_status.txt" => expect(
            media_status(answer)?.image.as_deref() == Some("//192.168.0/xxxx/dtk_3.3_73_Linux.iso"),
            "wrong image",
        ),
        other => Err(format!("no check for the golden file {other}: add one")),
    }
}

#[test]
fn sysinfo_survives_ipv6_values_na_nics_and_continuation_lines() {
    let text = "RAC Information:\nFirmware Version        = 7.00.00.172\nMAC Address             = D0:94:66:00:00:01\n\n\
                IPv6 settings:\nCurrent IP Address 1    = ::\nCurrent IP Gateway      = ::\n\n\
                System Information:\nSystem Model            = PowerEdge R640\nSystem BIOS Version     = 2.19.1\n\
                Service Tag             = SIM0001\nPower Status            = OFF\n\n\
                Embedded NIC MAC Addresses:\nNIC.Integrated.1-1-1    Ethernet                = D0:94:66:00:00:02\n\
                                        iSCSI                   = D0:94:66:00:00:03\n\
                NIC.Integrated.1-2-1    Ethernet                = N/A\n";
    let info = sysinfo(text).unwrap();
    assert_eq!(info.nic_macs, vec!["d0:94:66:00:00:02".to_string()]);
    assert_eq!(info.model, "PowerEdge R640");
}

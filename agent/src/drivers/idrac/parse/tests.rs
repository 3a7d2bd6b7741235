//! The parsers against answers shaped like real iDRACs', and against
//! answers they must refuse.

use super::*;

#[test]
fn power_status_is_strict() {
    assert_eq!(
        power_status("Server power status: ON\n"),
        Ok(PowerState::On)
    );
    assert_eq!(
        power_status("Server Power Status: OFF\r\n"),
        Ok(PowerState::Off)
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
    assert!(sysinfo(&text.replace("D0:94:66:00:00:01", "nope")).is_err());
}

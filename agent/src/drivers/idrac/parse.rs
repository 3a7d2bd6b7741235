//! Strict readers of racadm's answers. Each accepts exactly the shapes real
//! iDRACs print (tests/fixtures/racadm holds them, with their sources) and
//! otherwise says what it expected; it never guesses. What firmware adds
//! around an answer is set aside first: CRLF and the padding of lines,
//! warnings about default credentials, and `RACnnnn` notices after a
//! successful command.

use crate::drivers::bmc::{
    JobId, JobState, JobStatus, MediaStatus, PowerState, SystemInfo, VncSettings,
};

type Parsed<T> = Result<T, String>;

/// Lines firmware appends to an answer that are not the answer: iDRAC7/8's
/// `WARNING: Default password is configured...` and, after a factory
/// reset, `Warning: It is recommended not to use the default user name...`.
fn is_warning(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    lower.starts_with("warning: default password is configured")
        || lower.starts_with("warning: it is recommended not to use the default user name")
}

/// A `RACnnnn: ...` notice, which iDRAC9 prints after a successful command.
pub(super) fn is_notice(line: &str) -> bool {
    line.strip_prefix("RAC")
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(code, _)| {
            (3..=5).contains(&code.len()) && code.chars().all(|c| c.is_ascii_digit())
        })
}

/// The answer's lines, trimmed, without blank lines, warnings and notices.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !is_warning(l) && !is_notice(l))
}

/// Whether the answer says nothing at all once warnings, notices and
/// padding are set aside: iDRAC8 sometimes answers `getsysinfo` so, and
/// asked again answers properly.
pub(super) fn is_empty_answer(text: &str) -> bool {
    lines(text).next().is_none()
}

fn has_line(text: &str, wanted: &str) -> Parsed<()> {
    if lines(text).any(|l| l.eq_ignore_ascii_case(wanted)) {
        Ok(())
    } else {
        Err(format!("expected {wanted:?}"))
    }
}

/// `Server power status: ON` (some firmware capitalizes `Power Status`);
/// `None` while the server is `Powering ON` or `Powering OFF`, which says
/// to ask again.
pub(super) fn power_status(text: &str) -> Parsed<Option<PowerState>> {
    let all: Vec<&str> = lines(text).collect();
    let [line] = all.as_slice() else {
        return Err("expected one line \"Server power status: ON|OFF\"".into());
    };
    let lower = line.to_ascii_lowercase();
    match lower.strip_prefix("server power status:").map(str::trim) {
        Some("on") => Ok(Some(PowerState::On)),
        Some("off") => Ok(Some(PowerState::Off)),
        Some("powering on" | "powering off") => Ok(None),
        _ => Err("expected \"Server power status: ON|OFF\"".into()),
    }
}

/// Older firmware says the operation was `successful`; iDRAC9 that it was
/// `initiated successfully`.
pub(super) fn power_operation(text: &str) -> Parsed<()> {
    has_line(text, "Server power operation successful")
        .or_else(|_| has_line(text, "Server power operation initiated successfully"))
        .map_err(|_| {
            "expected \"Server power operation successful\" or \"... initiated successfully\""
                .to_string()
        })
}

pub(super) fn media_configured(text: &str) -> Parsed<()> {
    has_line(text, "Remote Image is now Configured")
}

pub(super) fn media_detach_started(text: &str) -> Parsed<()> {
    if lines(text)
        .next()
        .is_some_and(|l| l.starts_with("Disable Remote File Started"))
    {
        Ok(())
    } else {
        Err("expected \"Disable Remote File Started...\"".into())
    }
}

/// `Remote File Share is Enabled|Disabled`, then `UserName`, `Password` and
/// `ShareName <image>` lines.
pub(super) fn media_status(text: &str) -> Parsed<MediaStatus> {
    let mut all = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty() && !is_warning(l.trim()) && !is_notice(l.trim()));
    let enabled = match all.next().map(str::trim) {
        Some("Remote File Share is Enabled") => true,
        Some("Remote File Share is Disabled") => false,
        _ => return Err("expected \"Remote File Share is Enabled|Disabled\"".into()),
    };
    let share = all
        .find_map(|l| l.trim_start().strip_prefix("ShareName"))
        .ok_or("expected a \"ShareName\" line")?
        .trim();
    match (enabled, share.is_empty()) {
        (true, false) => Ok(MediaStatus {
            image: Some(share.to_string()),
        }),
        (false, _) => Ok(MediaStatus { image: None }),
        (true, true) => Err("the share is enabled but names no image".into()),
    }
}

/// `[Key=iDRAC.Embedded.1#VNCServer.1]` and `Attr=Value` lines.
pub(super) fn vnc(text: &str) -> Parsed<VncSettings> {
    let mut all = lines(text);
    if all.next() != Some("[Key=iDRAC.Embedded.1#VNCServer.1]") {
        return Err("expected \"[Key=iDRAC.Embedded.1#VNCServer.1]\"".into());
    }
    let values: Vec<(&str, &str)> = all.filter_map(|l| l.split_once('=')).collect();
    let value = |name: &str| {
        values
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .ok_or(format!("expected a {name}= line"))
    };
    let enabled = match value("Enable")? {
        "Enabled" => true,
        "Disabled" => false,
        other => return Err(format!("Enable={other} is neither Enabled nor Disabled")),
    };
    let port = value("Port")?
        .parse()
        .map_err(|_| "Port is not a port number".to_string())?;
    let timeout_secs = value("Timeout")?
        .parse()
        .map_err(|_| "Timeout is not a number of seconds".to_string())?;
    Ok(VncSettings {
        enabled,
        port,
        timeout_secs,
        password: None,
    })
}

pub(super) fn object_modified(text: &str) -> Parsed<()> {
    has_line(text, "Object value modified successfully")
}

pub(super) fn reset_started(text: &str) -> Parsed<()> {
    if lines(text)
        .next()
        .is_some_and(|l| l.starts_with("RAC reset operation initiated successfully"))
    {
        Ok(())
    } else {
        Err("expected \"RAC reset operation initiated successfully...\"".into())
    }
}

/// `RAC976: Export ... initiated.` (or `RAC977` for imports) and the job id
/// in `Use the "racadm jobqueue view -i JID_..." command`.
pub(super) fn job_started(text: &str, code: &str) -> Parsed<JobId> {
    if !text
        .lines()
        .any(|l| l.trim().starts_with(&format!("{code}:")))
    {
        return Err(format!("expected a {code} message"));
    }
    let at = text
        .find("jobqueue view -i JID_")
        .ok_or("expected a job id")?
        + "jobqueue view -i ".len();
    let id: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    job_id(&id).map(|()| JobId(id))
}

/// The job an answer names (`JID_` and digits), wherever it names it.
pub(super) fn job_mentioned(text: &str) -> Parsed<JobId> {
    let at = text.find("JID_").ok_or("expected a job id (JID_...)")?;
    let id: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    job_id(&id).map(|()| JobId(id))
}

/// `JID_` and digits (real ids have twelve).
pub(super) fn job_id(id: &str) -> Parsed<()> {
    match id.strip_prefix("JID_") {
        Some(digits) if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) => Ok(()),
        _ => Err(format!("{id:?} is not a job id (JID_ and digits)")),
    }
}

/// One job block of `racadm jobqueue view -i`.
pub(super) fn job(text: &str) -> Parsed<JobStatus> {
    let mut id = None;
    let mut fields = Vec::new();
    for line in lines(text) {
        if let Some(rest) = line.strip_prefix("[Job ID=") {
            id = rest.strip_suffix(']').map(str::to_string);
        } else if let Some((key, value)) = line.split_once('=') {
            fields.push((key.trim(), value.trim()));
        }
    }
    let id = id.ok_or("expected a [Job ID=...] line")?;
    job_id(&id)?;
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
            .ok_or(format!("expected a {name}= line"))
    };
    let state = match field("Status")? {
        "Completed" => JobState::Completed,
        "Failed" | "Completed with Errors" | "CompletedWithErrors" => JobState::Failed,
        "Running" | "Downloading" | "Downloaded" | "Ready for execution" | "Waiting" => {
            JobState::Running
        }
        "Scheduled" | "Scheduling" | "New" => JobState::Scheduled,
        other => return Err(format!("unknown job status {other:?}")),
    };
    let message = bracketed(field("Message")?);
    let (message_id, message) = match message.split_once(": ") {
        Some((code, text))
            if !code.is_empty() && code.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            (Some(code.to_string()), text.to_string())
        }
        _ => (None, message.to_string()),
    };
    let percent = match bracketed(field("Percent Complete")?) {
        "NA" => None,
        number => Some(
            number
                .parse::<u8>()
                .map_err(|_| format!("Percent Complete {number:?} is not a number"))?,
        ),
    };
    Ok(JobStatus {
        id: JobId(id),
        name: field("Job Name")?.to_string(),
        state,
        percent,
        message_id,
        message,
    })
}

fn bracketed(value: &str) -> &str {
    value
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(value)
}

/// `racadm getsysinfo`: `Name = Value` lines in sections, and the embedded
/// NICs as `<NIC> Ethernet = <MAC>` lines. A section header is a line ending
/// in `:` without `=` (IPv6 values such as `::` end in a colon too); a NIC
/// value that is not a MAC address (`N/A`) and a NIC's other lines (`iSCSI`,
/// `WWN`, ...) are skipped.
pub(super) fn sysinfo(text: &str) -> Parsed<SystemInfo> {
    let mut section = "";
    let mut values: Vec<(&str, &str, &str)> = Vec::new();
    let mut nic_macs = Vec::new();
    for line in lines(text) {
        let Some((key, value)) = line.split_once('=') else {
            if let Some(name) = line.strip_suffix(':') {
                section = name;
            }
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        if section == "Embedded NIC MAC Addresses" {
            if key.ends_with("Ethernet") {
                if let Ok(mac) = mac(value) {
                    nic_macs.push(mac);
                }
            }
        } else {
            values.push((section, key, value));
        }
    }
    let value = |section: &str, key: &str| {
        values
            .iter()
            .find(|(s, k, _)| *s == section && *k == key)
            .map(|(_, _, v)| v.to_string())
            .ok_or(format!("expected \"{key}\" under \"{section}:\""))
    };
    let power = match value("System Information", "Power Status")?.as_str() {
        "ON" => PowerState::On,
        "OFF" => PowerState::Off,
        other => return Err(format!("Power Status {other:?} is neither ON nor OFF")),
    };
    Ok(SystemInfo {
        model: value("System Information", "System Model")?,
        service_tag: value("System Information", "Service Tag")?,
        bios_version: value("System Information", "System BIOS Version")?,
        bmc_firmware: value("RAC Information", "Firmware Version")?,
        bmc_mac: mac(&value("RAC Information", "MAC Address")?)?,
        power,
        nic_macs,
    })
}

/// A MAC address in lower case, or why it is not one.
fn mac(text: &str) -> Parsed<String> {
    let parts: Vec<&str> = text.split(':').collect();
    if parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
    {
        Ok(text.to_ascii_lowercase())
    } else {
        Err(format!("{text:?} is not a MAC address"))
    }
}

#[cfg(test)]
mod tests;

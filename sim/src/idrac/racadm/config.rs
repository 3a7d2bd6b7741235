//! `racadm get` and `racadm set`: the VNC server attributes
//! (`iDRAC.VNCServer.*`) and the configuration profile export (`get -t xml`)
//! and import (`set -t xml`), which run as jobs.

use std::time::Instant;

use super::{check_share_credentials, invalid_syntax, share_kind, Opts, Reply};
use crate::idrac::bmc::Bmc;
use crate::idrac::device::Vnc;
use crate::idrac::jobs::{Job, JobKind, DEFAULT_JOB_DURATION};

const GET_USAGE: &str = "racadm get <object>\n\
     \x20      racadm get -t xml -f <file> [-l <share> -u <user> -p <password>]";
const SET_USAGE: &str = "racadm set <object> <value>\n\
     \x20      racadm set -t xml -f <file> [-l <share> -u <user> -p <password>] [-b <shutdown>]";
const VNC_KEY: &str = "[Key=iDRAC.Embedded.1#VNCServer.1]";
const VNC_GROUP: &str = "idrac.vncserver";
const MODIFIED: &str = "Object value modified successfully";
const INVALID_OBJECT: &str = "ERROR: Invalid object name specified.";
const INVALID_VALUE: &str = "ERROR: Invalid object value specified.";
/// VNC authentication uses at most eight characters; the iDRAC keeps the first eight.
const VNC_PASSWORD_MAX: usize = 8;

const SSL_BITS: [&str; 4] = [
    "Disabled",
    "Auto Negotiate",
    "128-Bit or higher",
    "168-Bit or higher",
];

pub(super) fn get(bmc: &Bmc, args: &[String], now: Instant) -> Reply {
    if args.iter().any(|a| a == "-t" || a == "-f") {
        return profile_job(bmc, args, Profile::Export, now);
    }
    let [object] = args else {
        return invalid_syntax(GET_USAGE);
    };
    let lower = object.to_ascii_lowercase();
    let vnc = bmc.state().vnc.clone();
    if lower == VNC_GROUP {
        let lines: Vec<String> = ATTRIBUTES.iter().map(|a| render(a, &vnc)).collect();
        return Reply::ok(format!("{VNC_KEY}\n{}", lines.join("\n")));
    }
    match attribute(&lower) {
        Some(attr) => Reply::ok(format!("{VNC_KEY}\n{}", render(attr, &vnc))),
        None => Reply::error(INVALID_OBJECT),
    }
}

pub(super) fn set(bmc: &Bmc, args: &[String], now: Instant) -> Reply {
    if args.iter().any(|a| a == "-t" || a == "-f") {
        return profile_job(bmc, args, Profile::Import, now);
    }
    let [object, value] = args else {
        return invalid_syntax(SET_USAGE);
    };
    if let Some(name) = object
        .to_ascii_lowercase()
        .strip_prefix(BOOT_GROUP)
        .and_then(|rest| rest.strip_prefix('.'))
    {
        return set_boot(bmc, name, value);
    }
    let Some(attr) = attribute(&object.to_ascii_lowercase()) else {
        return Reply::error(INVALID_OBJECT);
    };
    let mut state = bmc.state();
    let vnc = &mut state.vnc;
    let applied = match attr {
        "Enable" => parse_enable(value).map(|on| vnc.enabled = on),
        "Port" => value
            .parse::<u16>()
            .ok()
            .filter(|p| *p >= 1024)
            .map(|p| vnc.port = p),
        "Timeout" => value
            .parse::<u32>()
            .ok()
            .filter(|t| (60..=10800).contains(t))
            .map(|t| vnc.timeout_secs = t),
        "Password" => {
            vnc.password = value.chars().take(VNC_PASSWORD_MAX).collect();
            Some(())
        }
        "SSLEncryptionBitLength" => value
            .parse::<u8>()
            .ok()
            .filter(|b| usize::from(*b) < SSL_BITS.len())
            .map(|b| vnc.ssl_bits = b),
        _ => {
            return Reply::error(format!(
                "ERROR: The object {object} is read-only and cannot be modified."
            ))
        }
    };
    match applied {
        Some(()) => Reply::ok(format!("{VNC_KEY}\n{MODIFIED}")),
        None => Reply::error(INVALID_VALUE),
    }
}

const BOOT_GROUP: &str = "idrac.serverboot";
const BOOT_KEY: &str = "[Key=iDRAC.Embedded.1#ServerBoot.1]";
/// `iDRAC.ServerBoot.FirstBootDevice` values, as Dell's guide lists them.
const BOOT_DEVICES: [&str; 9] = [
    "Normal", "PXE", "HDD", "BIOS", "FDD", "SD", "F10", "F11", "VCD-DVD",
];

/// `iDRAC.ServerBoot.BootOnce` and `.FirstBootDevice`.
fn set_boot(bmc: &Bmc, name: &str, value: &str) -> Reply {
    let mut state = bmc.state();
    let applied = match name {
        "bootonce" => match value.to_ascii_lowercase().as_str() {
            "enabled" | "1" => Some(true),
            "disabled" | "0" => Some(false),
            _ => None,
        }
        .map(|once| state.boot_once = once),
        "firstbootdevice" => BOOT_DEVICES
            .iter()
            .find(|d| d.eq_ignore_ascii_case(value))
            .map(|d| state.first_boot_device = d.to_string()),
        _ => return Reply::error(INVALID_OBJECT),
    };
    match applied {
        Some(()) => Reply::ok(format!("{BOOT_KEY}\n{MODIFIED}")),
        None => Reply::error(INVALID_VALUE),
    }
}

/// The attributes of iDRAC.VNCServer, in the order `get` lists them.
const ATTRIBUTES: [&str; 7] = [
    "ActiveSessions",
    "Enable",
    "LowerEncryptionBitLength",
    "Password",
    "Port",
    "SSLEncryptionBitLength",
    "Timeout",
];

/// `iDRAC.VNCServer.<attr>` (any case) to the attribute's canonical name.
fn attribute(lower_object: &str) -> Option<&'static str> {
    let name = lower_object.strip_prefix(VNC_GROUP)?.strip_prefix('.')?;
    ATTRIBUTES
        .iter()
        .copied()
        .find(|a| a.eq_ignore_ascii_case(name))
}

fn render(attr: &str, vnc: &Vnc) -> String {
    match attr {
        "ActiveSessions" => "ActiveSessions=0".to_string(),
        "Enable" => format!(
            "Enable={}",
            if vnc.enabled { "Enabled" } else { "Disabled" }
        ),
        "LowerEncryptionBitLength" => "LowerEncryptionBitLength=Disabled".to_string(),
        // Write-only: the iDRAC never shows it.
        "Password" => "!!Password=******** (Write-Only)".to_string(),
        "Port" => format!("Port={}", vnc.port),
        "SSLEncryptionBitLength" => format!(
            "SSLEncryptionBitLength={}",
            SSL_BITS
                .get(usize::from(vnc.ssl_bits))
                .copied()
                .unwrap_or("Disabled")
        ),
        _ => format!("Timeout={}", vnc.timeout_secs),
    }
}

fn parse_enable(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "enabled" => Some(true),
        "0" | "disabled" => Some(false),
        _ => None,
    }
}

/// `get|set -t xml -f <file> [-l <share> -u -p]`: starts an export or import job.
/// The two directions of a configuration profile job.
#[derive(Clone, Copy)]
enum Profile {
    Export,
    Import,
}

fn profile_job(bmc: &Bmc, args: &[String], profile: Profile, now: Instant) -> Reply {
    let kind = match profile {
        Profile::Export => JobKind::Export,
        Profile::Import => JobKind::Import,
    };
    let (flags, valued, usage): (&[&str], &[&str], &str) = match profile {
        Profile::Export => (
            &["--clone", "--replace", "--includeph"],
            &["-t", "-f", "-l", "-u", "-p", "-c"],
            GET_USAGE,
        ),
        Profile::Import => (
            &[],
            &["-t", "-f", "-l", "-u", "-p", "-b", "-w", "-s", "-c"],
            SET_USAGE,
        ),
    };
    let opts = match Opts::parse(args, flags, valued) {
        Ok(opts) => opts,
        Err(reply) => return reply,
    };
    let (Some(format), Some(file)) = (opts.value("-t"), opts.value("-f")) else {
        return invalid_syntax(usage);
    };
    if !opts.positional.is_empty() {
        return invalid_syntax(usage);
    }
    if !(format.eq_ignore_ascii_case("xml") || format.eq_ignore_ascii_case("json")) {
        return Reply::error(format!(
            "ERROR: Invalid file type specified: {format}. Use xml or json."
        ));
    }
    let share = opts.value("-l").map(str::to_string);
    if let Some(share) = &share {
        let Some(share_kind) = share_kind(share) else {
            return Reply::error(format!("ERROR: Invalid share path specified: {share}"));
        };
        if let Err(reply) = check_share_credentials(share_kind, &opts, "-l") {
            return reply;
        }
    }
    let duration = bmc
        .faults
        .task_duration(&bmc.fault_key(), DEFAULT_JOB_DURATION);
    let job = Job::new(kind, file.to_string(), share, duration, now);
    let (code, what) = match profile {
        Profile::Export => ("RAC976", "Export"),
        Profile::Import => ("RAC977", "Import"),
    };
    let text = format!(
        "{code}: {what} configuration XML file operation initiated.\n\
         Use the \"racadm jobqueue view -i {id}\" command to view the status\n\
         of the operation.",
        id = job.id
    );
    bmc.state().jobs.push(job);
    Reply::ok(text)
}

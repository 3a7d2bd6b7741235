//! The two guest tools, `giif-pagw-apply` and `giif-pagw-show`, written once
//! over a [`System`]: the real Debian gateway ([`crate::linux`]) or
//! giif-sim's in-memory one ([`crate::memory`]). The protocol they speak
//! (arguments, exit codes, JSON answers) is specified in
//! `docs/design/gateways.md`.

use serde_json::json;

use crate::document::{sha256_hex, Document, ParseError, FORMAT};
use crate::observed::{Observed, BRIDGE};
use crate::plan::{live_document, plan, PlanError, Step};

/// Where the document is stored; boot re-applies it.
pub const CONFIG_PATH: &str = "/etc/giif/pagw.json";
/// Largest document `giif-pagw-apply` accepts.
pub const MAX_CONFIG_BYTES: usize = 1 << 20;

/// The document was refused: nothing changed.
pub const EXIT_INVALID: u32 = 2;
/// A step failed half way: some of the document may be in force.
pub const EXIT_FAILED: u32 = 1;
/// `EX_TEMPFAIL`: busy or not ready (a NIC not there yet); nothing changed.
pub const EXIT_TEMPFAIL: u32 = 75;

/// Why the system could not do something.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SystemError {
    /// Busy or not ready; nothing changed.
    Busy(String),
    Failed(String),
}

impl std::fmt::Display for SystemError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Busy(reason) | Self::Failed(reason) => f.write_str(reason),
        }
    }
}

/// A gateway's operating system, as the tools need it.
pub trait System {
    fn hostname(&self) -> String;
    /// Where dnsmasq keeps its leases.
    fn leases_path(&self) -> &str;
    fn observe(&mut self) -> Result<Observed, SystemError>;
    fn run(&mut self, step: &Step) -> Result<(), SystemError>;
    /// The stored document's text, if there is one.
    fn stored(&self) -> Result<Option<String>, SystemError>;
    fn store(&mut self, text: &str) -> Result<(), SystemError>;
    /// What the document needs that this gateway lacks, one `field: what
    /// to install` line each (pptpd for `pptp`, say).
    fn missing(&self, doc: &Document) -> Vec<String>;
}

/// What a tool printed and how it exits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    pub status: u32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn ok(stdout: String) -> Self {
        Self {
            status: 0,
            stdout,
            stderr: String::new(),
        }
    }

    pub fn fail(status: u32, stderr: impl Into<String>) -> Self {
        let mut stderr = stderr.into();
        if !stderr.ends_with('\n') {
            stderr.push('\n');
        }
        Self {
            status,
            stdout: String::new(),
            stderr,
        }
    }
}

const APPLY: &str = "giif-pagw-apply";

fn refused(problems: impl IntoIterator<Item = String>) -> Output {
    let mut message = format!("{APPLY}: invalid configuration; nothing changed:");
    for problem in problems {
        message.push_str("\n  ");
        message.push_str(&problem);
    }
    Output::fail(EXIT_INVALID, message)
}

/// `giif-pagw-apply`: check the document, converge the system to it, store
/// it. `expect_sha256` guards against a truncated upload.
pub fn apply(system: &mut dyn System, input: &[u8], expect_sha256: Option<&str>) -> Output {
    if input.len() > MAX_CONFIG_BYTES {
        return Output::fail(EXIT_INVALID, format!("{APPLY}: the configuration is larger than {MAX_CONFIG_BYTES} bytes; nothing changed"));
    }
    let sha256 = sha256_hex(input);
    if let Some(expected) = expect_sha256 {
        if !expected.eq_ignore_ascii_case(&sha256) {
            return Output::fail(
                EXIT_INVALID,
                format!("{APPLY}: the configuration read has SHA-256 {sha256}, not {expected} (truncated upload?); nothing changed"),
            );
        }
    }
    let document = match Document::parse(input) {
        Ok(document) => document.canonical(),
        Err(err @ ParseError::Format { .. }) => return refused([err.to_string()]),
        Err(ParseError::Invalid(reason)) => {
            return Output::fail(
                EXIT_INVALID,
                format!("{APPLY}: invalid configuration: {reason}; nothing changed"),
            )
        }
    };
    let problems = document.problems();
    if !problems.is_empty() {
        return refused(problems.iter().map(ToString::to_string));
    }
    let missing = system.missing(&document);
    if !missing.is_empty() {
        return refused(missing);
    }
    let live = match system.observe() {
        Ok(live) => live,
        Err(err) => return system_failure(err, "reading the live state"),
    };
    let previous = match system.stored() {
        Ok(text) => text.and_then(|text| Document::parse(text.as_bytes()).ok()),
        Err(err) => return system_failure(err, "reading the stored configuration"),
    };
    let steps = match plan(&live, &document, previous.as_ref(), system.leases_path()) {
        Ok(steps) => steps,
        Err(PlanError::Refused(problems)) => return refused(problems),
        Err(PlanError::NotYet(reason)) => {
            return Output::fail(
                EXIT_TEMPFAIL,
                format!("{APPLY}: {reason}; nothing changed, try again"),
            )
        }
    };
    let mut changes = Vec::new();
    for step in &steps {
        if let Err(err) = system.run(step) {
            let done = match changes.is_empty() {
                true => "nothing changed before it".to_string(),
                false => format!("already done: {}", changes.join("; ")),
            };
            return Output::fail(
                EXIT_FAILED,
                format!(
                    "{APPLY}: {} failed: {err}; {done}",
                    step.describe().join(", ")
                ),
            );
        }
        changes.extend(step.describe());
    }
    let text = String::from_utf8_lossy(input);
    match system.stored() {
        Ok(stored) if stored.as_deref() == Some(&*text) => {}
        Ok(_) => {
            if let Err(err) = system.store(&text) {
                return system_failure(err, "storing the configuration");
            }
            changes.push(format!("stored {CONFIG_PATH}"));
        }
        Err(err) => return system_failure(err, "reading the stored configuration"),
    }
    // The proof of convergence: read everything back and plan again.
    let after = match system.observe() {
        Ok(after) => after,
        Err(err) => return system_failure(err, "reading the live state back"),
    };
    match plan(&after, &document, None, system.leases_path()) {
        Ok(left) if left.is_empty() => {}
        Ok(left) => {
            let left: Vec<String> = left.iter().flat_map(Step::describe).collect();
            return Output::fail(
                EXIT_FAILED,
                format!(
                    "{APPLY}: the gateway did not converge; still to do: {}",
                    left.join("; ")
                ),
            );
        }
        Err(PlanError::Refused(reasons)) => {
            return Output::fail(EXIT_FAILED, format!("{APPLY}: {}", reasons.join("; ")))
        }
        Err(PlanError::NotYet(reason)) => {
            return Output::fail(EXIT_FAILED, format!("{APPLY}: {reason}"))
        }
    }
    let result = json!({
        "format": FORMAT,
        "changed": !changes.is_empty(),
        "changes": changes,
        "sha256": sha256,
        "wireguard_public_key": after.wireguard.as_ref().and_then(|wg| wg.public_key.clone()),
    });
    Output::ok(result.to_string() + "\n")
}

/// `giif-pagw-apply /etc/giif/pagw.json`: re-apply the stored document
/// (what boot does).
pub fn reapply_stored(system: &mut dyn System) -> Output {
    match system.stored() {
        Ok(Some(text)) => apply(system, text.as_bytes(), None),
        Ok(None) => Output::fail(
            1,
            format!("{APPLY}: {CONFIG_PATH}: No such file or directory"),
        ),
        Err(err) => system_failure(err, "reading the stored configuration"),
    }
}

fn system_failure(err: SystemError, doing: &str) -> Output {
    match err {
        SystemError::Busy(reason) => Output::fail(
            EXIT_TEMPFAIL,
            format!("{APPLY}: busy {doing}: {reason}; try again"),
        ),
        SystemError::Failed(reason) => {
            Output::fail(EXIT_FAILED, format!("{APPLY}: failed {doing}: {reason}"))
        }
    }
}

/// `giif-pagw-show --json`: the LIVE state, next to the stored document.
pub fn show(system: &mut dyn System) -> Output {
    let live = match system.observe() {
        Ok(live) => live,
        Err(err) => {
            let status = if matches!(err, SystemError::Busy(_)) {
                EXIT_TEMPFAIL
            } else {
                EXIT_FAILED
            };
            return Output::fail(
                status,
                format!("giif-pagw-show: reading the live state: {err}"),
            );
        }
    };
    let stored_text = match system.stored() {
        Ok(text) => text,
        Err(err) => return Output::fail(EXIT_FAILED, format!("giif-pagw-show: {err}")),
    };
    let stored = stored_text
        .as_deref()
        .and_then(|text| Document::parse(text.as_bytes()).ok());
    let config_file = stored_text
        .as_deref()
        .map(|text| json!({ "path": CONFIG_PATH, "sha256": sha256_hex(text.as_bytes()) }));
    let (live_doc, drift) = match &stored {
        None => (None, Vec::new()),
        Some(frame) => {
            let drift = match plan(&live, frame, Some(frame), system.leases_path()) {
                Ok(steps) => steps.iter().flat_map(Step::describe).collect(),
                Err(PlanError::Refused(reasons)) => reasons,
                Err(PlanError::NotYet(reason)) => vec![reason],
            };
            (Some(live_document(&live, frame)), drift)
        }
    };
    let result = json!({
        "format": FORMAT,
        "hostname": system.hostname(),
        "config_file": config_file,
        "in_sync": stored.is_some() && drift.is_empty(),
        "live": live_doc,
        "drift": drift,
        "wireguard_public_key": live.wireguard.as_ref().and_then(|wg| wg.public_key.clone()),
        "interfaces": interfaces(&live, stored.as_ref()),
    });
    Output::ok(format!("{result:#}\n"))
}

fn interfaces(live: &Observed, stored: Option<&Document>) -> Vec<serde_json::Value> {
    live.links
        .iter()
        .map(|link| {
            let role = match (stored, link.mac) {
                _ if link.bridge && link.name == BRIDGE => "bridge".to_string(),
                (Some(doc), Some(mac)) if mac == doc.nics.lan => "lan".into(),
                (Some(doc), Some(mac)) if mac == doc.nics.wan => "wan".into(),
                (Some(doc), Some(mac)) => doc
                    .nics
                    .servers
                    .iter()
                    .find(|nic| nic.mac == mac)
                    .map(|nic| format!("server VLAN {}", nic.vlan))
                    .unwrap_or_else(|| "unused".into()),
                _ => "unused".into(),
            };
            json!({
                "name": link.name,
                "mac": link.mac.map(|m| m.to_string()),
                "role": role,
                "master": link.master,
                "up": link.up,
                "addresses": link.addresses.iter().map(ToString::to_string).collect::<Vec<_>>(),
            })
        })
        .collect()
}

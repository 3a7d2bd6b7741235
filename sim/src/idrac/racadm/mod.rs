//! The racadm grammar the Giif drivers use, answered with the text real
//! iDRACs print. Each subcommand family lives in its own file; this one
//! dispatches and holds the shared option parsing and error texts.

mod config;
mod erase;
mod info;
mod jobqueue;
mod media;
mod power;
mod profile;

use std::collections::HashMap;
use std::time::Instant;

use super::argv;
use super::bmc::Bmc;

/// Something the SSH layer must do after the answer went out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Effect {
    /// `racreset`: end every session; new ones are refused for a while.
    Reset,
}

#[derive(Debug)]
pub(crate) struct Reply {
    pub text: String,
    pub exit: u32,
    pub effect: Option<Effect>,
}

impl Reply {
    pub fn ok(text: impl Into<String>) -> Self {
        Self {
            text: with_newline(text.into()),
            exit: 0,
            effect: None,
        }
    }
    /// A failure: racadm prints `ERROR: ...` and exits non-zero.
    pub fn error(text: impl Into<String>) -> Self {
        Self {
            text: with_newline(text.into()),
            exit: 1,
            effect: None,
        }
    }
    /// An answer of nothing at all.
    pub fn silent() -> Self {
        Self {
            text: String::new(),
            exit: 0,
            effect: None,
        }
    }
    /// What a busy iDRAC answers (the injected transient failure).
    pub fn busy() -> Self {
        Self::error(
            "ERROR: Unable to complete the operation because the iDRAC is busy processing other requests.\n\
             Wait for a few minutes and retry the operation.",
        )
    }
}

fn with_newline(mut text: String) -> String {
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

const INVALID_SUBCOMMAND: &str = "ERROR: Invalid subcommand specified.\n\
     Use the \"racadm help\" command to list the valid subcommands.";

pub(crate) fn invalid_syntax(usage: &str) -> Reply {
    Reply::error(format!("ERROR: Invalid syntax.\nUsage: {usage}"))
}

/// Runs one exec line as the SSH user `user`, answered as the server's
/// firmware prints it.
pub(crate) fn run(bmc: &Bmc, user: &str, line: &str) -> Reply {
    let mut reply = answer(bmc, user, line);
    reply.text = bmc.spec.firmware.finish(reply.text);
    reply
}

fn answer(bmc: &Bmc, user: &str, line: &str) -> Reply {
    let Some(words) = argv::split(line) else {
        return Reply::error("ERROR: Invalid syntax: unbalanced quotes.");
    };
    let now = Instant::now();
    match words.first().map(String::as_str) {
        Some("racadm") => {}
        Some(other) => {
            return Reply::error(format!(
                "ERROR: Invalid command: {other}. Only racadm commands are supported."
            ))
        }
        None => return Reply::error("ERROR: No command specified."),
    }
    let Some(sub) = words.get(1) else {
        return help();
    };
    let args = &words[2..];
    match sub.to_ascii_lowercase().as_str() {
        "serveraction" => power::serveraction(bmc, args),
        "remoteimage" => media::remoteimage(bmc, user, args, now),
        "get" => config::get(bmc, args, now),
        "set" => config::set(bmc, args, now),
        "jobqueue" => jobqueue::jobqueue(bmc, args, now),
        "getsysinfo" => info::getsysinfo(bmc, args),
        "getversion" => info::getversion(bmc, args),
        "version" => info::version(bmc, args),
        "racreset" => info::racreset(bmc, args, now),
        "systemerase" => erase::systemerase(bmc, args, now),
        "help" => help(),
        _ => Reply::error(INVALID_SUBCOMMAND),
    }
}

fn help() -> Reply {
    Reply::ok(
        " help [subcommand] -- display usage summary for a subcommand\n\
         \x20get              -- display iDRAC configuration properties\n\
         \x20getsysinfo       -- display general iDRAC and system information\n\
         \x20getversion       -- display the current version details\n\
         \x20jobqueue         -- view and manage jobs in the job queue\n\
         \x20racreset         -- perform an iDRAC reset operation\n\
         \x20remoteimage      -- make a remote ISO image available to the server\n\
         \x20serveraction     -- perform system power management operations\n\
         \x20set              -- modify iDRAC configuration properties\n\
         \x20systemerase      -- erase server components and drives\n\
         \x20version          -- display the version info of RACADM",
    )
}

/// Parsed options: flags, options with a value, and the rest in order.
#[derive(Debug, Default)]
pub(crate) struct Opts {
    pub flags: Vec<String>,
    pub values: HashMap<String, String>,
    pub positional: Vec<String>,
}

impl Opts {
    /// Options are case-sensitive, as racadm's are.
    pub fn parse(args: &[String], flags: &[&str], valued: &[&str]) -> Result<Self, Reply> {
        let mut opts = Opts::default();
        let mut i = 0;
        while i < args.len() {
            let arg = &args[i];
            if flags.contains(&arg.as_str()) {
                opts.flags.push(arg.clone());
            } else if valued.contains(&arg.as_str()) {
                let Some(value) = args.get(i + 1) else {
                    return Err(Reply::error(format!(
                        "ERROR: The {arg} option requires a value."
                    )));
                };
                opts.values.insert(arg.clone(), value.clone());
                i += 1;
            } else if arg.starts_with('-') && arg.len() > 1 {
                return Err(Reply::error(format!(
                    "ERROR: Invalid option specified: {arg}"
                )));
            } else {
                opts.positional.push(arg.clone());
            }
            i += 1;
        }
        Ok(opts)
    }

    pub fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }

    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }
}

/// The kinds of network location racadm accepts for images and profiles.
pub(crate) fn share_kind(location: &str) -> Option<&'static str> {
    let lower = location.to_ascii_lowercase();
    if lower.starts_with("http://") {
        Some("HTTP")
    } else if lower.starts_with("https://") {
        Some("HTTPS")
    } else if location.starts_with("//") && location[2..].contains('/') {
        Some("CIFS")
    } else if location.contains(":/") && !location.starts_with(':') && !location.contains("://") {
        Some("NFS")
    } else {
        None
    }
}

/// CIFS shares need credentials; the others may carry them.
pub(crate) fn check_share_credentials(kind: &str, opts: &Opts, option: &str) -> Result<(), Reply> {
    if kind == "CIFS" {
        for needed in ["-u", "-p"] {
            if opts.value(needed).is_none() {
                return Err(Reply::error(format!(
                    "ERROR: The {option} option requires {needed} to also be specified for a CIFS share."
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_kinds() {
        assert_eq!(share_kind("//10.0.0.5/iso/x.iso"), Some("CIFS"));
        assert_eq!(share_kind("10.0.0.5:/export/x.iso"), Some("NFS"));
        assert_eq!(share_kind("http://h/x.iso"), Some("HTTP"));
        assert_eq!(share_kind("HTTPS://h/x.iso"), Some("HTTPS"));
        assert_eq!(share_kind("ftp://h/x.iso"), None);
        assert_eq!(share_kind("//host-only"), None);
        assert_eq!(share_kind("x.iso"), None);
    }

    #[test]
    fn options() {
        let args: Vec<String> = ["-c", "-u", "me", "-l", "//h/s/x.iso"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let opts = Opts::parse(&args, &["-c"], &["-u", "-l"]).expect("valid");
        assert!(opts.flag("-c"));
        assert_eq!(opts.value("-u"), Some("me"));
        assert!(
            Opts::parse(&args[..2], &["-c"], &["-u"]).is_err(),
            "-u without a value"
        );
        assert!(
            Opts::parse(&args, &[], &["-u", "-l"]).is_err(),
            "unknown -c"
        );
    }
}

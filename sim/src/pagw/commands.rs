//! The command lines a gateway's shell accepts over SSH exec, parsed
//! strictly: exactly the forms below, anything else fails the way a shell
//! or the tool would.
//!
//! - `sudo giif-pagw-apply --sha256 HEX -` (configuration on stdin)
//! - `sudo giif-pagw-apply /etc/giif/pagw.json` (re-apply the stored file)
//! - `sudo giif-pagw-show --json`
//! - `[sudo] cat /etc/giif/pagw.json`

use giif_pagw::tool::{Output, CONFIG_PATH, EXIT_INVALID};

use super::guest::GuestVm;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Apply {
        sha256: Option<String>,
    },
    ApplyStored,
    Show,
    Cat,
    /// Refused before running anything; the answer is ready.
    Refused(Output),
}

const APPLY_USAGE: &str =
    "usage: giif-pagw-apply [--sha256 HEX] - | giif-pagw-apply /etc/giif/pagw.json";
const SHOW_USAGE: &str = "usage: giif-pagw-show --json";

impl Command {
    pub fn parse(line: &str) -> Self {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (root, words) = match words.split_first() {
            Some((&"sudo", rest)) => (true, rest),
            _ => (false, words.as_slice()),
        };
        let Some((&program, args)) = words.split_first() else {
            return Self::Refused(Output::fail(EXIT_INVALID, "sh: 1: empty command"));
        };
        let needs_root = |command: Self| match root {
            true => command,
            false => Self::Refused(Output::fail(
                1,
                format!("{program}: must be run as root (use sudo)"),
            )),
        };
        match (program, args) {
            ("giif-pagw-apply", ["--sha256", hex, "-"]) if is_sha256(hex) => {
                needs_root(Self::Apply {
                    sha256: Some(hex.to_ascii_lowercase()),
                })
            }
            ("giif-pagw-apply", ["-"]) => needs_root(Self::Apply { sha256: None }),
            ("giif-pagw-apply", [path]) if *path == CONFIG_PATH => needs_root(Self::ApplyStored),
            ("giif-pagw-apply", _) => Self::Refused(Output::fail(EXIT_INVALID, APPLY_USAGE)),
            ("giif-pagw-show", ["--json"]) => needs_root(Self::Show),
            ("giif-pagw-show", _) => Self::Refused(Output::fail(EXIT_INVALID, SHOW_USAGE)),
            ("cat", [path]) if *path == CONFIG_PATH => Self::Cat,
            ("cat", [path]) => Self::Refused(Output::fail(
                1,
                format!("cat: {path}: No such file or directory"),
            )),
            _ => Self::Refused(Output::fail(127, format!("sh: 1: {program}: not found"))),
        }
    }

    /// Whether the command runs only once stdin is closed.
    pub fn reads_stdin(&self) -> bool {
        matches!(self, Self::Apply { .. })
    }

    /// The program's name, for the messages of a busy gateway.
    pub fn program(&self) -> &'static str {
        match self {
            Self::Apply { .. } | Self::ApplyStored => "giif-pagw-apply",
            Self::Show => "giif-pagw-show",
            Self::Cat | Self::Refused(_) => "sh",
        }
    }

    pub fn run(&self, vm: &mut GuestVm, stdin: &[u8]) -> Output {
        match self {
            Self::Apply { sha256 } => vm.apply(stdin, sha256.as_deref()),
            Self::ApplyStored => vm.reapply_stored(),
            Self::Show => vm.show(),
            Self::Cat => vm.cat(),
            Self::Refused(output) => output.clone(),
        }
    }
}

fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_documented_forms_are_accepted() {
        let sha = "ab".repeat(32);
        assert_eq!(
            Command::parse(&format!("sudo giif-pagw-apply --sha256 {sha} -")),
            Command::Apply { sha256: Some(sha) }
        );
        assert_eq!(Command::parse("sudo giif-pagw-show --json"), Command::Show);
        assert_eq!(Command::parse("cat /etc/giif/pagw.json"), Command::Cat);
        let refused = |line: &str| match Command::parse(line) {
            Command::Refused(output) => output,
            other => panic!("{line}: {other:?}"),
        };
        assert_eq!(refused("giif-pagw-show --json").status, 1);
        assert_eq!(refused("sudo giif-pagw-show").status, 2);
        assert_eq!(refused("sudo giif-pagw-apply --sha256 xyz -").status, 2);
        assert_eq!(refused("sudo rm -rf /").status, 127);
        assert_eq!(refused("").status, 2);
    }
}

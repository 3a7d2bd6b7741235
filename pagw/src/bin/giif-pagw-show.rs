//! `giif-pagw-show --json`: the gateway's LIVE state (read from the running
//! system, not the stored file), next to the stored document, with every
//! difference between them. Run as root.

use std::io::Write as _;
use std::process::ExitCode;

use giif_pagw::linux::LinuxSystem;
use giif_pagw::tool::{self, Output, EXIT_INVALID};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let output = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["--json"] => tool::show(&mut LinuxSystem),
        _ => Output::fail(EXIT_INVALID, "usage: giif-pagw-show --json"),
    };
    let _ = std::io::stdout().write_all(output.stdout.as_bytes());
    let _ = std::io::stderr().write_all(output.stderr.as_bytes());
    ExitCode::from(u8::try_from(output.status).unwrap_or(1))
}

//! `giif-pagw-apply --sha256 HEX -` (the document on stdin) or
//! `giif-pagw-apply /etc/giif/pagw.json` (re-apply the stored document, as
//! boot does): converge this gateway to the document. Run as root.

use std::io::{Read as _, Write as _};
use std::process::ExitCode;

use giif_pagw::linux::LinuxSystem;
use giif_pagw::tool::{self, Output, CONFIG_PATH, EXIT_INVALID, MAX_CONFIG_BYTES};

const USAGE: &str = "usage: giif-pagw-apply [--sha256 HEX] - | giif-pagw-apply /etc/giif/pagw.json";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = match args.as_slice() {
        ["--sha256", hex, "-"] => with_lock(|system| {
            read_stdin().map_or_else(|o| o, |input| tool::apply(system, &input, Some(hex)))
        }),
        ["-"] => with_lock(|system| {
            read_stdin().map_or_else(|o| o, |input| tool::apply(system, &input, None))
        }),
        [path] if *path == CONFIG_PATH => with_lock(|system| tool::reapply_stored(system)),
        _ => Output::fail(EXIT_INVALID, USAGE),
    };
    finish(output)
}

fn read_stdin() -> Result<Vec<u8>, Output> {
    let mut input = Vec::new();
    let limit = (MAX_CONFIG_BYTES + 1) as u64;
    match std::io::stdin().take(limit).read_to_end(&mut input) {
        Ok(_) => Ok(input),
        Err(e) => Err(Output::fail(
            EXIT_INVALID,
            format!("giif-pagw-apply: reading stdin: {e}"),
        )),
    }
}

fn with_lock(work: impl FnOnce(&mut LinuxSystem) -> Output) -> Output {
    match LinuxSystem::lock() {
        Ok(_held) => work(&mut LinuxSystem),
        Err(err) => Output::fail(
            tool::EXIT_TEMPFAIL,
            format!("giif-pagw-apply: {err}; nothing changed, try again"),
        ),
    }
}

fn finish(output: Output) -> ExitCode {
    let _ = std::io::stdout().write_all(output.stdout.as_bytes());
    let _ = std::io::stderr().write_all(output.stderr.as_bytes());
    ExitCode::from(u8::try_from(output.status).unwrap_or(1))
}

//! `racadm jobqueue view [-i <job id>]`.

use std::time::Instant;

use super::{invalid_syntax, Opts, Reply};
use crate::idrac::bmc::Bmc;

const USAGE: &str = "racadm jobqueue view [-i <job id>]";

pub(super) fn jobqueue(bmc: &Bmc, args: &[String], now: Instant) -> Reply {
    let opts = match Opts::parse(args, &[], &["-i"]) {
        Ok(opts) => opts,
        Err(reply) => return reply,
    };
    if opts.positional.len() != 1 || !opts.positional[0].eq_ignore_ascii_case("view") {
        return invalid_syntax(USAGE);
    }
    let state = bmc.state();
    match opts.value("-i") {
        Some(id) => match state.jobs.iter().find(|j| j.id.eq_ignore_ascii_case(id)) {
            Some(job) => Reply::ok(job.render(now, bmc.spec.firmware)),
            None => Reply::error(format!("ERROR: Invalid Job ID specified: {id}")),
        },
        None => {
            let mut text =
                String::from("-------------------------JOB QUEUE------------------------\n");
            for job in &state.jobs {
                // Each job's block without its own header line.
                let block = job.render(now, bmc.spec.firmware);
                text.extend(
                    block
                        .lines()
                        .skip(1)
                        .filter(|l| !l.starts_with("-----"))
                        .map(|l| format!("{l}\n")),
                );
            }
            text.push_str("----------------------------------------------------------");
            Reply::ok(text)
        }
    }
}

//! `racadm serveraction`: the server's power.

use super::{invalid_syntax, Opts, Reply};
use crate::idrac::bmc::Bmc;
use crate::idrac::device::Power;

const USAGE: &str = "racadm serveraction [-f] <action>\n\
     <action>: powerstatus | powerup | powerdown | powercycle | hardreset | graceshutdown";
const SUCCESS: &str = "Server power operation successful";
const ALREADY_ON: &str = "ERROR: Server is already powered ON.";
const ALREADY_OFF: &str = "ERROR: Server is already powered OFF.";
const OFF_NO_RESET: &str =
    "ERROR: Unable to perform the requested power operation because the server is powered OFF.";

pub(super) fn serveraction(bmc: &Bmc, args: &[String]) -> Reply {
    let opts = match Opts::parse(args, &["-f"], &["-d"]) {
        Ok(opts) => opts,
        Err(reply) => return reply,
    };
    let [action] = opts.positional.as_slice() else {
        return invalid_syntax(USAGE);
    };
    let mut state = bmc.state();
    match action.to_ascii_lowercase().as_str() {
        "powerstatus" => Reply::ok(match state.power {
            Power::On => "Server power status: ON",
            Power::Off => "Server power status: OFF",
        }),
        "powerup" => {
            if state.power == Power::On {
                return Reply::error(ALREADY_ON);
            }
            state.power_on();
            Reply::ok(SUCCESS)
        }
        "powerdown" | "graceshutdown" => {
            if state.power == Power::Off {
                return Reply::error(ALREADY_OFF);
            }
            state.power = Power::Off;
            Reply::ok(SUCCESS)
        }
        "powercycle" | "hardreset" => {
            if state.power == Power::Off {
                return Reply::error(OFF_NO_RESET);
            }
            state.boots += 1;
            Reply::ok(SUCCESS)
        }
        other => Reply::error(format!(
            "ERROR: Invalid action specified: {other}\nUsage: {USAGE}"
        )),
    }
}

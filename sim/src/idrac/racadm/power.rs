//! `racadm serveraction`: the server's power.

use std::time::Instant;

use super::{invalid_syntax, Opts, Reply};
use crate::idrac::bmc::Bmc;
use crate::idrac::device::Power;

const USAGE: &str = "racadm serveraction [-f] <action>\n\
     <action>: powerstatus | powerup | powerdown | powercycle | hardreset | graceshutdown";
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
    let firmware = bmc.spec.firmware;
    let now = Instant::now();
    let mut state = bmc.state();
    let changing = firmware
        .power_transition()
        .zip(state.power_changed_at)
        .is_some_and(|(lasts, at)| now < at + lasts);
    match action.to_ascii_lowercase().as_str() {
        "powerstatus" => Reply::ok(match (state.power, changing) {
            (Power::On, false) => "Server power status: ON",
            (Power::Off, false) => "Server power status: OFF",
            (Power::On, true) => "Server power status: Powering ON",
            (Power::Off, true) => "Server power status: Powering OFF",
        }),
        "powerup" => {
            if state.power == Power::On {
                return Reply::error(ALREADY_ON);
            }
            state.power_on();
            state.power_changed_at = Some(now);
            Reply::ok(firmware.power_done())
        }
        "powerdown" | "graceshutdown" => {
            if state.power == Power::Off {
                return Reply::error(ALREADY_OFF);
            }
            state.power = Power::Off;
            state.power_changed_at = Some(now);
            Reply::ok(firmware.power_done())
        }
        "powercycle" | "hardreset" => {
            if state.power == Power::Off {
                return Reply::error(OFF_NO_RESET);
            }
            // A reset is a boot like any other.
            state.power_on();
            Reply::ok(firmware.power_done())
        }
        other => Reply::error(format!(
            "ERROR: Invalid action specified: {other}\nUsage: {USAGE}"
        )),
    }
}

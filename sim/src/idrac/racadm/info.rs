//! `racadm getsysinfo`, `getversion`, `version` and `racreset`.

use std::time::Instant;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::{invalid_syntax, Effect, Opts, Reply};
use crate::idrac::bmc::Bmc;
use crate::idrac::device::Power;

const FIRMWARE: &str = "7.00.00.172";
const FIRMWARE_BUILD: &str = "21";
const BIOS: &str = "2.19.1";

pub(super) fn getsysinfo(bmc: &Bmc, args: &[String]) -> Reply {
    let opts = match Opts::parse(args, &["-d", "-s", "-w", "-A", "-c", "-4", "-6"], &[]) {
        Ok(opts) if opts.positional.is_empty() => opts,
        Ok(_) => return invalid_syntax("racadm getsysinfo [-d] [-s] [-w] [-A] [-c] [-4] [-6]"),
        Err(reply) => return reply,
    };
    // Without a section option, every section.
    let all = !["-d", "-s", "-w"].iter().any(|f| opts.flag(f));
    let power = bmc.state().power;
    let spec = &bmc.spec;
    let mut sections = Vec::new();
    if all || opts.flag("-d") {
        sections.push(format!(
            "RAC Information:\n\
             RAC Date/Time           = {now}\n\
             Firmware Version        = {FIRMWARE}\n\
             Firmware Build          = {FIRMWARE_BUILD}\n\
             Last Firmware Update    = 01/15/2025 09:12:44\n\
             Hardware Version        = 0.01\n\
             MAC Address             = {mac}\n\
             \n\
             Common settings:\n\
             Register DNS RAC Name   = 0\n\
             DNS RAC Name            = idrac-{tag}\n\
             Current DNS Domain      = \n\
             Domain Name from DHCP   = Disabled\n\
             \n\
             IPv4 settings:\n\
             Enabled                 = 1\n\
             Current IP Address      = {ip}\n\
             Current IP Gateway      = 0.0.0.0\n\
             Current IP Netmask      = 255.0.0.0\n\
             DHCP Enabled            = 0\n\
             Current DNS Server 1    = 0.0.0.0\n\
             Current DNS Server 2    = 0.0.0.0\n\
             DNS Servers from DHCP   = Disabled\n",
            now = rac_time(),
            mac = idrac_mac(&spec.name),
            tag = spec.service_tag,
            ip = bmc.addr.ip(),
        ));
    }
    if all || opts.flag("-s") {
        sections.push(format!(
            "System Information:\n\
             System Model            = {model}\n\
             System Revision         = I\n\
             System BIOS Version     = {BIOS}\n\
             Service Tag             = {tag}\n\
             Express Svc Code        = {code}\n\
             Host Name               = \n\
             OS Name                 = \n\
             OS Version              = \n\
             Power Status            = {power}\n\
             Fresh Air Capable       = No\n",
            model = spec.model,
            tag = spec.service_tag,
            code = express_service_code(&spec.service_tag),
            power = if power == Power::On { "ON" } else { "OFF" },
        ));
    }
    if all || opts.flag("-w") {
        sections.push(
            "Watchdog Information:\n\
             Recovery Action         = None\n\
             Present countdown value = 479 seconds\n\
             Initial countdown value = 480 seconds\n"
                .to_string(),
        );
    }
    if all {
        let mut nics = String::from("Embedded NIC MAC Addresses:\n");
        for (i, mac) in spec.macs.iter().enumerate() {
            nics.push_str(&format!(
                "NIC.Integrated.1-{port}-1    Ethernet                = {mac}\n",
                port = i + 1,
                mac = mac.to_ascii_uppercase()
            ));
        }
        sections.push(nics);
    }
    Reply::ok(sections.join("\n"))
}

pub(super) fn getversion(args: &[String]) -> Reply {
    if !args.is_empty() {
        return invalid_syntax("racadm getversion");
    }
    Reply::ok(format!(
        " Bios Version                     = {BIOS}\n\n\
         \x20iDRAC Version                    = {FIRMWARE}\n\n\
         \x20Lifecycle Controller Version     = {FIRMWARE}"
    ))
}

pub(super) fn version(args: &[String]) -> Reply {
    if !args.is_empty() {
        return invalid_syntax("racadm version");
    }
    Reply::ok(format!(
        "RACADM version {FIRMWARE} (Build {FIRMWARE_BUILD})"
    ))
}

pub(super) fn racreset(bmc: &Bmc, args: &[String], now: Instant) -> Reply {
    let opts = match Opts::parse(args, &["-f"], &[]) {
        Ok(opts) => opts,
        Err(reply) => return reply,
    };
    match opts.positional.as_slice() {
        [] => {}
        [kind] if kind.eq_ignore_ascii_case("soft") || kind.eq_ignore_ascii_case("hard") => {}
        _ => return invalid_syntax("racadm racreset [soft | hard] [-f]"),
    }
    {
        let mut state = bmc.state();
        state.reset_until = Some(now + state.reset_duration);
        state.resets += 1;
    }
    let mut reply = Reply::ok(
        "RAC reset operation initiated successfully. It may take up to a minute\n\
         for the RAC to come online again.",
    );
    reply.effect = Some(Effect::Reset);
    reply
}

/// `Thu Feb 27 2025 10:15:21`, the iDRAC's clock.
fn rac_time() -> String {
    let format = time::macros::format_description!(
        "[weekday repr:short] [month repr:short] [day] [year] [hour]:[minute]:[second]"
    );
    OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_default()
}

/// The iDRAC's own MAC address: Dell's prefix and three bytes derived from
/// the server's name, so it is stable across runs.
fn idrac_mac(name: &str) -> String {
    let digest = Sha256::digest(name.as_bytes());
    format!(
        "D0:94:66:{:02X}:{:02X}:{:02X}",
        digest[0], digest[1], digest[2]
    )
}

/// Dell's Express Service Code is the service tag read as a base-36 number.
fn express_service_code(tag: &str) -> String {
    tag.chars()
        .try_fold(0u128, |acc, c| {
            Some(acc.checked_mul(36)? + u128::from(c.to_digit(36)?))
        })
        .map(|code| code.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn express_service_code_is_base_36() {
        assert_eq!(express_service_code("10"), "36");
        assert_eq!(express_service_code("ZZ"), "1295");
        assert_eq!(express_service_code("A-B"), "");
    }
}

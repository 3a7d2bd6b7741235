//! `racadm getsysinfo`, `getversion`, `version` and `racreset`.

use std::time::Instant;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::{invalid_syntax, Effect, Opts, Reply};
use crate::idrac::bmc::Bmc;
use crate::idrac::device::Power;

const BIOS: &str = "2.19.1";

/// `racadm getsysinfo`, laid out as iDRAC8 2.30 prints it
/// (tests/fixtures/racadm/idrac8/getsysinfo.txt): sections in that order,
/// the IPv6 section's `::` values, and the first NIC's iSCSI, FIP and WWN
/// lines under it.
pub(super) fn getsysinfo(bmc: &Bmc, args: &[String]) -> Reply {
    let opts = match Opts::parse(args, &["-d", "-s", "-w", "-A", "-c", "-4", "-6"], &[]) {
        Ok(opts) if opts.positional.is_empty() => opts,
        Ok(_) => return invalid_syntax("racadm getsysinfo [-d] [-s] [-w] [-A] [-c] [-4] [-6]"),
        Err(reply) => return reply,
    };
    let firmware = bmc.spec.firmware;
    let power = {
        let mut state = bmc.state();
        state.sysinfo_calls += 1;
        if firmware.drops_every_second_sysinfo() && state.sysinfo_calls.is_multiple_of(2) {
            return Reply::silent();
        }
        state.power
    };
    // Without a section option, every section.
    let all = !["-d", "-s", "-w"].iter().any(|f| opts.flag(f));
    let spec = &bmc.spec;
    let (version, build) = firmware.version();
    let mut sections = Vec::new();
    if all || opts.flag("-d") {
        sections.push(format!(
            "RAC Information:\n\
             RAC Date/Time           = {now}\n\
             \n\
             Firmware Version        = {version}\n\
             Firmware Build          = {build}\n\
             Last Firmware Update    = {updated}\n\
             Hardware Version        = 0.01\n\
             MAC Address             = {mac}\n\
             \n\
             Common settings:\n\
             Register DNS RAC Name   = 0\n\
             DNS RAC Name            = idrac-{tag}\n\
             Current DNS Domain      =\n\
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
             DNS Servers from DHCP   = Disabled\n\
             \n\
             IPv6 settings:\n\
             Enabled                 = 0\n\
             Current IP Address 1    = ::\n\
             Current IP Gateway      = ::\n\
             Autoconfig              = 1\n\
             Link Local IP Address   = ::\n\
             Current IP Address 2    = ::\n\
             DNS Servers from DHCPv6 = Disabled\n\
             Current DNS Server 1    = ::\n\
             Current DNS Server 2    = ::\n",
            now = rac_time(),
            updated = firmware.last_update(),
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
             Host Name               =\n\
             OS Name                 =\n\
             OS Version              =\n\
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
        sections.push(
            "System Thermal Information:\n\
             EstimatedSystemAirflow  =  27 CFM\n\
             EstimatedExhaustTemperature =  35 Degrees Centigrade\n"
                .to_string(),
        );
        sections.push(embedded_nics(&spec.macs));
    }
    // A blank line opens the answer and ends it, as on the iDRAC.
    Reply::ok(format!("\n{}\n", sections.join("\n")))
}

/// The embedded NICs: each port's Ethernet MAC, and under the first two the
/// storage identities a converged adapter shows, as in the capture (iSCSI,
/// and for the first also FIP, WWN and WWPN).
fn embedded_nics(macs: &[String]) -> String {
    let pad = "                        ";
    let mut text = String::from("Embedded NIC MAC Addresses:\n");
    for (i, mac) in macs.iter().enumerate() {
        let mac = mac.to_ascii_uppercase();
        text.push_str(&format!(
            "NIC.Integrated.1-{port}-1    Ethernet                = {mac}\n",
            port = i + 1
        ));
        let storage = next_mac(&mac);
        if i < 2 {
            text.push_str(&format!("{pad}iSCSI                   = {storage}\n"));
        }
        if i == 0 {
            text.push_str(&format!("{pad}FIP                     = {storage}\n"));
            text.push_str(&format!("{pad}WWN                     = 20:00:{storage}\n"));
            text.push_str(&format!("{pad}WWPN                    = 20:01:{storage}\n"));
        }
    }
    text
}

/// The MAC one above `mac` (upper case, as the iDRAC prints it).
fn next_mac(mac: &str) -> String {
    let value = u64::from_str_radix(&mac.replace(':', ""), 16).unwrap_or(0) + 1;
    let hex = format!("{value:012X}");
    hex.as_bytes()
        .chunks(2)
        .map(|pair| String::from_utf8_lossy(pair).to_string())
        .collect::<Vec<_>>()
        .join(":")
}

pub(super) fn getversion(bmc: &Bmc, args: &[String]) -> Reply {
    if !args.is_empty() {
        return invalid_syntax("racadm getversion");
    }
    let (firmware, _) = bmc.spec.firmware.version();
    Reply::ok(format!(
        " Bios Version                     = {BIOS}\n\n\
         \x20iDRAC Version                    = {firmware}\n\n\
         \x20Lifecycle Controller Version     = {firmware}"
    ))
}

pub(super) fn version(bmc: &Bmc, args: &[String]) -> Reply {
    if !args.is_empty() {
        return invalid_syntax("racadm version");
    }
    let (firmware, build) = bmc.spec.firmware.version();
    Reply::ok(format!("RACADM version {firmware} (Build {build})"))
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
        if bmc.spec.firmware.reset_drops_media() {
            state.media = None;
        }
    }
    let mut reply = Reply::ok(bmc.spec.firmware.reset_started());
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

//! The real gateway: a stock Debian 12 guest driven with iproute2, nft,
//! conntrack, dnsmasq, wg (and wireguard-go where the kernel has no
//! WireGuard) and pptpd. What carries packets is read back from the running
//! system; of the files this tool writes, only the running daemons'
//! configurations (what they were started with) and the toolbox's keys
//! (what sshd reads) are read back.

mod parse;

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::document::{Cidr, Document};
use crate::observed::*;
use crate::plan::{nft_script, Step};
use crate::tool::{System, SystemError, CONFIG_PATH};

/// Runtime files: the running daemons' configurations and pid files.
const RUN_DIR: &str = "/run/giif";
const DNSMASQ_CONF: &str = "/run/giif/dnsmasq.conf";
const DNSMASQ_PID: &str = "/run/giif/dnsmasq.pid";
const PPTPD_CONF: &str = "/run/giif/pptpd.conf";
const PPTPD_PID: &str = "/run/giif/pptpd.pid";
/// dnsmasq's leases (readable by the toolbox).
pub const LEASES: &str = "/var/lib/giif/dnsmasq.leases";
/// wg0's private key: made here at first use, never leaves the gateway.
pub const WIREGUARD_KEY: &str = "/etc/giif/wg0.key";
/// Its public half, readable by the toolbox account.
pub const WIREGUARD_PUBLIC_KEY: &str = "/etc/giif/wg0.pub";
/// The toolbox account's keys (root-owned: the account cannot change them).
pub const TOOLBOX_KEYS: &str = "/etc/giif/toolbox_authorized_keys";
/// Held while applying, so two applies never interleave.
pub const LOCK_PATH: &str = "/run/giif-pagw.lock";
/// Where sudo looks for programs (its secure_path).
pub const SECURE_PATH: [&str; 6] = [
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// What the document needs that `has` says is missing, one line each.
pub fn missing_programs(doc: &Document, has: impl Fn(&str) -> bool) -> Vec<String> {
    let mut needs = vec![
        ("nics", "ip", "iproute2"),
        ("dnat", "nft", "nftables"),
        ("dnat", "conntrack", "conntrack"),
    ];
    if doc.dhcp.is_some() {
        needs.push(("dhcp", "dnsmasq", "dnsmasq-base"));
    }
    if doc.wireguard.is_some() {
        needs.push(("wireguard", "wg", "wireguard-tools"));
    }
    if doc.pptp {
        needs.push(("pptp", "pptpd", "pptpd"));
    }
    needs
        .into_iter()
        .filter(|(_, program, _)| !has(program))
        .map(|(field, program, package)| {
            format!("{field}: {program} is not installed on this gateway (apt install {package})")
        })
        .collect()
}

fn find_program(program: &str) -> Option<String> {
    SECURE_PATH
        .iter()
        .map(|dir| format!("{dir}/{program}"))
        .find(|path| Path::new(path).is_file())
}

#[derive(Debug, Default)]
pub struct LinuxSystem;

impl LinuxSystem {
    /// Takes the apply lock (released when the file is dropped); busy when
    /// another apply holds it.
    pub fn lock() -> Result<fs::File, SystemError> {
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(LOCK_PATH)
            .map_err(|e| SystemError::Failed(format!("{LOCK_PATH}: {e}")))?;
        match file.try_lock() {
            Ok(()) => Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => Err(SystemError::Busy(
                "another giif-pagw-apply is running".into(),
            )),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(SystemError::Failed(format!("{LOCK_PATH}: {e}")))
            }
        }
    }
}

/// Runs a program to completion; its stdout, or its stderr as the error.
fn run(program: &str, args: &[&str], stdin: Option<&str>) -> Result<String, SystemError> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| SystemError::Failed(format!("{program}: {e}")))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .map_err(|e| SystemError::Failed(format!("{program}: {e}")))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| SystemError::Failed(format!("{program}: {e}")))?;
    match output.status.success() {
        true => Ok(String::from_utf8_lossy(&output.stdout).into_owned()),
        false => {
            let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
            let message = format!("{program} {}: {stderr}", args.join(" "));
            Err(
                match stderr.contains("Resource busy") || stderr.contains("Device or resource busy")
                {
                    true => SystemError::Busy(message),
                    false => SystemError::Failed(message),
                },
            )
        }
    }
}

fn ip(args: &[&str]) -> Result<String, SystemError> {
    run("ip", args, None)
}

fn failed(what: &str) -> impl Fn(std::io::Error) -> SystemError + '_ {
    move |e| SystemError::Failed(format!("{what}: {e}"))
}

/// The pid in `pid_file` when that process runs `program` with `marker`
/// on its command line (a zombie or a recycled pid is not it).
fn running(pid_file: &str, program: &str, marker: &str) -> Option<u32> {
    let pid: u32 = fs::read_to_string(pid_file).ok()?.trim().parse().ok()?;
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let cmdline = String::from_utf8_lossy(&cmdline);
    (cmdline.contains(program) && cmdline.contains(marker)).then_some(pid)
}

/// A daemon giif starts and stops: under systemd a transient unit (so it
/// outlives the SSH session cleanly and `systemctl stop` waits for it),
/// else a plain daemon. Either way it writes its pid file, and its output
/// never goes to the caller, whose SSH channel would stay open.
struct Daemon<'a> {
    unit: &'a str,
    program: &'a str,
    pid_file: &'a str,
    /// What its command line carries (its configuration file).
    marker: &'a str,
}

fn under_systemd() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// The command that starts `program` apart from this tool: under systemd in
/// the transient unit `unit` (with `properties`, and `systemd_args` for the
/// program), else the program itself.
fn detached(unit: &str, properties: &[&str], program: &str, systemd_args: &[&str]) -> Command {
    if !under_systemd() {
        return Command::new(program);
    }
    let mut command = Command::new("systemd-run");
    command.args([&format!("--unit={unit}"), "--collect", "--quiet"]);
    for property in properties {
        command.args(["-p", property]);
    }
    command.arg("--").arg(program).args(systemd_args);
    command
}

/// Runs a `detached` command with `args`; its output never goes to the
/// caller, whose SSH channel would stay open.
fn launch(mut command: Command, program: &str, args: &[&str]) -> Result<(), SystemError> {
    let output = command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(failed(program))?;
    match output.status.success() {
        true => Ok(()),
        false => Err(SystemError::Failed(format!(
            "{program} did not start: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))),
    }
}

impl Daemon<'_> {
    fn start(&self, args: &[&str]) -> Result<(), SystemError> {
        let pid_file = format!("PIDFile={}", self.pid_file);
        let command = detached(self.unit, &["Type=forking", &pid_file], self.program, &[]);
        launch(command, self.program, args)?;
        wait_running(self.pid_file, self.program, self.marker)
    }

    fn stop(&self) -> Result<(), SystemError> {
        if under_systemd() {
            // Waits for the process; a unit that is not loaded is fine.
            let _ = Command::new("systemctl")
                .args(["stop", &format!("{}.service", self.unit)])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let Some(pid) = running(self.pid_file, self.program, self.marker) else {
            let _ = fs::remove_file(self.pid_file);
            return Ok(());
        };
        run("kill", &[&pid.to_string()], None)?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while running(self.pid_file, self.program, self.marker).is_some() {
            if Instant::now() > deadline {
                return Err(SystemError::Failed(format!(
                    "{} (pid {pid}) did not stop",
                    self.program
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = fs::remove_file(self.pid_file);
        Ok(())
    }
}

const DNSMASQ: Daemon = Daemon {
    unit: "giif-pagw-dnsmasq",
    program: "dnsmasq",
    pid_file: DNSMASQ_PID,
    marker: DNSMASQ_CONF,
};

const PPTPD: Daemon = Daemon {
    unit: "giif-pagw-pptpd",
    program: "pptpd",
    pid_file: PPTPD_PID,
    marker: PPTPD_CONF,
};

fn write_file(path: &str, text: &str, mode: u32) -> Result<(), SystemError> {
    if let Some(dir) = Path::new(path).parent() {
        fs::create_dir_all(dir).map_err(failed(path))?;
    }
    // Write beside, then rename: a reader never sees half a file.
    let temporary = format!("{path}.new");
    let mut file = fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(mode)
        .open(&temporary)
        .map_err(failed(path))?;
    file.write_all(text.as_bytes()).map_err(failed(path))?;
    file.sync_all().map_err(failed(path))?;
    fs::rename(&temporary, path).map_err(failed(path))
}

fn wait_for_link(name: &str) -> Result<(), SystemError> {
    let deadline = Instant::now() + Duration::from_secs(5);
    while ip(&["link", "show", "dev", name]).is_err() {
        if Instant::now() > deadline {
            return Err(SystemError::Failed(format!("{name} did not appear")));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn set_addresses(link: &str, add: &[Cidr], remove: &[Cidr]) -> Result<(), SystemError> {
    for address in remove {
        ip(&["addr", "del", &address.to_string(), "dev", link])?;
    }
    for address in add {
        ip(&["addr", "replace", &address.to_string(), "dev", link])?;
    }
    Ok(())
}

fn wireguard(
    step_config: &crate::document::WireGuard,
    remove_peers: &[String],
) -> Result<(), SystemError> {
    if ip(&["link", "show", "dev", WIREGUARD_DEVICE]).is_err()
        && ip(&["link", "add", WIREGUARD_DEVICE, "type", "wireguard"]).is_err()
    {
        // No WireGuard in this kernel: the userspace implementation.
        if find_program("wireguard-go").is_none() {
            return Err(SystemError::Failed(
                "the kernel has no WireGuard and wireguard-go is not installed (apt install wireguard-go)".into(),
            ));
        }
        // It has no pid file; the device is its trace. Under systemd it runs
        // in the foreground of its own unit, else it daemonizes itself.
        let command = detached("giif-pagw-wg0", &[], "wireguard-go", &["-f"]);
        launch(command, "wireguard-go", &[WIREGUARD_DEVICE])?;
        wait_for_link(WIREGUARD_DEVICE)?;
    }
    if !Path::new(WIREGUARD_KEY).exists() {
        let private = run("wg", &["genkey"], None)?;
        write_file(WIREGUARD_KEY, &private, 0o600)?;
    }
    if !Path::new(WIREGUARD_PUBLIC_KEY).exists() {
        let private = fs::read_to_string(WIREGUARD_KEY).map_err(failed(WIREGUARD_KEY))?;
        let public = run("wg", &["pubkey"], Some(&private))?;
        write_file(WIREGUARD_PUBLIC_KEY, &public, 0o644)?;
    }
    let port = step_config.listen_port.to_string();
    run(
        "wg",
        &[
            "set",
            WIREGUARD_DEVICE,
            "listen-port",
            &port,
            "private-key",
            WIREGUARD_KEY,
        ],
        None,
    )?;
    for key in remove_peers {
        run(
            "wg",
            &["set", WIREGUARD_DEVICE, "peer", key, "remove"],
            None,
        )?;
    }
    for peer in &step_config.peers {
        let allowed = Cidr::new(peer.address, 32).to_string();
        run(
            "wg",
            &[
                "set",
                WIREGUARD_DEVICE,
                "peer",
                &peer.public_key,
                "allowed-ips",
                &allowed,
            ],
            None,
        )?;
    }
    let has = parse::links(&ip(&["-j", "addr", "show", "dev", WIREGUARD_DEVICE])?)
        .map_err(SystemError::Failed)?;
    let current: Vec<Cidr> = has.first().map(|l| l.addresses.clone()).unwrap_or_default();
    let remove: Vec<Cidr> = current
        .into_iter()
        .filter(|a| *a != step_config.address)
        .collect();
    set_addresses(WIREGUARD_DEVICE, &[step_config.address], &remove)?;
    ip(&["link", "set", "dev", WIREGUARD_DEVICE, "up"])?;
    Ok(())
}

impl System for LinuxSystem {
    fn hostname(&self) -> String {
        fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default()
    }

    fn leases_path(&self) -> &str {
        LEASES
    }

    fn observe(&mut self) -> Result<Observed, SystemError> {
        let links =
            parse::links(&ip(&["-d", "-j", "addr", "show"])?).map_err(SystemError::Failed)?;
        let default_route = parse::default_route(&ip(&["-4", "-j", "route", "show", "default"])?)
            .map_err(SystemError::Failed)?;
        let ip_forward = fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
            .map_err(failed("ip_forward"))?
            .trim()
            == "1";
        let nat = match run("nft", &["-j", "list", "table", "inet", "giif"], None) {
            Ok(json) => Some(parse::nat(&json).map_err(SystemError::Failed)?),
            Err(SystemError::Failed(message)) if message.contains("No such file or directory") => {
                None
            }
            Err(err) => return Err(err),
        };
        let dhcp = running(DNSMASQ_PID, "dnsmasq", DNSMASQ_CONF)
            .and_then(|_| fs::read_to_string(DNSMASQ_CONF).ok());
        let pptp = running(PPTPD_PID, "pptpd", PPTPD_CONF)
            .and_then(|_| fs::read_to_string(PPTPD_CONF).ok());
        let wireguard = match links.iter().any(|l| l.name == WIREGUARD_DEVICE)
            && find_program("wg").is_some()
        {
            false => None,
            true => {
                let port = run("wg", &["show", WIREGUARD_DEVICE, "listen-port"], None)?;
                let public = run("wg", &["show", WIREGUARD_DEVICE, "public-key"], None)?;
                let peers = run("wg", &["show", WIREGUARD_DEVICE, "allowed-ips"], None)?;
                Some(WireGuardDevice {
                    listen_port: port.trim().parse().unwrap_or(0),
                    public_key: Some(public.trim().to_string())
                        .filter(|k| !k.is_empty() && k != "(none)"),
                    peers: parse::wireguard_peers(&peers),
                })
            }
        };
        let toolbox = fs::read_to_string(TOOLBOX_KEYS).ok();
        Ok(Observed {
            links,
            default_route,
            ip_forward,
            nat,
            dhcp,
            wireguard,
            pptp,
            toolbox,
        })
    }

    fn run(&mut self, step: &Step) -> Result<(), SystemError> {
        match step {
            Step::IpForward => {
                fs::write("/proc/sys/net/ipv4/ip_forward", "1\n").map_err(failed("ip_forward"))
            }
            Step::SetUp { link } => ip(&["link", "set", "dev", link, "up"]).map(drop),
            Step::CreateBridge => ip(&["link", "add", BRIDGE, "type", "bridge"]).map(drop),
            Step::Enslave { link, .. } => {
                ip(&["link", "set", "dev", link, "master", BRIDGE, "up"]).map(drop)
            }
            Step::Release { link } => ip(&["link", "set", "dev", link, "nomaster"]).map(drop),
            Step::Addresses { link, add, remove } => set_addresses(link, add, remove),
            Step::DefaultRoute { via, link } => ip(&[
                "-4",
                "route",
                "replace",
                "default",
                "via",
                &via.to_string(),
                "dev",
                link,
            ])
            .map(drop),
            Step::Nat { nat, forget, .. } => {
                run("nft", &["-f", "-"], Some(&nft_script(nat)))?;
                forget_connections(forget)
            }
            Step::StartDhcp { conf } => {
                DNSMASQ.stop()?;
                fs::create_dir_all(RUN_DIR).map_err(failed(RUN_DIR))?;
                if let Some(dir) = Path::new(LEASES).parent() {
                    fs::create_dir_all(dir).map_err(failed(LEASES))?;
                }
                write_file(DNSMASQ_CONF, conf, 0o644)?;
                let conf_arg = format!("--conf-file={DNSMASQ_CONF}");
                let pid_arg = format!("--pid-file={DNSMASQ_PID}");
                DNSMASQ.start(&[&conf_arg, &pid_arg])
            }
            Step::StopDhcp => DNSMASQ.stop(),
            Step::WireGuard {
                config,
                remove_peers,
                ..
            } => wireguard(config, remove_peers),
            Step::RemoveWireGuard => ip(&["link", "del", "dev", WIREGUARD_DEVICE]).map(drop),
            Step::StartPptp { conf } => {
                PPTPD.stop()?;
                write_file(PPTPD_CONF, conf, 0o644)?;
                PPTPD.start(&["--conf", PPTPD_CONF, "--pidfile", PPTPD_PID])
            }
            Step::StopPptp => PPTPD.stop(),
            Step::Toolbox {
                authorized_keys: Some(text),
            } => write_file(TOOLBOX_KEYS, text, 0o644),
            Step::Toolbox {
                authorized_keys: None,
            } => match fs::remove_file(TOOLBOX_KEYS) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(SystemError::Failed(format!("{TOOLBOX_KEYS}: {e}")))
                }
                _ => Ok(()),
            },
        }
    }

    fn stored(&self) -> Result<Option<String>, SystemError> {
        match fs::read_to_string(CONFIG_PATH) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(SystemError::Failed(format!("{CONFIG_PATH}: {e}"))),
        }
    }

    fn store(&mut self, text: &str) -> Result<(), SystemError> {
        write_file(CONFIG_PATH, text, 0o644)
    }

    fn missing(&self, doc: &Document) -> Vec<String> {
        missing_programs(doc, |program| find_program(program).is_some())
    }
}

/// Drops the tracked connections to and from `publics` (their NAT was
/// removed or re-pointed); no entry to drop is fine.
fn forget_connections(publics: &[std::net::Ipv4Addr]) -> Result<(), SystemError> {
    for public in publics {
        let address = public.to_string();
        for direction in ["--orig-dst", "--reply-dst"] {
            match run("conntrack", &["-D", direction, &address], None) {
                Err(SystemError::Failed(message)) if !message.contains("0 flow entries") => {
                    return Err(SystemError::Failed(message))
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Waits until a daemon started with `marker` has written its pid file.
fn wait_running(pid_file: &str, program: &str, marker: &str) -> Result<(), SystemError> {
    let deadline = Instant::now() + Duration::from_secs(5);
    while running(pid_file, program, marker).is_none() {
        if Instant::now() > deadline {
            return Err(SystemError::Failed(format!(
                "{program} did not come up (no live pid in {pid_file})"
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

//! Hosts in network namespaces, for tests that need real packets: each
//! host is a process with its own network, mount and PID namespaces (and a
//! private `/run`, so `/run/wireguard` and pid files never collide between
//! tests), joined to others by veth pairs created inside the namespaces (no
//! name is ever global). A gateway host also gets copy-on-write overlays of
//! `/etc`, `/usr` and `/var`, so a Debian package can be installed in it
//! for real without touching this machine. Killing a host's PID-namespace
//! init kills every daemon in it; dropping the [`Lab`] does that for all.
//! Traffic never leaves the namespaces; the one way in is [`Lab::sshd`], a
//! loopback port piped into the host's real `sshd -i`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// What these tests need from the machine.
const PROGRAMS: &[(&str, &str)] = &[
    ("ip", "iproute2"),
    ("nft", "nftables"),
    ("dnsmasq", "dnsmasq-base"),
    ("wg", "wireguard-tools"),
    ("wireguard-go", "wireguard-go"),
    ("sshd", "openssh-server"),
    ("ssh-keygen", "openssh-client"),
    ("ssh", "openssh-client"),
    ("sudo", "sudo"),
    ("udhcpc", "udhcpc"),
    ("unshare", "util-linux"),
    ("nsenter", "util-linux"),
    ("dpkg-deb", "dpkg"),
    ("python3", "python3"),
    ("pptpd", "pptpd"),
    ("conntrack", "conntrack"),
];

fn on_path(program: &str) -> bool {
    giif_pagw::linux::SECURE_PATH
        .iter()
        .any(|dir| Path::new(dir).join(program).is_file())
        || std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// A lab, or `None` (locally, saying why) when this machine cannot make
/// one. Under `CI=true` a missing piece fails the test instead, naming it.
pub fn lab() -> Option<Lab> {
    let mut missing = Vec::new();
    if !nix::unistd::geteuid().is_root() {
        missing.push("root (network namespaces need it)".to_string());
    }
    for (program, package) in PROGRAMS {
        if !on_path(program) {
            missing.push(format!("{program} (Debian package {package})"));
        }
    }
    if !Path::new("/dev/net/tun").exists() {
        missing.push("/dev/net/tun (wireguard-go needs TUN)".into());
    }
    if !missing.is_empty() {
        let message = format!("the gateway tests need: {}", missing.join(", "));
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{message}; .ci/run installs them");
        }
        eprintln!("SKIPPED: {message}");
        return None;
    }
    Some(Lab {
        dir: tempfile::Builder::new()
            .prefix("giif-lab-")
            .tempdir()
            .expect("a lab directory"),
        hosts: Vec::new(),
        daemons: Vec::new(),
        forwarders: Vec::new(),
    })
}

/// A PID namespace's init: reap whatever dies, forever.
const REAPER: &str = "import os, time\nwhile True:\n    try:\n        os.wait()\n    except ChildProcessError:\n        time.sleep(0.2)";

/// One host: the init of its namespaces.
#[derive(Clone, Debug)]
pub struct Host {
    pub name: String,
    pid: u32,
}

pub struct Lab {
    dir: tempfile::TempDir,
    hosts: Vec<(Child, u32)>,
    /// Processes started with [`Lab::spawn`].
    daemons: Vec<Child>,
    forwarders: Vec<tokio::task::JoinHandle<()>>,
}

impl Lab {
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A new host. `overlays`: directories that get a private copy-on-write
    /// layer (a gateway's `/etc`, `/usr`, `/var`).
    pub fn host(&mut self, name: &str, overlays: &[&str]) -> Host {
        let root = self.dir.path().join(name);
        let mut script = String::from(
            "set -e\nmount -t tmpfs tmpfs /run\nmkdir -p /run/sshd /run/wireguard /run/lock\nip link set lo up\n",
        );
        for dir in overlays {
            let layer = root.join(dir.trim_start_matches('/'));
            script.push_str(&format!(
                "mkdir -p {up} {work}\nmount -t overlay overlay -o lowerdir={dir},upperdir={up},workdir={work} {dir}\n",
                up = layer.join("up").display(),
                work = layer.join("work").display(),
            ));
        }
        // The namespaces' init reaps every orphan (daemons that forked away
        // from the commands that started them).
        script.push_str(&format!("hostname {name}\nexec python3 -c '{REAPER}'\n"));
        let child = Command::new("unshare")
            .args([
                "--net",
                "--mount",
                "--pid",
                "--uts",
                "--fork",
                "--propagation",
                "private",
                "--mount-proc",
            ])
            .args(["sh", "-c", &script])
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare runs");
        let unshare = child.id();
        // The forked child is the namespaces' init; wait until it is the reaper.
        let deadline = Instant::now() + Duration::from_secs(10);
        let pid = loop {
            let children =
                std::fs::read_to_string(format!("/proc/{unshare}/task/{unshare}/children"))
                    .unwrap_or_default();
            if let Some(pid) = children
                .split_whitespace()
                .next()
                .and_then(|p| p.parse::<u32>().ok())
            {
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                if comm.trim().starts_with("python") {
                    break pid;
                }
            }
            assert!(Instant::now() < deadline, "host {name} did not come up");
            std::thread::sleep(Duration::from_millis(20));
        };
        self.hosts.push((child, pid));
        Host {
            name: name.to_string(),
            pid,
        }
    }

    fn enter(&self, host: &Host) -> Command {
        let mut command = Command::new("nsenter");
        command.args(["-t", &host.pid.to_string(), "-n", "-m", "-p", "-u", "--"]);
        command
    }

    /// Runs a shell script on `host`.
    pub fn try_sh(&self, host: &Host, script: &str) -> Output {
        self.enter(host)
            .args(["bash", "-c", script])
            .stdin(Stdio::null())
            .output()
            .expect("nsenter runs")
    }

    /// Runs a shell script on `host`; its stdout, or a panic with its stderr.
    pub fn sh(&self, host: &Host, script: &str) -> String {
        let output = self.try_sh(host, script);
        assert!(
            output.status.success(),
            "on {}: {script}\n{}{}",
            host.name,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Starts a daemon on `host`; it is killed and reaped with the lab.
    pub fn spawn(&mut self, host: &Host, args: &[&str]) {
        let child = self
            .enter(host)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nsenter runs");
        self.daemons.push(child);
    }

    /// A veth pair: `a_name` on `a`, `b_name` on `b`, both up, with the
    /// MAC addresses given.
    pub fn link(
        &self,
        a: &Host,
        a_name: &str,
        a_mac: Option<&str>,
        b: &Host,
        b_name: &str,
        b_mac: Option<&str>,
    ) {
        let mac = |m: Option<&str>| m.map(|m| format!(" address {m}")).unwrap_or_default();
        // Only a's network namespace: b's pid means nothing inside a's PID namespace.
        let script = format!(
            "ip link add {a_name}{} type veth peer name {b_name}{} netns {}",
            mac(a_mac),
            mac(b_mac),
            b.pid
        );
        let output = Command::new("nsenter")
            .args(["-t", &a.pid.to_string(), "-n", "--", "sh", "-c", &script])
            .output()
            .expect("nsenter runs");
        assert!(
            output.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        self.sh(a, &format!("ip link set {a_name} up"));
        self.sh(b, &format!("ip link set {b_name} up"));
    }

    /// A loopback address whose connections reach `sshd -i` on `host`: the
    /// host's real sshd with its real configuration, one process per
    /// connection, as inetd would run it.
    pub async fn sshd(&mut self, host: &Host) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("its address");
        let pid = host.pid.to_string();
        self.forwarders.push(tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let pid = pid.clone();
                tokio::spawn(async move {
                    let child = tokio::process::Command::new("nsenter")
                        .args([
                            "-t",
                            &pid,
                            "-n",
                            "-m",
                            "-p",
                            "-u",
                            "--",
                            "/usr/sbin/sshd",
                            "-i",
                        ])
                        .stdin(Stdio::piped())
                        .stdout(Stdio::piped())
                        .stderr(Stdio::null())
                        .kill_on_drop(true)
                        .spawn();
                    let Ok(mut child) = child else { return };
                    let (Some(mut stdin), Some(mut stdout)) =
                        (child.stdin.take(), child.stdout.take())
                    else {
                        return;
                    };
                    let (mut reader, mut writer) = stream.split();
                    let _ = tokio::join!(
                        async {
                            let _ = tokio::io::copy(&mut reader, &mut stdin).await;
                            drop(stdin);
                        },
                        async {
                            let _ = tokio::io::copy(&mut stdout, &mut writer).await;
                            let _ = tokio::io::AsyncWriteExt::shutdown(&mut writer).await;
                        },
                    );
                    let _ = child.wait().await;
                });
            }
        }));
        addr
    }

    /// A file in the lab directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for forwarder in &self.forwarders {
            forwarder.abort();
        }
        for daemon in &mut self.daemons {
            let _ = daemon.kill();
            let _ = daemon.wait();
        }
        for (child, pid) in &mut self.hosts {
            // The init of a PID namespace takes every process in it along.
            let _ = kill(Pid::from_raw(*pid as i32), Signal::SIGKILL);
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

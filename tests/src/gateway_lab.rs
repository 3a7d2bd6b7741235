//! A project gateway made for real in network namespaces: a Debian
//! gateway host with the giif-pagw package installed by dpkg, its real
//! sshd (the agent's key installed as cloud-init would), dnsmasq, nftables
//! and wireguard-go; a LAN host on the project NIC, a server on a server
//! segment, an "internet" router with a far host's service, and a VPN
//! client beyond it.
//!
//! ```text
//!  lan (DHCP) ──ens18─┐                      ┌─ 198.51.100.1:7000 (far service)
//!  server .130 ─ens20─┤ pagw ─ens19─ 203.0.113.1 inet ─ 198.51.100.2 vpn (WireGuard)
//!     (:8080)         br0 192.168.212.1    203.0.113.10 (+ floating IPs)
//! ```

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use giif_agent::credentials::Secret;
use giif_agent::drivers::gateway::{GatewayConfig, GatewayNics, Mac, PublicAddress};
use giif_agent::drivers::host_keys::MemoryPins;
use giif_agent::drivers::pagw::{Credential, Pagw, PagwConfig};
use giif_agent::drivers::retry::RetryPolicy;

use crate::netns::{lab, Host, Lab};

pub const LAN_MAC: Mac = Mac([0xbc, 0x24, 0x11, 0x00, 0x00, 0x01]);
pub const WAN_MAC: Mac = Mac([0xbc, 0x24, 0x11, 0x00, 0x00, 0x02]);
pub const SERVER_MAC: Mac = Mac([0xbc, 0x24, 0x11, 0x00, 0x00, 0x03]);
pub const SERVER_VLAN: u16 = 3001;
pub const PUBLIC_IP: &str = "203.0.113.10";
pub const FAR_SERVICE: (&str, u16) = ("198.51.100.1", 7000);
pub const SERVER_IP: &str = "192.168.212.130";
pub const SERVER_PORT: u16 = 8080;
/// The gateway's admin user, as the template's cloud-init makes it.
pub const ADMIN: &str = "giif";

/// Answers every TCP connection with the caller's address: who it saw.
const WHO: &str = r#"
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(16)
while True:
    c, a = s.accept(); c.sendall((a[0] + "\n").encode()); c.close()
"#;

/// udhcpc's script: take the lease, note it in /run/lease.
const DHCP_SCRIPT: &str = r#"#!/bin/sh
case "$1" in
  bound|renew) ip addr add "$ip/$mask" dev "$interface"; [ -n "$router" ] && ip route replace default via "$router"; echo "$ip" > /run/lease ;;
esac
"#;

pub struct GatewayLab {
    pub lab: Lab,
    pub gateway: Host,
    pub lan: Host,
    pub server: Host,
    pub internet: Host,
    pub vpn: Host,
    /// Where the gateway's sshd answers (a loopback port).
    pub ssh: SocketAddr,
    /// The agent's private key, OpenSSH format.
    pub agent_key: String,
    /// The toolbox key pair's files.
    pub toolbox_key: std::path::PathBuf,
}

fn run(command: &mut std::process::Command) -> String {
    let output = command.output().expect("the command runs");
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

impl GatewayLab {
    /// The whole topology, or `None` where this machine cannot build it
    /// (see [`crate::netns::lab`]).
    pub async fn start() -> Option<Self> {
        let mut lab = lab()?;
        let dir = lab.dir().to_path_buf();
        let package = run(std::process::Command::new(
            crate::workspace_root().join("scripts/build-pagw-deb.sh"),
        )
        .arg(crate::bin_dir())
        .arg(dir.join("debian")));
        // The agent's key as the template guide makes it, and the toolbox's
        // as guacd takes it everywhere (RSA in PEM form).
        let keys = [
            ("agent_key", &["-t", "ed25519"][..]),
            ("toolbox_key", &["-t", "rsa", "-b", "2048", "-m", "PEM"][..]),
        ];
        for (name, kind) in keys {
            run(std::process::Command::new("ssh-keygen")
                .args(["-q", "-N", "", "-C", name])
                .args(kind)
                .arg("-f")
                .arg(dir.join(name)));
        }
        std::fs::write(dir.join("who.py"), WHO).expect("write who.py");
        std::fs::write(dir.join("dhcp.sh"), DHCP_SCRIPT).expect("write dhcp.sh");
        run(std::process::Command::new("chmod")
            .arg("755")
            .arg(dir.join("dhcp.sh")));

        let gateway = lab.host("pagw", &["/etc", "/usr", "/var"]);
        let lan = lab.host("lan", &[]);
        let server = lab.host("server", &[]);
        let internet = lab.host("internet", &[]);
        let vpn = lab.host("vpn", &[]);

        // The template: Debian with the package; cloud-init's part: the
        // admin user with the agent's key, fresh host keys, the WAN address.
        let agent_pub = std::fs::read_to_string(dir.join("agent_key.pub")).expect("agent_key.pub");
        lab.sh(
            &gateway,
            &format!(
                "set -e
                 echo '127.0.1.1 pagw' >> /etc/hosts
                 dpkg -i {package} >/dev/null
                 rm -f /etc/ssh/ssh_host_*; ssh-keygen -q -A
                 useradd --create-home --home-dir /var/lib/{ADMIN} --groups giif-pagw --shell /bin/sh {ADMIN}
                 usermod -p '*' {ADMIN}
                 install -d -m 700 -o {ADMIN} /var/lib/{ADMIN}/.ssh
                 echo '{}' > /var/lib/{ADMIN}/.ssh/authorized_keys
                 chown {ADMIN} /var/lib/{ADMIN}/.ssh/authorized_keys",
                agent_pub.trim()
            ),
        );
        lab.link(
            &lan,
            "eth0",
            None,
            &gateway,
            "ens18",
            Some(&LAN_MAC.to_string()),
        );
        lab.link(
            &internet,
            "eth0",
            None,
            &gateway,
            "ens19",
            Some(&WAN_MAC.to_string()),
        );
        lab.link(
            &server,
            "eth0",
            None,
            &gateway,
            "ens20",
            Some(&SERVER_MAC.to_string()),
        );
        lab.link(&vpn, "eth0", None, &internet, "eth1", None);
        lab.sh(
            &gateway,
            &format!(
                "ip addr add {PUBLIC_IP}/24 dev ens19 && ip route add default via 203.0.113.1"
            ),
        );
        lab.sh(
            &internet,
            "ip addr add 203.0.113.1/24 dev eth0 && ip addr add 198.51.100.1/24 dev eth1 && echo 1 > /proc/sys/net/ipv4/ip_forward",
        );
        lab.sh(
            &vpn,
            "ip addr add 198.51.100.2/24 dev eth0 && ip route add default via 198.51.100.1",
        );
        lab.sh(
            &server,
            &format!(
                "ip addr add {SERVER_IP}/24 dev eth0 && ip route add default via 192.168.212.1"
            ),
        );
        let who = dir.join("who.py").display().to_string();
        lab.spawn(
            &internet,
            &["python3", &who, FAR_SERVICE.0, &FAR_SERVICE.1.to_string()],
        );
        lab.spawn(
            &server,
            &["python3", &who, "0.0.0.0", &SERVER_PORT.to_string()],
        );
        let ssh = lab.sshd(&gateway).await;
        Some(Self {
            agent_key: std::fs::read_to_string(dir.join("agent_key")).expect("agent_key"),
            toolbox_key: dir.join("toolbox_key"),
            lab,
            gateway,
            lan,
            server,
            internet,
            vpn,
            ssh,
        })
    }

    /// The agent's real PAGW driver for this gateway, logging in with the key.
    pub fn driver(&self) -> Pagw {
        let credential =
            Credential::key(&Secret::new(self.agent_key.clone())).expect("an OpenSSH key");
        let mut config = PagwConfig::new(
            PUBLIC_IP.parse().expect("an address"),
            self.ssh.ip().to_string(),
            self.ssh.port(),
            ADMIN,
            credential,
        );
        config.retry = RetryPolicy::quick();
        Pagw::new(config, Arc::new(MemoryPins::default()))
    }

    /// The gateway as the agent would configure it: SNAT, DHCP, the
    /// server segment bridged, nothing else.
    pub fn config(&self) -> GatewayConfig {
        let nics = GatewayNics {
            lan: LAN_MAC,
            wan: WAN_MAC,
            servers: [(SERVER_VLAN, SERVER_MAC)].into(),
        };
        GatewayConfig::new(
            101,
            nics,
            PublicAddress {
                address: PUBLIC_IP.parse().expect("an address"),
                netmask: Ipv4Addr::new(255, 255, 255, 0),
                gateway: Ipv4Addr::new(203, 0, 113, 1),
            },
        )
    }

    /// Lets another key log in as the admin user (as cloud-init would
    /// install the key of the agent that made the VM).
    pub fn authorize(&self, public_key: &str) {
        self.lab.sh(
            &self.gateway,
            &format!(
                "echo '{}' >> /var/lib/{ADMIN}/.ssh/authorized_keys",
                public_key.trim()
            ),
        );
    }

    /// Gives the gateway's NIC `link` the MAC address `mac` (what Proxmox
    /// gave the vNIC it stands for).
    pub fn set_mac(&self, link: &str, mac: &str) {
        self.lab.sh(
            &self.gateway,
            &format!("ip link set dev {link} down && ip link set dev {link} address {mac} && ip link set dev {link} up"),
        );
    }

    /// The public half of the toolbox key.
    /// The public half of the toolbox key, as the agent derives it from
    /// the private key the site file names.
    pub fn toolbox_public_key(&self) -> String {
        let private = std::fs::read_to_string(&self.toolbox_key).expect("toolbox_key");
        Credential::key(&Secret::new(private))
            .expect("an RSA key in PEM form")
            .public_key()
            .expect("its public half")
    }

    /// A DHCP lease for `host`'s eth0 from whatever serves its segment.
    pub fn dhcp_lease(&self, host: &Host) -> Option<Ipv4Addr> {
        let script = self.lab.path("dhcp.sh").display().to_string();
        let output = self.lab.try_sh(host, &format!("udhcpc -i eth0 -n -q -f -t 4 -T 1 -A 1 -s {script} >/dev/null 2>&1 && cat /run/lease"));
        String::from_utf8_lossy(&output.stdout).trim().parse().ok()
    }

    /// What the "who" service at `address:port` says about the caller,
    /// connecting from `host`; `None` when no connection is made in 3 s.
    pub fn who_am_i(&self, host: &Host, address: &str, port: u16) -> Option<String> {
        let output = self.lab.try_sh(
            host,
            &format!("timeout 3 bash -c 'exec 3<>/dev/tcp/{address}/{port}; cat <&3' 2>/dev/null"),
        );
        let answer = String::from_utf8_lossy(&output.stdout).trim().to_string();
        (output.status.success() && !answer.is_empty()).then_some(answer)
    }

    /// A WireGuard client on the VPN host (wireguard-go `wg1`, its key
    /// pair made there), for the gateway with `server_key`; returns the
    /// client's public key.
    pub fn start_vpn_client(&self, server_key: &str, address: &str) -> String {
        self.lab.sh(
            &self.vpn,
            &format!(
                "set -e
                 umask 077; wg genkey > /run/wg.key; wg pubkey < /run/wg.key > /run/wg.pub
                 wireguard-go wg1 >/dev/null 2>&1
                 wg set wg1 private-key /run/wg.key peer {server_key} endpoint {PUBLIC_IP}:51820 allowed-ips 192.168.212.0/23 persistent-keepalive 1
                 ip addr add {address}/23 dev wg1
                 ip link set wg1 up"
            ),
        );
        self.lab.sh(&self.vpn, "cat /run/wg.pub").trim().to_string()
    }

    /// Waits up to `timeout` for the VPN client's first handshake (a client
    /// that tried before the gateway knew it retries every 5 s).
    pub async fn wait_for_vpn_handshake(&self, timeout: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if self.vpn_handshake_age().is_some() {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        false
    }

    /// Seconds since the VPN client's last handshake with the gateway, if any.
    pub fn vpn_handshake_age(&self) -> Option<u64> {
        let out = self.lab.sh(&self.vpn, "wg show wg1 latest-handshakes");
        let at: u64 = out.split_whitespace().nth(1)?.parse().ok()?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_secs();
        (at > 0).then(|| now.saturating_sub(at))
    }
}

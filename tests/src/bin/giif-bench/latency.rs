//! How the simulated site's devices answer: each latency profile sets the
//! simulator's fault knobs, and puts Guacamole's database behind a proxy
//! that delays every query.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use giif_agent::credentials::Secret;
use giif_agent::drivers::idrac::IdracConfig;
use giif_tests::site::TestSite;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::critical_path::Latency;

/// How long each kind of device step takes.
#[derive(Clone, Copy, Debug)]
pub struct Profile {
    pub name: &'static str,
    /// A Proxmox worker task (clone, resize, start), and a NIC hot-plug.
    pub proxmox_task: Duration,
    /// Every Proxmox API request, before its answer.
    pub proxmox_call: Duration,
    pub idrac_command: Duration,
    pub gateway_boot: Duration,
    /// Every round trip to Guacamole's database.
    pub guacamole_query: Duration,
}

pub const ZERO_LATENCY: Profile = Profile {
    name: "zero latency",
    proxmox_task: Duration::ZERO,
    proxmox_call: Duration::ZERO,
    idrac_command: Duration::ZERO,
    gateway_boot: Duration::ZERO,
    guacamole_query: Duration::ZERO,
};

/// The mixed environment's realistic site, as earlier reports measured it.
pub const REALISTIC_LATENCY: Profile = Profile {
    name: "realistic latency",
    proxmox_task: Duration::from_secs(2),
    proxmox_call: Duration::ZERO,
    idrac_command: Duration::from_secs(1),
    // The simulator's default boot time of a gateway guest.
    gateway_boot: Duration::from_millis(250),
    guacamole_query: Duration::ZERO,
};

/// A site whose every call costs something, as a Proxmox cluster and a
/// Guacamole database across a network do.
pub const REALISTIC_CALLS: Profile = Profile {
    name: "realistic latency",
    proxmox_task: Duration::from_secs(2),
    proxmox_call: Duration::from_millis(30),
    idrac_command: Duration::from_secs(1),
    gateway_boot: Duration::from_millis(250),
    guacamole_query: Duration::from_millis(2),
};

impl Profile {
    pub fn latency(&self) -> Latency {
        Latency {
            proxmox_task: self.proxmox_task,
            proxmox_call: self.proxmox_call,
            idrac_command: self.idrac_command,
            gateway_boot: self.gateway_boot,
            idrac_pause: idrac_pause(),
        }
    }

    pub fn is_zero(&self) -> bool {
        self.proxmox_task.is_zero() && self.proxmox_call.is_zero()
    }

    /// Sets the simulator's knobs: Proxmox task duration and per-request
    /// latency, per-command iDRAC latency on `servers` (`bms01`…), and the
    /// boot time of the gateway guests in `slots`.
    pub fn apply_to(&self, site: &TestSite, servers: usize, slots: &[String]) -> Result<()> {
        let millis = |d: Duration| d.as_millis() as u64;
        let mut knobs = vec![(
            "pve".to_string(),
            format!(
                r#"{{"task_duration_ms": {}, "latency_ms": {}}}"#,
                millis(self.proxmox_task),
                millis(self.proxmox_call)
            ),
        )];
        for server in 1..=servers {
            knobs.push((
                format!("idrac:bms{server:02}"),
                format!(r#"{{"latency_ms": {}}}"#, millis(self.idrac_command)),
            ));
        }
        for slot in slots {
            knobs.push((
                format!("pagw:{slot}"),
                format!(r#"{{"task_duration_ms": {}}}"#, millis(self.gateway_boot)),
            ));
        }
        for (endpoint, body) in knobs {
            let (status, answer) = site.admin("PUT", &format!("/faults/{endpoint}"), Some(&body));
            if status != 200 {
                bail!("setting the fault knobs of {endpoint} failed ({status}): {answer}");
            }
        }
        Ok(())
    }
}

/// The iDRAC driver's pause between commands, as the agent configures it.
pub fn idrac_pause() -> Duration {
    IdracConfig::new("", "", 0, "", Secret::new("")).min_interval
}

/// A TCP proxy on loopback that holds every byte going to the server for
/// `delay` before passing it on, keeping order and never holding back
/// what follows: each request/answer round trip through it takes `delay`
/// longer, however many are in flight. Answers pass at once. Stops with
/// the value.
pub struct DelayProxy {
    pub addr: SocketAddr,
    _runtime: tokio::runtime::Runtime,
}

impl DelayProxy {
    pub fn start(server: SocketAddr, delay: Duration) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0"))?;
        let addr = listener.local_addr()?;
        runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(async move {
                    if let Ok(upstream) = TcpStream::connect(server).await {
                        relay(client, upstream, delay).await;
                    }
                });
            }
        });
        Ok(Self {
            addr,
            _runtime: runtime,
        })
    }

    /// `url` (scheme://user:password@host:port/db) pointed at the proxy.
    pub fn url_through(&self, url: &str) -> Result<String> {
        let (head, rest) = url.rsplit_once('@').context("the URL has no host part")?;
        let path = rest.find('/').map(|at| &rest[at..]).unwrap_or_default();
        Ok(format!("{head}@{}{path}", self.addr))
    }

    /// The server address of a loopback database URL.
    pub fn server_of(url: &str) -> Result<SocketAddr> {
        let (_, rest) = url.rsplit_once('@').context("the URL has no host part")?;
        let host_port = rest.split('/').next().unwrap_or_default();
        host_port
            .parse()
            .with_context(|| format!("{host_port:?} is not an address"))
    }
}

async fn relay(client: TcpStream, upstream: TcpStream, delay: Duration) {
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut upstream_read, mut upstream_write) = upstream.into_split();
    let (line, mut held) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let to_server = async move {
        let mut buffer = vec![0u8; 64 * 1024];
        while let Ok(n) = client_read.read(&mut buffer).await {
            if n == 0
                || line
                    .send((Instant::now() + delay, buffer[..n].to_vec()))
                    .is_err()
            {
                break;
            }
        }
    };
    let delayed = async move {
        while let Some((due, bytes)) = held.recv().await {
            tokio::time::sleep_until(due.into()).await;
            if upstream_write.write_all(&bytes).await.is_err() {
                break;
            }
        }
        let _ = upstream_write.shutdown().await;
    };
    let to_client = async move {
        let _ = tokio::io::copy(&mut upstream_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    };
    tokio::join!(to_server, delayed, to_client);
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    #[test]
    fn urls_are_pointed_at_the_proxy_and_back() {
        let server = DelayProxy::server_of("postgres://u:p@127.0.0.1:5432/guacamole_db").unwrap();
        assert_eq!(server, "127.0.0.1:5432".parse().unwrap());
        let proxy = DelayProxy::start(server, Duration::ZERO).unwrap();
        assert_eq!(
            proxy
                .url_through("postgres://u:p@127.0.0.1:5432/guacamole_db")
                .unwrap(),
            format!("postgres://u:p@{}/guacamole_db", proxy.addr)
        );
    }

    #[test]
    fn every_round_trip_takes_the_delay_longer_and_keeps_its_bytes() {
        // An echo server on loopback, behind a proxy adding 40 ms.
        let echo = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let server = echo.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut stream, _) = echo.accept().unwrap();
            let mut buffer = [0u8; 1024];
            while let Ok(n) = stream.read(&mut buffer) {
                if n == 0 || stream.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
        });
        let delay = Duration::from_millis(40);
        let proxy = DelayProxy::start(server, delay).unwrap();
        let mut client = std::net::TcpStream::connect(proxy.addr).unwrap();
        for round in 0..3u8 {
            let started = Instant::now();
            client.write_all(&[round, 1, 2, 3]).unwrap();
            let mut answer = [0u8; 4];
            client.read_exact(&mut answer).unwrap();
            assert_eq!(answer, [round, 1, 2, 3]);
            assert!(
                started.elapsed() >= delay,
                "round {round}: {:?}",
                started.elapsed()
            );
        }
    }
}

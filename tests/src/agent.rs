//! A real `giif-agent serve` process in a temporary state directory.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use giif_agent::init::{init, InitOptions, Initialised};
use giif_proto::agent_tls::AgentTrust;
use giif_provider::agent::{AgentClient, AgentSettings};

use crate::{binary, free_port};

pub struct TestAgent {
    pub dir: tempfile::TempDir,
    pub made: Initialised,
    process: Child,
}

impl TestAgent {
    /// An agent whose project VLAN pool is `first..=last`, on SQLite or on
    /// the given store URL.
    pub fn start(first: u32, last: u32, store: Option<String>) -> Self {
        Self::start_with_pool(first, last, store, |_| {})
    }

    /// The same, after `configure` was given the state directory (which
    /// holds agent.toml) to add to the configuration.
    pub fn start_with_pool(
        first: u32,
        last: u32,
        store: Option<String>,
        configure: impl FnOnce(&Path),
    ) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let site = dir.path().join("site.toml");
        std::fs::write(
            &site,
            format!("[project_vlans]\nname = \"test-pool\"\nfirst = {first}\nlast = {last}\n"),
        )
        .unwrap();
        Self::start_in(dir, &site, store, configure)
    }

    /// An agent on SQLite whose inventory is the site file `site`.
    pub fn start_with_inventory(site: &Path) -> Self {
        Self::start_configured(site, None, "")
    }

    /// An agent whose inventory is `site`, on the store at `store` (a
    /// PostgreSQL URL) or SQLite, with the TOML `agent_toml` merged into its
    /// configuration before it starts.
    pub fn start_configured(site: &Path, store: Option<String>, agent_toml: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(dir, site, store, |state| {
            if !agent_toml.is_empty() {
                merge_config(&state.join("agent.toml"), agent_toml);
            }
        })
    }

    fn start_in(
        dir: tempfile::TempDir,
        site: &Path,
        store: Option<String>,
        configure: impl FnOnce(&Path),
    ) -> Self {
        let made = initialise(InitOptions {
            dir: dir.path().join("agent"),
            listen: format!("127.0.0.1:{}", free_port()),
            hosts: vec![],
            store,
        });
        import(&made.config_path, site);
        configure(made.config_path.parent().unwrap());
        let process = serve(&made.config_path, &dir.path().join("agent.log"));
        let agent = Self { dir, made, process };
        agent.wait_until_listening();
        agent
    }

    /// Stops the agent with SIGTERM and starts it again on the same state;
    /// the log goes on in the same file.
    pub fn restart(&mut self) {
        let status = self.terminate();
        assert!(status.success(), "the agent stopped with {status}");
        self.process = serve(&self.made.config_path, &self.dir.path().join("agent.log"));
        self.wait_until_listening();
    }

    /// Imports the site file `site` again, as an operator does while the
    /// agent serves.
    pub fn import(&self, site: &Path) {
        import(&self.made.config_path, site);
    }

    fn wait_until_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(&self.made.endpoint).is_err() {
            assert!(
                Instant::now() < deadline,
                "the agent did not start; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// The `giif-agent serve` process id (for reading its memory use).
    pub fn pid(&self) -> u32 {
        self.process.id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("agent.log")).unwrap_or_default()
    }

    pub fn state_dir(&self) -> &Path {
        self.made.config_path.parent().unwrap()
    }

    /// Environment for terraform: where the agent is and the operator identity.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("GIIF_ENDPOINT".into(), self.made.endpoint.clone()),
            ("GIIF_CA_CERT".into(), path_string(&self.made.ca_cert)),
            (
                "GIIF_CLIENT_CERT".into(),
                path_string(&self.made.client_cert),
            ),
            ("GIIF_CLIENT_KEY".into(), path_string(&self.made.client_key)),
        ]
    }

    pub fn settings(&self) -> AgentSettings {
        AgentSettings {
            endpoint: self.made.endpoint.clone(),
            trust: AgentTrust::CaPem(std::fs::read_to_string(&self.made.ca_cert).unwrap()),
            client_cert_pem: std::fs::read_to_string(&self.made.client_cert).unwrap(),
            client_key_pem: std::fs::read_to_string(&self.made.client_key).unwrap(),
        }
    }

    /// An agent API client with the operator identity, for out-of-band
    /// changes and checks.
    pub async fn client(&self) -> AgentClient {
        AgentClient::connect(&self.settings())
            .await
            .expect("connect to the agent")
    }
}

impl TestAgent {
    /// Sends SIGTERM, as systemd does to stop a service, and waits for the
    /// agent to exit: its exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.process.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("send SIGTERM");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let Some(status) = self.process.try_wait().expect("wait for the agent") {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the agent ignored SIGTERM"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl TestAgent {
    /// SIGKILL, as a crash or the OOM killer does: nothing runs after it.
    pub fn kill(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.process.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).expect("send SIGKILL");
        let _ = self.process.wait();
    }

    /// Starts the agent again on the same state after [`TestAgent::kill`].
    pub fn start_again(&mut self) {
        self.process = serve(&self.made.config_path, &self.dir.path().join("agent.log"));
        self.wait_until_listening();
    }

    /// A second replica on this agent's store, certificates and site: its
    /// own listen address and `[operations] replica = NAME`, the rest of
    /// agent.toml as this agent's.
    pub fn replica(&self, name: &str) -> Replica {
        let config_path = self.state_dir().join(format!("agent-{name}.toml"));
        std::fs::copy(&self.made.config_path, &config_path).expect("copy agent.toml");
        let endpoint = format!("127.0.0.1:{}", free_port());
        merge_config(
            &config_path,
            &format!("listen = \"{endpoint}\"\n[operations]\nreplica = \"{name}\"\n"),
        );
        let log = self.dir.path().join(format!("agent-{name}.log"));
        let replica = Replica {
            process: serve(&config_path, &log),
            config_path,
            log,
            endpoint,
        };
        replica.wait_until_listening();
        replica
    }
}

/// Another `giif-agent serve` on the same store (see [`TestAgent::replica`]).
pub struct Replica {
    process: Child,
    config_path: std::path::PathBuf,
    log: std::path::PathBuf,
    pub endpoint: String,
}

impl Replica {
    fn wait_until_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(&self.endpoint).is_err() {
            assert!(
                Instant::now() < deadline,
                "the replica did not start; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn kill(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.process.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).expect("send SIGKILL");
        let _ = self.process.wait();
    }

    pub fn start_again(&mut self) {
        self.process = serve(&self.config_path, &self.log);
        self.wait_until_listening();
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// A client identity `giif-agent identity issue` wrote.
#[derive(Clone, Debug)]
pub struct Identity {
    pub name: String,
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

impl TestAgent {
    /// Runs `giif-agent ARGS --config <this agent's>`: its output, whatever
    /// the exit status.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(binary("giif-agent"))
            .args(args)
            .arg("--config")
            .arg(&self.made.config_path)
            .output()
            .expect("run giif-agent")
    }

    /// `giif-agent identity issue NAME --role ROLE`, which must succeed.
    pub fn issue_identity(&self, name: &str, role: &str) -> Identity {
        let out = self.dir.path().join("identities");
        let out_text = out.display().to_string();
        let done = self.cli(&[
            "identity", "issue", name, "--role", role, "--out", &out_text,
        ]);
        assert!(
            done.status.success(),
            "identity issue {name} failed: {}",
            String::from_utf8_lossy(&done.stderr)
        );
        Identity {
            name: name.to_string(),
            cert: out.join(format!("{name}.pem")),
            key: out.join(format!("{name}-key.pem")),
        }
    }

    /// Environment for terraform acting as `identity`.
    pub fn env_as(&self, identity: &Identity) -> Vec<(String, String)> {
        vec![
            ("GIIF_ENDPOINT".into(), self.made.endpoint.clone()),
            ("GIIF_CA_CERT".into(), path_string(&self.made.ca_cert)),
            ("GIIF_CLIENT_CERT".into(), path_string(&identity.cert)),
            ("GIIF_CLIENT_KEY".into(), path_string(&identity.key)),
        ]
    }

    /// An agent API client acting as `identity`.
    pub async fn client_as(&self, identity: &Identity) -> AgentClient {
        let settings = AgentSettings {
            client_cert_pem: std::fs::read_to_string(&identity.cert).unwrap(),
            client_key_pem: std::fs::read_to_string(&identity.key).unwrap(),
            ..self.settings()
        };
        AgentClient::connect(&settings)
            .await
            .expect("connect to the agent")
    }
}

/// Merges the TOML `extra` into the agent configuration at `path`, table
/// by table (init writes `[tenancy]` already; a test adds keys to it).
fn merge_config(path: &Path, extra: &str) {
    fn merge(into: &mut toml::Table, from: toml::Table) {
        for (key, value) in from {
            match (into.get_mut(&key), value) {
                (Some(toml::Value::Table(into)), toml::Value::Table(from)) => merge(into, from),
                (_, value) => {
                    into.insert(key, value);
                }
            }
        }
    }
    let mut config: toml::Table = std::fs::read_to_string(path).unwrap().parse().unwrap();
    merge(
        &mut config,
        extra.parse().expect("the test's agent.toml additions"),
    );
    std::fs::write(path, toml::to_string(&config).unwrap()).unwrap();
}

/// `giif-agent init` as a library call: it opens the store, so it runs on
/// a runtime of its own, from sync tests and async ones alike.
pub fn initialise(options: InitOptions) -> Initialised {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(init(&options))
            .expect("giif-agent init")
    })
    .join()
    .expect("init thread")
}

fn path_string(path: &Path) -> String {
    path.display().to_string()
}

impl Drop for TestAgent {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// The agent that serves: `GIIF_AGENT_BINARY` when set (giif-bench's
/// baseline runs an earlier build beside the current one), else the
/// workspace's.
fn agent_binary() -> std::path::PathBuf {
    std::env::var_os("GIIF_AGENT_BINARY")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| binary("giif-agent"))
}

/// `giif-agent serve --config CONFIG`, its log appended to `log`.
fn serve(config: &Path, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(agent_binary())
        .arg("serve")
        .arg("--config")
        .arg(config)
        .env("GIIF_LOG", "info")
        // Device failures tests inject should fail in seconds, not a minute.
        .env("GIIF_DRIVER_RETRY_SECONDS", "4")
        // A silent client is dropped in seconds, not ten.
        .env("GIIF_TLS_HANDSHAKE_SECONDS", "2")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start giif-agent serve")
}

/// `giif-agent inventory import SITE --config CONFIG`, which must succeed.
fn import(config: &Path, site: &Path) {
    let out = Command::new(binary("giif-agent"))
        .args(["inventory", "import"])
        .arg(site)
        .arg("--config")
        .arg(config)
        .output()
        .expect("run giif-agent inventory import");
    assert!(
        out.status.success(),
        "inventory import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

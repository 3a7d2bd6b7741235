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
        Self::start_configured(first, last, store, |_| {})
    }

    /// The same, after `configure` was given the state directory (which
    /// holds agent.toml) to add to the configuration.
    pub fn start_configured(
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
        Self::start_in(tempfile::tempdir().expect("temp dir"), site, None, |_| {})
    }

    /// The same on the store at `store` (a PostgreSQL URL).
    pub fn start_with_inventory_on(site: &Path, store: String) -> Self {
        Self::start_in(
            tempfile::tempdir().expect("temp dir"),
            site,
            Some(store),
            |_| {},
        )
    }

    fn start_in(
        dir: tempfile::TempDir,
        site: &Path,
        store: Option<String>,
        configure: impl FnOnce(&Path),
    ) -> Self {
        let made = init(&InitOptions {
            dir: dir.path().join("agent"),
            listen: format!("127.0.0.1:{}", free_port()),
            hosts: vec![],
            store,
        })
        .expect("giif-agent init");
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

fn path_string(path: &Path) -> String {
    path.display().to_string()
}

impl Drop for TestAgent {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// `giif-agent serve --config CONFIG`, its log appended to `log`.
fn serve(config: &Path, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(binary("giif-agent"))
        .arg("serve")
        .arg("--config")
        .arg(config)
        .env("GIIF_LOG", "info")
        // Device failures tests inject should fail in seconds, not a minute.
        .env("GIIF_DRIVER_RETRY_SECONDS", "4")
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

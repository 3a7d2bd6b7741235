//! A whole simulated site for acceptance tests: the real `giif-sim` binary,
//! and a real agent whose inventory is the one the simulator wrote.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::agent::TestAgent;
use crate::binary;

pub struct TestSite {
    pub agent: TestAgent,
    /// `host:port` of the simulator's admin API.
    pub admin: String,
    sim: Child,
    /// The agent's site file, as the simulator wrote it.
    site_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestSite {
    /// Starts `giif-sim` with the site description `site` (TOML), then an
    /// agent on SQLite with the simulator's inventory imported.
    pub fn start(site: &str) -> Self {
        Self::start_with(site, None, None, "")
    }

    /// Like [`TestSite::start`], with consoles in the Guacamole database at
    /// `guacamole_url` when given, and `agent_toml` appended to the agent's
    /// configuration before it starts (sections such as `[tenancy]`).
    pub fn start_configured(site: &str, guacamole_url: Option<&str>, agent_toml: &str) -> Self {
        Self::start_with(site, guacamole_url, None, agent_toml)
    }

    /// Like [`TestSite::start`], with the agent's store at `store` (a
    /// PostgreSQL URL) instead of SQLite.
    pub fn start_on_store(site: &str, store: String) -> Self {
        Self::start_with(site, None, Some(store), "")
    }

    /// Like [`TestSite::start`], with consoles in the Guacamole database at
    /// `guacamole_url` (the site file's `[guacamole]` section).
    pub fn start_with_guacamole(site: &str, guacamole_url: &str) -> Self {
        Self::start_with(site, Some(guacamole_url), None, "")
    }

    /// Like [`TestSite::start_configured`], with the agent's store at
    /// `store` (a PostgreSQL URL) when given.
    pub fn start_on_store_configured(site: &str, store: String, agent_toml: &str) -> Self {
        Self::start_with(site, None, Some(store), agent_toml)
    }

    fn start_with(
        site: &str,
        guacamole_url: Option<&str>,
        store: Option<String>,
        agent_toml: &str,
    ) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let site_file = dir.path().join("site.toml");
        std::fs::write(&site_file, site).expect("write the site description");
        let inventory = dir.path().join("sim");
        let admin_file = dir.path().join("admin-addr");
        let log = std::fs::File::create(dir.path().join("sim.log")).expect("sim log");
        let sim = Command::new(binary("giif-sim"))
            .arg("--site")
            .arg(&site_file)
            .arg("--inventory-dir")
            .arg(&inventory)
            .arg("--admin-addr-file")
            .arg(&admin_file)
            .env("GIIF_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start giif-sim");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !admin_file.exists() {
            assert!(Instant::now() < deadline, "giif-sim did not start");
            std::thread::sleep(Duration::from_millis(25));
        }
        let admin = std::fs::read_to_string(&admin_file).expect("admin address");
        let site_toml = inventory.join("site.toml");
        if let Some(url) = guacamole_url {
            add_guacamole(&site_toml, url);
        }
        let agent = TestAgent::start_configured(&site_toml, store, agent_toml);
        Self {
            agent,
            admin,
            sim,
            site_file: site_toml,
            _dir: dir,
        }
    }

    /// Rewrites the agent's site file (the one the simulator wrote) with
    /// `edit` and imports it again.
    pub fn reimport(&self, edit: impl FnOnce(String) -> String) {
        let text = std::fs::read_to_string(&self.site_file).expect("read the site file");
        std::fs::write(&self.site_file, edit(text)).expect("write the site file");
        self.agent.import(&self.site_file);
    }

    /// The directory of the agent's site file (secret references in it are
    /// relative to it).
    pub fn site_dir(&self) -> PathBuf {
        self.site_file
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_default()
    }

    /// Calls the simulator's admin API; returns the status code and body.
    pub fn admin(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        http(&self.admin, method, path, body)
    }

    /// The simulator's whole state.
    pub fn state(&self) -> serde_json::Value {
        let (status, body) = self.admin("GET", "/state", None);
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).expect("state JSON")
    }

    /// The config of the VM `vmid` in the simulated cluster, as JSON text;
    /// `None` when the cluster has no such VM.
    pub fn vm_config(&self, vmid: u64) -> Option<String> {
        fn find(value: &serde_json::Value, vmid: u64) -> Option<String> {
            match value {
                serde_json::Value::Object(map) => {
                    if map.get("vmid").and_then(|v| v.as_u64()) == Some(vmid)
                        && map.contains_key("config")
                    {
                        return Some(map["config"].to_string());
                    }
                    map.values().find_map(|v| find(v, vmid))
                }
                serde_json::Value::Array(items) => items.iter().find_map(|v| find(v, vmid)),
                _ => None,
            }
        }
        find(&self.state()["pve"], vmid)
    }
}

impl Drop for TestSite {
    fn drop(&mut self) {
        let _ = self.sim.kill();
        let _ = self.sim.wait();
    }
}

/// The public address tests give Guacamole's web app.
/// `count` `[[pagw_slots]]` tables for a site file: public addresses from
/// 203.0.113.10 up behind 203.0.113.1, hosted on pve1 and pve2 in turn.
pub fn pagw_slots(count: usize) -> String {
    (0..count)
        .map(|n| {
            format!(
                "\n[[pagw_slots]]\npublic_ip = \"203.0.113.{}\"\ngateway = \"203.0.113.1\"\nhost = \"pve{}\"\n",
                10 + n,
                1 + n % 2
            )
        })
        .collect()
}

pub const GUACAMOLE_PUBLIC_URL: &str = "https://console.giif.test/guacamole";

/// Adds a `[guacamole]` section to a site file, its database URL (a
/// secret) in a file of its own beside it.
fn add_guacamole(site_toml: &std::path::Path, url: &str) {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = site_toml.parent().expect("inventory dir");
    let mut secret = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(dir.join("guacamole-db-url"))
        .expect("write the Guacamole URL file");
    secret.write_all(url.as_bytes()).expect("write the URL");
    let mut text = std::fs::read_to_string(site_toml).expect("read site.toml");
    text.push_str(&format!(
        "\n[guacamole]\ndatabase_url = {{ file = \"guacamole-db-url\" }}\npublic_url = \"{GUACAMOLE_PUBLIC_URL}\"\n"
    ));
    std::fs::write(site_toml, text).expect("write site.toml");
}

/// A minimal HTTP/1.1 client, so tests need no HTTP library.
pub fn http(addr: &str, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to the admin API");
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = match answer.split_once("\r\n\r\n") {
        Some((head, rest))
            if head
                .to_ascii_lowercase()
                .contains("transfer-encoding: chunked") =>
        {
            dechunk(rest)
        }
        Some((_, rest)) => rest.to_string(),
        None => String::new(),
    };
    (status, body)
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || tail.len() < size {
            break;
        }
        out.push_str(&tail[..size]);
        rest = tail[size..].trim_start_matches("\r\n");
    }
    out
}

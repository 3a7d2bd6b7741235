//! OpenStack's sushy-tools Redfish emulator (its fake driver), an
//! implementation of Redfish the project did not write, started per test on
//! loopback from the virtualenv `.ci/run` prepares; and a small HTTP server
//! the emulator downloads virtual-media images from.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_port, workspace_root};

/// The fake system's id and its one NIC.
pub const SYSTEM_ID: &str = "5b1d3a6e-6a0f-4b8e-9a57-3c2f6f7d1e01";
pub const SYSTEM_MAC: &str = "52:54:00:8a:00:01";

/// `GIIF_TEST_SUSHY`, or the virtualenv's `sushy-emulator`. Missing is a
/// failure, not a skip.
pub fn sushy_emulator() -> PathBuf {
    let path = std::env::var_os("GIIF_TEST_SUSHY")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/test-venv/bin/sushy-emulator"));
    assert!(
        path.exists(),
        "{} is needed: run `make test` (it prepares target/test-venv), or \
         `target/test-venv/bin/pip install sushy-tools`, or set GIIF_TEST_SUSHY",
        path.display()
    );
    path
}

/// How a sushy-emulator instance is set up.
#[derive(Clone, Debug, Default)]
pub struct SushyOptions {
    /// Certificate and key PEM: HTTPS instead of HTTP.
    pub tls: Option<(String, String)>,
    /// User and password: basic authentication required.
    pub basic_auth: Option<(String, String)>,
    /// Listen on this port (to restart one in place).
    pub port: Option<u16>,
}

pub struct Sushy {
    process: Child,
    pub addr: SocketAddr,
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Sushy {
    pub fn start(options: &SushyOptions) -> Sushy {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = options.port.unwrap_or_else(free_port);
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let mut config = format!(
            "SUSHY_EMULATOR_LISTEN_IP = '127.0.0.1'\n\
             SUSHY_EMULATOR_LISTEN_PORT = {port}\n\
             SUSHY_EMULATOR_FAKE_DRIVER = True\n\
             SUSHY_EMULATOR_STATE_DIR = {state:?}\n\
             SUSHY_EMULATOR_FAKE_SYSTEMS = [{{'uuid': '{SYSTEM_ID}', 'name': 'bms-rf', \
             'power_state': 'Off', 'nics': [{{'mac': '{SYSTEM_MAC}', 'ip': '172.22.0.10'}}]}}]\n\
             SUSHY_EMULATOR_STORAGE = {{'{SYSTEM_ID}': [{{'Id': '1', 'Name': 'Local Storage Controller', \
             'StorageControllers': [{{'MemberId': '0', 'Name': 'Contoso Integrated RAID', 'SpeedGbps': 12}}], \
             'Drives': ['32ADF365C6C1B7BD']}}]}}\n\
             SUSHY_EMULATOR_DRIVES = {{('{SYSTEM_ID}', '1'): [{{'Id': '32ADF365C6C1B7BD', 'Name': 'Drive Sample', \
             'CapacityBytes': 899527000000, 'Protocol': 'SAS'}}]}}\n",
            state = dir.path().join("state").display().to_string(),
        );
        let scheme = match &options.tls {
            Some((cert, key)) => {
                let cert_path = dir.path().join("cert.pem");
                let key_path = dir.path().join("key.pem");
                std::fs::write(&cert_path, cert).expect("cert");
                std::fs::write(&key_path, key).expect("key");
                config += &format!(
                    "SUSHY_EMULATOR_SSL_CERT = {:?}\nSUSHY_EMULATOR_SSL_KEY = {:?}\n",
                    cert_path.display().to_string(),
                    key_path.display().to_string()
                );
                "https"
            }
            None => "http",
        };
        if let Some((user, password)) = &options.basic_auth {
            let htpasswd = dir.path().join("htpasswd");
            write_htpasswd(&htpasswd, user, password);
            config += &format!(
                "SUSHY_EMULATOR_AUTH_FILE = {:?}\n",
                htpasswd.display().to_string()
            );
        }
        let config_path = dir.path().join("emulator.conf");
        std::fs::write(&config_path, config).expect("config");
        let log = std::fs::File::create(dir.path().join("emulator.log")).expect("log");
        let process = Command::new(sushy_emulator())
            .arg("--config")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start sushy-emulator");
        let sushy = Sushy {
            process,
            addr,
            url: format!("{scheme}://{addr}"),
            _dir: dir,
        };
        sushy.wait_listening();
        sushy
    }

    fn wait_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(self.addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "sushy-emulator did not listen on {} within 30 s: {}",
                self.addr,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("emulator.log")).unwrap_or_default()
    }

    pub fn system_path() -> String {
        format!("/redfish/v1/Systems/{SYSTEM_ID}")
    }

    /// A resource as the emulator shows it (plain HTTP, no credentials).
    pub async fn read(&self, path: &str) -> serde_json::Value {
        // reqwest is built without a TLS provider of its own.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        reqwest::get(format!("{}{path}", self.url))
            .await
            .expect("GET")
            .json()
            .await
            .expect("JSON")
    }
}

impl Drop for Sushy {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// The emulator's basic authentication reads bcrypt entries only; the
/// virtualenv's Python (which has bcrypt, a sushy-tools dependency) writes one.
fn write_htpasswd(path: &Path, user: &str, password: &str) {
    let python = sushy_emulator().with_file_name("python");
    let status = Command::new(python)
        .args([
            "-c",
            "import bcrypt, sys; open(sys.argv[1], 'w').write(sys.argv[2] + ':' + \
             bcrypt.hashpw(sys.argv[3].encode(), bcrypt.gensalt(rounds=4)).decode() + '\\n')",
        ])
        .arg(path)
        .arg(user)
        .arg(password)
        .status()
        .expect("python");
    assert!(status.success(), "writing the htpasswd file failed");
}

/// A self-signed certificate for 127.0.0.1: (certificate PEM, key PEM).
pub fn self_signed() -> (String, String) {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).expect("params");
    params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress("127.0.0.1".parse().expect("ip")));
    let cert = params.self_signed(&key).expect("cert");
    (cert.pem(), key.serialize_pem())
}

/// Serves `body` at every path, over HTTP on loopback, for the emulator to
/// download as a virtual-media image; stops with the returned handle.
pub async fn image_server(body: &'static [u8]) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = axum::Router::new().fallback(move || async move { body });
    let handle = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), handle)
}

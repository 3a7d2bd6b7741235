//! End-to-end checks over real TCP on 127.0.0.1, plus certificate content checks.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::ServerCertVerifier;
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, ServerConfig};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::{TlsAcceptor, TlsConnector};
use x509_parser::extensions::GeneralName;

use super::*;
use giif_proto::agent_tls::{crypto_provider, root_store};

const TIMEOUT: Duration = Duration::from_secs(10);

/// A CA with an agent server certificate.
struct Agent {
    ca: CaHandle,
    server: Pem,
}

fn agent(name: &str) -> Agent {
    let ca = CaHandle::from_certified(generate_ca(name).expect("generate CA"));
    let hosts = vec!["agent.example".to_owned(), "10.0.0.5".to_owned()];
    let server = Pem::from_certified(&issue_server_cert(&ca, &hosts).expect("server cert"));
    Agent { ca, server }
}

fn client_pem(ca: &CaHandle, identity: &str) -> Pem {
    Pem::from_certified(&issue_client_cert(ca, identity, 30).expect("client cert"))
}

fn server_config(agent: &Agent) -> ServerConfig {
    server_tls_config(
        agent.ca.cert_pem(),
        &agent.server.cert_pem,
        &agent.server.key_pem,
    )
    .expect("server config")
}

fn client_config(trust: &AgentTrust, client: &Pem) -> ClientConfig {
    client_tls_config(trust, &client.cert_pem, &client.key_pem).expect("client config")
}

/// Accepts one connection, answers "hello <CN>" to one line and reports the CN it saw.
async fn serve_once(config: ServerConfig) -> (SocketAddr, JoinHandle<Result<String, String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.map_err(|e| e.to_string())?;
        let mut tls = acceptor.accept(tcp).await.map_err(|e| e.to_string())?;
        let peer = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first().cloned());
        let cn = peer
            .and_then(|c| client_identity(&c))
            .ok_or("no client identity")?;
        read_line(&mut tls).await?;
        let reply = format!("hello {cn}\n");
        tls.write_all(reply.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        tls.shutdown().await.map_err(|e| e.to_string())?;
        Ok(cn)
    });
    (addr, task)
}

/// Connects as "localhost", sends one line and returns the reply line.
async fn talk(config: ClientConfig, addr: SocketAddr) -> Result<String, String> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from("localhost").map_err(|e| e.to_string())?;
    let mut tls = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    tls.write_all(b"ping\n").await.map_err(|e| e.to_string())?;
    tls.flush().await.map_err(|e| e.to_string())?;
    read_line(&mut tls).await
}

async fn read_line(stream: &mut (impl AsyncRead + Unpin)) -> Result<String, String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\n") {
        let n = stream.read(&mut byte).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed before a full line".to_owned());
        }
        line.push(byte[0]);
    }
    String::from_utf8(line)
        .map(|l| l.trim_end().to_owned())
        .map_err(|e| e.to_string())
}

/// Runs one exchange and returns (client outcome, server outcome).
async fn exchange(
    server: ServerConfig,
    client: ClientConfig,
) -> (Result<String, String>, Result<String, String>) {
    let (addr, task) = serve_once(server).await;
    let client_result = tokio::time::timeout(TIMEOUT, talk(client, addr))
        .await
        .expect("client timed out");
    let server_result = tokio::time::timeout(TIMEOUT, task)
        .await
        .expect("server timed out")
        .expect("server task panicked");
    (client_result, server_result)
}

#[tokio::test]
async fn client_with_ca_cert_connects_and_is_identified() {
    let agent = agent("agent CA");
    let client = client_pem(&agent.ca, "provider-1");
    let trust = AgentTrust::CaPem(agent.ca.cert_pem().to_owned());
    let (client_res, server_res) =
        exchange(server_config(&agent), client_config(&trust, &client)).await;
    assert_eq!(client_res, Ok("hello provider-1".to_owned()));
    assert_eq!(server_res, Ok("provider-1".to_owned()));
}

#[tokio::test]
async fn client_without_certificate_is_refused() {
    let agent = agent("agent CA");
    let ca = load_certs(agent.ca.cert_pem()).expect("ca certs");
    let config = ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(root_store(&ca, "test CA").expect("roots"))
        .with_no_client_auth();
    let (client_res, server_res) = exchange(server_config(&agent), config).await;
    assert!(
        client_res.is_err(),
        "client unexpectedly succeeded: {client_res:?}"
    );
    assert!(
        server_res.is_err(),
        "server accepted a client without certificate"
    );
}

#[tokio::test]
async fn client_cert_from_another_ca_is_refused() {
    let agent = agent("agent CA");
    let other = agent_ca_only("intruder CA");
    let client = client_pem(&other, "intruder");
    let trust = AgentTrust::CaPem(agent.ca.cert_pem().to_owned());
    let (client_res, server_res) =
        exchange(server_config(&agent), client_config(&trust, &client)).await;
    assert!(
        client_res.is_err(),
        "client unexpectedly succeeded: {client_res:?}"
    );
    let server_err = server_res.expect_err("server accepted a foreign client certificate");
    assert!(
        server_err.contains("invalid peer certificate"),
        "{server_err}"
    );
}

#[tokio::test]
async fn client_trusting_another_ca_refuses_the_server() {
    let agent = agent("agent CA");
    let other = agent_ca_only("other CA");
    let client = client_pem(&agent.ca, "provider-1");
    let trust = AgentTrust::CaPem(other.cert_pem().to_owned());
    let (client_res, server_res) =
        exchange(server_config(&agent), client_config(&trust, &client)).await;
    let err = client_res.expect_err("client accepted a server from another CA");
    assert!(err.contains("invalid peer certificate"), "{err}");
    assert!(server_res.is_err());
}

#[tokio::test]
async fn pinned_ca_connects() {
    let agent = agent("agent CA");
    let client = client_pem(&agent.ca, "provider-pin");
    let pin = parse_fingerprint(&agent.ca.fingerprint()).expect("pin");
    let trust = AgentTrust::CaFingerprint(pin);
    let (client_res, server_res) =
        exchange(server_config(&agent), client_config(&trust, &client)).await;
    assert_eq!(client_res, Ok("hello provider-pin".to_owned()));
    assert_eq!(server_res, Ok("provider-pin".to_owned()));
}

#[tokio::test]
async fn wrong_pin_is_refused_with_pin_message() {
    let agent = agent("agent CA");
    let other = agent_ca_only("other CA");
    let client = client_pem(&agent.ca, "provider-pin");
    let pin = parse_fingerprint(&other.fingerprint()).expect("pin");
    let trust = AgentTrust::CaFingerprint(pin);
    let (client_res, _) = exchange(server_config(&agent), client_config(&trust, &client)).await;
    let err = client_res.expect_err("client accepted a server with the wrong pin");
    assert!(
        err.contains("the agent's CA does not match the configured pin"),
        "{err}"
    );
    assert!(
        err.contains(&agent.ca.fingerprint()),
        "should list what was presented: {err}"
    );
}

#[tokio::test]
async fn reloaded_ca_issues_certs_chaining_to_the_original() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert_path, key_path) = (dir.path().join("ca.pem"), dir.path().join("ca.key"));
    let original = generate_ca("persistent CA").expect("generate CA");
    Pem::from_certified(&original)
        .write(&cert_path, &key_path)
        .expect("write CA");
    let original_der = original.cert.der().clone();

    let reloaded = CaHandle::load(&cert_path, &key_path).expect("reload CA");
    assert_eq!(reloaded.cert_der(), &original_der);
    // The in-memory issuer is a re-signed copy, so this really tests chaining to the file.
    assert_ne!(reloaded.issuer_der(), original_der.as_ref());
    let server = Pem::from_certified(&issue_server_cert(&reloaded, &[]).expect("server cert"));
    let client = client_pem(&reloaded, "after-restart");
    assert_issuer_is(&server.cert_pem, &original_der);
    assert_issuer_is(&client.cert_pem, &original_der);
    assert_chains_to(&server.cert_pem, &client.cert_pem, &original.cert.pem());

    // Only the ORIGINAL CA file from disk is trusted on both sides.
    let ca_on_disk = read_pem_file(&cert_path).expect("read CA");
    let server_config =
        server_tls_config(&ca_on_disk, &server.cert_pem, &server.key_pem).expect("server config");
    let trust = AgentTrust::CaPem(ca_on_disk);
    let (client_res, server_res) = exchange(server_config, client_config(&trust, &client)).await;
    assert_eq!(client_res, Ok("hello after-restart".to_owned()));
    assert_eq!(server_res, Ok("after-restart".to_owned()));
}

#[test]
fn ca_with_foreign_key_is_rejected() {
    let ca = generate_ca("one").expect("ca");
    let other = generate_ca("two").expect("ca");
    let err =
        CaHandle::from_pem(&ca.cert.pem(), &other.key_pair.serialize_pem()).expect_err("mismatch");
    assert!(err.to_string().contains("does not belong"), "{err}");
}

#[test]
fn key_files_are_written_owner_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pem = client_pem(&agent_ca_only("ca"), "someone");
    let (cert_path, key_path) = (dir.path().join("c.pem"), dir.path().join("c.key"));
    // A pre-existing, too-open key file must be tightened as well.
    std::fs::write(&key_path, "old").expect("seed");
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    pem.write(&cert_path, &key_path).expect("write");
    assert_eq!(mode(&key_path), 0o600);
    let fresh = dir.path().join("fresh.key");
    write_private_pem(&fresh, &pem.key_pem).expect("write fresh");
    assert_eq!(mode(&fresh), 0o600);
    assert_eq!(Pem::read(&cert_path, &key_path).expect("read back"), pem);
}

#[test]
fn fingerprints_parse_with_or_without_colons() {
    let der = b"not really a certificate";
    let hex = fingerprint_sha256(der);
    assert_eq!(hex.len(), 64);
    assert_eq!(hex, hex.to_lowercase());
    let colons = hex
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).to_uppercase())
        .collect::<Vec<_>>()
        .join(":");
    let a = parse_fingerprint(&hex).expect("plain");
    let b = parse_fingerprint(&colons).expect("colons");
    assert_eq!(a, b);
    assert_eq!(hex::encode(a), hex);
    assert!(parse_fingerprint("abcd").is_err());
    assert!(parse_fingerprint(&"zz".repeat(32)).is_err());
}

#[test]
fn pem_errors_name_the_expectation_without_key_material() {
    let pem = client_pem(&agent_ca_only("ca"), "someone");
    let err = load_certs(&pem.key_pem)
        .expect_err("key is not a cert")
        .to_string();
    assert!(err.contains("no CERTIFICATE block found in"), "{err}");
    let err = load_key_from(&pem.cert_pem, "client.pem")
        .expect_err("cert is not a key")
        .to_string();
    assert!(
        err.contains("no PRIVATE KEY block found in client.pem"),
        "{err}"
    );
    let body: String = pem
        .key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let broken = format!("-----BEGIN PRIVATE KEY-----\n{}!!\n", &body[..20]);
    let err = load_key(&broken).expect_err("broken key").to_string();
    assert!(
        !err.contains(&body[..20]),
        "error leaks key material: {err}"
    );
    assert!(load_key(&pem.key_pem).is_ok());
}

#[test]
fn certificates_carry_the_expected_fields() {
    let agent = agent("fields CA");
    let ca = parse(agent.ca.cert_pem());
    assert!(ca.is_ca());
    let ku = ca.key_usage().expect("ku").expect("ku present").value;
    assert!(ku.key_cert_sign() && ku.crl_sign() && ku.digital_signature());

    let server = parse(&agent.server.cert_pem);
    let eku = server
        .extended_key_usage()
        .expect("eku")
        .expect("eku present")
        .value;
    assert!(eku.server_auth && !eku.client_auth);
    let sans = server
        .subject_alternative_name()
        .expect("san")
        .expect("san present")
        .value;
    let names: Vec<String> = sans.general_names.iter().map(general_name).collect();
    for want in ["localhost", "127.0.0.1", "agent.example", "10.0.0.5"] {
        assert!(
            names.iter().any(|n| n == want),
            "missing {want} in {names:?}"
        );
    }

    let client = client_pem(&agent.ca, "provider-7");
    let parsed = parse(&client.cert_pem);
    let eku = parsed
        .extended_key_usage()
        .expect("eku")
        .expect("eku present")
        .value;
    assert!(eku.client_auth && !eku.server_auth);
    let der = load_certs(&client.cert_pem).expect("certs");
    assert_eq!(client_identity(&der[0]).as_deref(), Some("provider-7"));
}

fn agent_ca_only(name: &str) -> CaHandle {
    CaHandle::from_certified(generate_ca(name).expect("generate CA"))
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

fn parse(pem: &str) -> x509_parser::certificate::X509Certificate<'static> {
    let der = load_certs(pem).expect("certs").remove(0);
    let leaked: &'static [u8] = Box::leak(der.to_vec().into_boxed_slice());
    x509_parser::parse_x509_certificate(leaked)
        .expect("parse")
        .1
}

fn general_name(name: &GeneralName<'_>) -> String {
    match name {
        GeneralName::DNSName(dns) => (*dns).to_owned(),
        GeneralName::IPAddress(ip) if ip.len() == 4 => {
            std::net::Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]).to_string()
        }
        other => format!("{other:?}"),
    }
}

/// The issued certificate names the original CA as issuer.
fn assert_issuer_is(leaf_pem: &str, ca_der: &[u8]) {
    let leaf = parse(leaf_pem);
    let (_, ca) = x509_parser::parse_x509_certificate(ca_der).expect("ca");
    assert_eq!(leaf.issuer().as_raw(), ca.subject().as_raw());
}

/// Path validation (signature, validity, usage) of both leaves against the given CA alone.
fn assert_chains_to(server_pem: &str, client_pem: &str, ca_pem: &str) {
    let roots = Arc::new(root_store(&load_certs(ca_pem).expect("ca"), "ca").expect("roots"));
    let now = UnixTime::now();
    let server = load_certs(server_pem).expect("server").remove(0);
    let client = load_certs(client_pem).expect("client").remove(0);
    let name = ServerName::try_from("localhost").expect("name");
    WebPkiServerVerifier::builder_with_provider(roots.clone(), crypto_provider())
        .build()
        .expect("server verifier")
        .verify_server_cert(&server, &[], &name, &[], now)
        .expect("server cert chains to the CA");
    WebPkiClientVerifier::builder_with_provider(roots, crypto_provider())
        .build()
        .expect("client verifier")
        .verify_client_cert(&client, &[], now)
        .expect("client cert chains to the CA");
}

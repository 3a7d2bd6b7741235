//! The agent API is mTLS both ways: the agent refuses clients without a
//! certificate from its CA, and the provider refuses an agent that does not
//! chain to the CA it was given.

#![allow(clippy::unwrap_used)] // test helpers may panic: that is how a test fails

use std::sync::Arc;

use giif_proto::agent_tls::{client_tls_config, fingerprint_sha256, load_certs, AgentTrust};
use giif_tests::agent::TestAgent;
use giif_tests::terraform::Workspace;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Opens TLS to the agent with `config` and tries one exchange; the agent
/// reports a refused client certificate as an alert on the first read.
async fn talk(agent: &TestAgent, config: rustls::ClientConfig) -> Result<(), String> {
    let tcp = tokio::net::TcpStream::connect(&agent.made.endpoint)
        .await
        .map_err(|e| e.to_string())?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    // The HTTP/2 preface; a refused client gets an alert instead of SETTINGS.
    tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 9];
    tls.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
    Ok(())
}

fn other_ca_identity() -> (String, String, String) {
    let ca = giif_agent::pki::generate_ca("impostor CA").unwrap();
    let handle = giif_agent::pki::CaHandle::from_certified(ca);
    let client = giif_agent::pki::issue_client_cert(&handle, "mallory", 30).unwrap();
    (
        handle.cert_pem().to_string(),
        client.cert.pem(),
        client.key_pair.serialize_pem(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn agent_refuses_clients_without_a_certificate_from_its_ca() {
    let agent = TestAgent::start(100, 110, None);
    let ca_pem = std::fs::read_to_string(&agent.made.ca_cert).unwrap();

    // The operator identity works.
    let settings = agent.settings();
    let good = client_tls_config(
        &settings.trust,
        &settings.client_cert_pem,
        &settings.client_key_pem,
    )
    .unwrap();
    talk(&agent, good)
        .await
        .expect("the operator identity is accepted");
    let info = agent.client().await.agent_info().await.unwrap();
    assert_eq!(info.caller_identity, "operator");

    // No client certificate.
    let roots = {
        let mut roots = rustls::RootCertStore::empty();
        for cert in load_certs(&ca_pem).unwrap() {
            roots.add(cert).unwrap();
        }
        roots
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut anonymous = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    anonymous.alpn_protocols = vec![b"h2".to_vec()];
    let refused = talk(&agent, anonymous)
        .await
        .expect_err("a client without certificate must be refused");
    assert!(refused.to_lowercase().contains("certificate"), "{refused}");

    // A certificate from another CA.
    let (_, cert, key) = other_ca_identity();
    let foreign = client_tls_config(&AgentTrust::CaPem(ca_pem), &cert, &key).unwrap();
    let refused = talk(&agent, foreign)
        .await
        .expect_err("a foreign client certificate must be refused");
    assert!(
        refused.to_lowercase().contains("certificate") || refused.contains("alert"),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn provider_refuses_an_agent_that_does_not_match_its_ca() {
    let agent = TestAgent::start(100, 110, None);
    let (other_ca, _, _) = other_ca_identity();
    let other_ca_file = agent.dir.path().join("other-ca.pem");
    std::fs::write(&other_ca_file, other_ca).unwrap();
    let mut env = agent.env();
    env.retain(|(k, _)| k != "GIIF_CA_CERT");
    env.push(("GIIF_CA_CERT".into(), other_ca_file.display().to_string()));
    let ws = Workspace::with_env(
        env,
        "resource \"giif_project\" \"p\" {\n  name = \"p\"\n}\n",
    );
    let run = ws.run(&["plan"]);
    assert!(!run.success);
    let text = run.flat();
    assert!(text.contains("Cannot connect to the giif agent"), "{text}");
    assert!(
        text.contains("UnknownIssuer") || text.contains("invalid peer certificate"),
        "{text}"
    );

    // The right CA pinned by fingerprint is accepted.
    let ca_pem = std::fs::read_to_string(&agent.made.ca_cert).unwrap();
    let pin = fingerprint_sha256(load_certs(&ca_pem).unwrap()[0].as_ref());
    let mut env = agent.env();
    env.retain(|(k, _)| k != "GIIF_CA_CERT");
    env.push(("GIIF_CA_FINGERPRINT".into(), pin));
    let ws = Workspace::with_env(
        env,
        "resource \"giif_project\" \"p\" {\n  name = \"p\"\n}\n",
    );
    ws.ok(&["plan"]);

    // A wrong pin is refused.
    let mut env = agent.env();
    env.retain(|(k, _)| k != "GIIF_CA_CERT");
    env.push(("GIIF_CA_FINGERPRINT".into(), "00".repeat(32)));
    let ws = Workspace::with_env(
        env,
        "resource \"giif_project\" \"p\" {\n  name = \"p\"\n}\n",
    );
    let run = ws.run(&["plan"]);
    assert!(!run.success);
    assert!(
        run.flat().contains("does not match the configured pin"),
        "{}",
        run.flat()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_of_the_ca_serves_only_once_recorded() {
    let agent = TestAgent::start(100, 110, None);
    // A certificate signed with the CA's key outside `identity issue`, as an
    // agent before principals made them.
    let ca =
        giif_agent::pki::CaHandle::load(&agent.made.ca_cert, &agent.state_dir().join("ca-key.pem"))
            .unwrap();
    let legacy = giif_agent::pki::issue_client_cert(&ca, "legacy", 30).unwrap();
    let dir = agent.dir.path().join("legacy");
    std::fs::create_dir_all(&dir).unwrap();
    let identity = giif_tests::agent::Identity {
        name: "legacy".into(),
        cert: dir.join("legacy.pem"),
        key: dir.join("legacy-key.pem"),
    };
    giif_agent::pki::Pem::from_certified(&legacy)
        .write(&identity.cert, &identity.key)
        .unwrap();
    let refused = agent
        .client_as(&identity)
        .await
        .agent_info()
        .await
        .unwrap_err();
    assert!(
        refused
            .message
            .contains("was not issued by this agent's identity registry"),
        "{refused:?}"
    );

    let adopt = |cert: &std::path::Path| {
        agent.cli(&[
            "identity",
            "adopt",
            cert.to_str().unwrap(),
            "--role",
            "user",
        ])
    };
    let done = adopt(&identity.cert);
    assert!(done.status.success(), "{done:?}");
    let info = agent.client_as(&identity).await.agent_info().await.unwrap();
    assert_eq!(info.caller_identity, "legacy");
    assert!(String::from_utf8_lossy(&adopt(&identity.cert).stdout).contains("already recorded"));

    // Another CA's certificate is not adopted.
    let (_, foreign, _) = other_ca_identity();
    let foreign_file = dir.join("foreign.pem");
    std::fs::write(&foreign_file, foreign).unwrap();
    let refused = adopt(&foreign_file);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("not a valid client certificate of this agent's CA"),
        "{refused:?}"
    );
}

/// A client that connects and never speaks TLS is disconnected: it holds no
/// connection (and no task) for ever.
#[tokio::test(flavor = "multi_thread")]
async fn a_silent_client_is_disconnected() {
    use tokio::io::AsyncReadExt;
    let agent = TestAgent::start(100, 110, None);
    let mut silent = tokio::net::TcpStream::connect(&agent.made.endpoint)
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    // The harness gives the agent a two-second handshake limit.
    let read = tokio::time::timeout(std::time::Duration::from_secs(30), silent.read(&mut buf))
        .await
        .expect("the agent kept a silent connection open");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    // The line may reach the log a moment after the connection closed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !agent.log().contains("TLS handshake not finished in time") {
        assert!(std::time::Instant::now() < deadline, "{}", agent.log());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Others are served meanwhile and after.
    assert_eq!(
        agent
            .client()
            .await
            .agent_info()
            .await
            .unwrap()
            .caller_identity,
        "operator"
    );
}

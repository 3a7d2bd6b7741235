//! The provider binary as go-plugin sees it: the magic cookie, exactly one
//! handshake line on stdout, AutoMTLS with Terraform's P-521 client
//! certificate, health, the provider service, and a prompt Shutdown.

#![allow(clippy::unwrap_used)] // test helpers may panic: that is how a test fails

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use giif_proto::plugin::grpc_controller_client::GrpcControllerClient;
use giif_proto::tfplugin6::provider_client::ProviderClient;
use giif_provider::plugin::{MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE};
use giif_tests::binary;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tonic::transport::{Endpoint, Uri};

/// The terraform the acceptance tests drive is the one the run means:
/// `GIIF_EXPECT_TERRAFORM` (`make test-terraform-latest` sets it), else at
/// least 1.11, the oldest release this provider supports.
#[test]
fn the_terraform_under_test_is_the_expected_release() {
    let (version, parts) = giif_tests::terraform::version();
    match std::env::var("GIIF_EXPECT_TERRAFORM") {
        Ok(expected) => assert_eq!(version, expected),
        Err(_) => assert!(
            parts.as_slice() >= [1, 11].as_slice(),
            "Terraform {version} is older than 1.11"
        ),
    }
}

#[test]
fn refuses_to_run_without_the_magic_cookie() {
    let out = Command::new(binary("terraform-provider-giif"))
        .env_remove(MAGIC_COOKIE_KEY)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout.is_empty(),
        "nothing may reach stdout: {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("This binary is a plugin"));
}

/// Terraform's client certificate: ECDSA P-521, self-signed, CA:TRUE.
fn terraform_client_identity() -> (String, CertificateDer<'static>, PrivateKeyDer<'static>) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
    ];
    let cert = params.self_signed(&key).unwrap();
    (
        cert.pem(),
        cert.der().clone(),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
}

/// Trusts exactly the certificate from the handshake line, as go-plugin does.
#[derive(Debug)]
struct ExactServer(CertificateDer<'static>, Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for ExactServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        assert_eq!(name.to_str(), "localhost");
        if end_entity.as_ref() == self.0.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "not the handshake certificate".into(),
            ))
        }
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.1.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.1.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.1.signature_verification_algorithms.supported_schemes()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn handshake_automtls_services_and_shutdown() {
    let (client_pem, client_der, client_key) = terraform_client_identity();
    let mut child = Command::new(binary("terraform-provider-giif"))
        .env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
        .env("PLUGIN_CLIENT_CERT", &client_pem)
        .env("TF_LOG_PROVIDER", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let fields: Vec<&str> = line.trim_end().split('|').collect();
    assert_eq!(fields.len(), 6, "handshake line: {line:?}");
    assert_eq!(&fields[..3], ["1", "6", "tcp"]);
    assert!(fields[3].starts_with("127.0.0.1:"));
    assert_eq!(fields[4], "grpc");
    assert!(
        !fields[5].ends_with('='),
        "the certificate is base64 without padding"
    );
    let server_der = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(fields[5])
        .unwrap();

    // The server certificate names localhost, as go-plugin's client checks.
    let (_, parsed) = x509_parser::parse_x509_certificate(&server_der).unwrap();
    let san = parsed.subject_alternative_name().unwrap().unwrap();
    assert!(san.value.general_names.iter().any(|n| matches!(
        n,
        x509_parser::extensions::GeneralName::DNSName("localhost")
    )));

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ExactServer(
            CertificateDer::from(server_der),
            provider,
        )))
        .with_client_auth_cert(vec![client_der], client_key)
        .unwrap();
    tls.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));
    let addr = fields[3].to_string();
    let channel = Endpoint::from_static("https://localhost")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let connector = connector.clone();
            let addr = addr.clone();
            async move {
                let tcp = tokio::net::TcpStream::connect(addr).await?;
                let tls = connector
                    .connect(ServerName::try_from("localhost").unwrap(), tcp)
                    .await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
            }
        }))
        .await
        .expect("AutoMTLS connection with a P-521 client certificate");

    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "plugin".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        status.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    let mut provider = ProviderClient::new(channel.clone());
    let schema = provider
        .get_provider_schema(giif_proto::tfplugin6::get_provider_schema::Request {})
        .await
        .unwrap()
        .into_inner();
    assert!(schema.resource_schemas.contains_key("giif_project"));
    assert!(schema.data_source_schemas.contains_key("giif_project"));

    // An RPC the provider does not serve answers UNIMPLEMENTED, cleanly.
    let unimplemented = tonic::client::Grpc::new(channel.clone());
    let mut raw = unimplemented;
    raw.ready().await.unwrap();
    let codec: tonic::codec::ProstCodec<
        giif_proto::tfplugin6::stop_provider::Request,
        giif_proto::tfplugin6::stop_provider::Response,
    > = tonic::codec::ProstCodec::default();
    let status = raw
        .unary(
            tonic::Request::new(giif_proto::tfplugin6::stop_provider::Request {}),
            "/tfplugin6.Provider/GetFunctions".parse().unwrap(),
            codec,
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented);

    // Ctrl-C reaches plugins too, but Terraform sends StopProvider for it:
    // the signal itself must not end the process.
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        child.try_wait().unwrap().is_none(),
        "SIGINT killed the provider"
    );
    provider
        .get_metadata(giif_proto::tfplugin6::get_metadata::Request {})
        .await
        .expect("still serving after SIGINT");

    // Shutdown ends the process on its own (else Terraform waits, then kills it).
    let asked = Instant::now();
    GrpcControllerClient::new(channel)
        .shutdown(giif_proto::plugin::Empty {})
        .await
        .unwrap();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success());
            break;
        }
        assert!(
            asked.elapsed() < Duration::from_secs(10),
            "the provider did not exit on its own after Shutdown"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(
        rest.is_empty(),
        "stdout must hold only the handshake line, also got {rest:?}"
    );

    // Logs went to stderr as hclog JSON lines.
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let log_line = stderr
        .lines()
        .find(|l| l.contains("shut down"))
        .expect("a debug log line about shutdown");
    let log: serde_json::Value = serde_json::from_str(log_line).unwrap();
    assert_eq!(log["@level"], "debug");
    assert!(log["@timestamp"].is_string());
}

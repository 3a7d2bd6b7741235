//! `giif-agent init`: a state directory with the agent's CA, its server
//! certificate, an operator client identity and `agent.toml`.

use std::path::{Path, PathBuf};

use crate::config::{AgentConfig, TlsFiles};
use crate::error::ApiError;
use crate::pki::{generate_ca, issue_client_cert, issue_server_cert, CaHandle, Pem, PkiError};
use crate::store::{Store, StoreError};
use crate::tenancy::{Role, TenancySettings};

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{0} already holds an agent CA; refusing to replace it (remove the directory to start over)")]
    AlreadyInitialised(PathBuf),
    #[error("cannot create {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error("cannot write agent.toml: {0}")]
    Config(#[from] toml::ser::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot record the identity: {0}")]
    Record(#[from] ApiError),
    #[error("{0}")]
    Name(String),
}

pub struct InitOptions {
    pub dir: PathBuf,
    pub listen: String,
    /// Extra names and addresses for the server certificate.
    pub hosts: Vec<String>,
    /// Store URL; default SQLite in the state directory.
    pub store: Option<String>,
}

/// What was made, for printing.
pub struct Initialised {
    pub config_path: PathBuf,
    pub ca_cert: PathBuf,
    pub ca_fingerprint: String,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    pub endpoint: String,
}

/// Makes the state directory and records the `operator` principal in the
/// store (which it creates), so the first identity works at once.
pub async fn init(options: &InitOptions) -> Result<Initialised, InitError> {
    let dir = &options.dir;
    let create = |path: &Path| {
        std::fs::create_dir_all(path).map_err(|source| InitError::Create {
            path: path.to_path_buf(),
            source,
        })
    };
    create(dir)?;
    let dir = dir.canonicalize().map_err(|source| InitError::Create {
        path: dir.clone(),
        source,
    })?;
    let ca_cert = dir.join("ca.pem");
    if ca_cert.exists() {
        return Err(InitError::AlreadyInitialised(dir));
    }
    let generated = generate_ca("giif agent CA")?;
    Pem::from_certified(&generated).write(&ca_cert, &dir.join("ca-key.pem"))?;
    let ca = CaHandle::from_certified(generated);

    let mut hosts = options.hosts.clone();
    if let Some((host, _)) = options.listen.rsplit_once(':') {
        if host != "0.0.0.0" && host != "[::]" {
            hosts.push(
                host.trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string(),
            );
        }
    }
    let server = issue_server_cert(&ca, &hosts)?;
    Pem::from_certified(&server).write(&dir.join("server.pem"), &dir.join("server-key.pem"))?;

    let store = options
        .store
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.join("agent.db").display()));
    let config = AgentConfig {
        listen: options.listen.clone(),
        store,
        tls: TlsFiles {
            ca_cert: "ca.pem".into(),
            ca_key: "ca-key.pem".into(),
            server_cert: "server.pem".into(),
            server_key: "server-key.pem".into(),
        },
        tenancy: TenancySettings::default(),
        audit: Default::default(),
        operations: Default::default(),
        observability: None,
        notices: None,
    };
    let clients = dir.join("clients");
    create(&clients)?;
    let registry = Store::open(&config.store_url()).await?;
    let operator = issue_identity(
        &ca,
        &registry,
        "operator",
        Role::Operator,
        config.tenancy.certificate_days,
        &clients,
    )
    .await?;
    let config_path = dir.join("agent.toml");
    std::fs::write(&config_path, toml::to_string_pretty(&config)?).map_err(|source| {
        InitError::Create {
            path: config_path.clone(),
            source,
        }
    })?;
    let endpoint = match options.listen.split_once(':') {
        Some(("0.0.0.0", port)) => format!("localhost:{port}"),
        _ => options.listen.clone(),
    };
    Ok(Initialised {
        config_path,
        ca_fingerprint: ca.fingerprint(),
        ca_cert,
        client_cert: operator.cert,
        client_key: operator.key,
        endpoint,
    })
}

/// An identity written to disk and recorded in the store.
pub struct IssuedIdentity {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub serial: String,
    pub expires_at: String,
}

/// Issues a client identity `name` with `role` into `dir` (`<name>.pem`
/// and `<name>-key.pem`) and records its serial, so calls with it are
/// served until it expires or is revoked.
pub async fn issue_identity(
    ca: &CaHandle,
    store: &Store,
    name: &str,
    role: Role,
    days: u32,
    dir: &Path,
) -> Result<IssuedIdentity, InitError> {
    if let Some(problem) = crate::tenancy::principal::name_problem(name) {
        return Err(InitError::Name(problem));
    }
    let certified = issue_client_cert(ca, name, days)?;
    let facts = crate::tenancy::authenticate::certificate_facts(certified.cert.der())
        .ok_or_else(|| InitError::Name("the new certificate is unreadable".into()))?;
    // Recorded first: the store refuses a role other than the principal's,
    // and then nothing was written.
    store
        .record_certificate(name, role, &facts.serial, &facts.expires_at)
        .await?;
    let cert = dir.join(format!("{name}.pem"));
    let key = dir.join(format!("{name}-key.pem"));
    Pem::from_certified(&certified).write(&cert, &key)?;
    Ok(IssuedIdentity {
        cert,
        key,
        serial: facts.serial,
        expires_at: facts.expires_at,
    })
}

impl Initialised {
    /// The provider block that uses this identity.
    pub fn provider_block(&self) -> String {
        format!(
            "provider \"giif\" {{\n  endpoint    = \"{}\"\n  ca_cert     = \"{}\"\n  client_cert = \"{}\"\n  client_key  = \"{}\"\n}}\n",
            self.endpoint,
            self.ca_cert.display(),
            self.client_cert.display(),
            self.client_key.display()
        )
    }

    /// The same as environment variables.
    pub fn env_lines(&self) -> String {
        format!(
            "export GIIF_ENDPOINT='{}'\nexport GIIF_CA_CERT='{}'\nexport GIIF_CLIENT_CERT='{}'\nexport GIIF_CLIENT_KEY='{}'\n",
            self.endpoint,
            self.ca_cert.display(),
            self.client_cert.display(),
            self.client_key.display()
        )
    }
}

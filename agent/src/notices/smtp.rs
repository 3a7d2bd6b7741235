//! Notices by e-mail, through the site's SMTP relay with lettre: STARTTLS
//! or TLS with rustls (the system's roots and an optional private CA), or
//! plain SMTP to a relay on loopback. One connection per notice: notices
//! are rare, and an idle pooled connection would only time out.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::config::{SmtpConfig, SmtpSecurity};
use super::notice::Notice;
use super::secret::{read_secret, SecretError};

const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("cannot read notices.smtp.ca_cert {path}: {source}")]
    CaFile {
        path: String,
        source: std::io::Error,
    },
    #[error("notices.smtp.ca_cert {path} is not a PEM certificate: {source}")]
    CaPem {
        path: String,
        source: lettre::transport::smtp::Error,
    },
    #[error("cannot set up TLS to the SMTP relay: {0}")]
    Tls(lettre::transport::smtp::Error),
    #[error("cannot build the e-mail: {0}")]
    Message(String),
    #[error("the SMTP relay {relay} did not take the e-mail: {source}")]
    Send {
        relay: String,
        source: lettre::transport::smtp::Error,
    },
}

pub struct SmtpSender {
    config: SmtpConfig,
}

impl SmtpSender {
    pub fn new(config: SmtpConfig) -> Self {
        Self { config }
    }

    pub async fn send(&self, notice: &Notice) -> Result<(), SmtpError> {
        let message = self.message(notice)?;
        let transport = self.transport()?;
        transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|source| SmtpError::Send {
                relay: format!("{}:{}", self.config.host, self.config.port()),
                source,
            })
    }

    fn message(&self, notice: &Notice) -> Result<Message, SmtpError> {
        let mailbox = |address: &str| {
            address
                .parse::<Mailbox>()
                .map_err(|e| SmtpError::Message(format!("{address:?}: {e}")))
        };
        let mut builder = Message::builder()
            .from(mailbox(&self.config.from)?)
            .subject(notice.subject());
        for to in &self.config.to {
            builder = builder.to(mailbox(to)?);
        }
        builder
            .header(ContentType::TEXT_PLAIN)
            .body(notice.body())
            .map_err(|e| SmtpError::Message(e.to_string()))
    }

    /// Built per notice so a rotated password or CA file is picked up.
    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, SmtpError> {
        let config = &self.config;
        let tls = match config.security {
            SmtpSecurity::None => Tls::None,
            SmtpSecurity::Starttls => Tls::Required(self.tls_parameters()?),
            SmtpSecurity::Tls => Tls::Wrapper(self.tls_parameters()?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            .port(config.port())
            .tls(tls)
            .timeout(Some(SMTP_TIMEOUT));
        let password = read_secret(
            "the SMTP password",
            config.password_file.as_deref(),
            config.password_env.as_deref(),
        )?;
        if let (Some(username), Some(password)) = (&config.username, password) {
            builder = builder.credentials(Credentials::new(username.clone(), password));
        }
        Ok(builder.build())
    }

    fn tls_parameters(&self) -> Result<TlsParameters, SmtpError> {
        let mut builder = TlsParameters::builder(self.config.host.clone());
        if let Some(path) = &self.config.ca_cert {
            let pem = std::fs::read(path).map_err(|source| SmtpError::CaFile {
                path: path.display().to_string(),
                source,
            })?;
            let ca = Certificate::from_pem(&pem).map_err(|source| SmtpError::CaPem {
                path: path.display().to_string(),
                source,
            })?;
            builder = builder.add_root_certificate(ca);
        }
        builder.build_rustls().map_err(SmtpError::Tls)
    }
}

//! The `[notices]` section of `agent.toml`: when to warn the operators of a
//! project's expiry, and how (e-mail, webhook, or both). Secrets are given
//! by reference (a file or an environment variable), never inline.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticesConfig {
    /// Warn this many days before `expires_on` (each a notice of its own),
    /// besides the notice on the day itself.
    #[serde(default = "default_days_before")]
    pub days_before: Vec<u32>,
    #[serde(default = "default_check_interval")]
    pub check_interval_seconds: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp: Option<SmtpConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookConfig>,
}

fn default_days_before() -> Vec<u32> {
    vec![7]
}

fn default_check_interval() -> u64 {
    3600
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain SMTP upgraded with STARTTLS, which is required (usually port 587).
    Starttls,
    /// TLS from the first byte (usually port 465).
    Tls,
    /// No encryption: only for a relay on the loopback interface.
    None,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    /// Default: 587 for STARTTLS, 465 for TLS, 25 without.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    pub security: SmtpSecurity,
    pub from: String,
    pub to: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// A PEM CA certificate that signed the relay's certificate, for a
    /// private CA; the system's roots are trusted as well.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<PathBuf>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_env: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum NoticesConfigError {
    #[error(
        "notices.days_before has {0}: give whole days of at least 1, e.g. days_before = [30, 7]"
    )]
    DaysBefore(&'static str),
    #[error("notices.check_interval_seconds is 0: give at least 1 (default 3600)")]
    CheckInterval,
    #[error("the [notices] section has no channel: add [notices.smtp], [notices.webhook] or both")]
    NoChannel,
    #[error("notices.smtp.{field}: {problem}")]
    Smtp {
        field: &'static str,
        problem: String,
    },
    #[error("notices.webhook.{field}: {problem}")]
    Webhook {
        field: &'static str,
        problem: String,
    },
}

impl NoticesConfig {
    /// Checks what serde cannot and makes relative paths relative to
    /// `base`, the directory of agent.toml.
    pub fn validate(&mut self, base: &Path) -> Result<(), NoticesConfigError> {
        if self.days_before.contains(&0) {
            return Err(NoticesConfigError::DaysBefore(
                "0 (the day of expiry has its own notice, \"expired\")",
            ));
        }
        self.days_before.sort_unstable();
        self.days_before.dedup();
        if self.check_interval_seconds == 0 {
            return Err(NoticesConfigError::CheckInterval);
        }
        if self.smtp.is_none() && self.webhook.is_none() {
            return Err(NoticesConfigError::NoChannel);
        }
        if let Some(smtp) = &mut self.smtp {
            smtp.validate(base)?;
        }
        if let Some(webhook) = &mut self.webhook {
            webhook.validate(base)?;
        }
        Ok(())
    }

    /// The farthest warning, in days: how far ahead `projects --expiring` looks.
    pub fn horizon_days(&self) -> u32 {
        self.days_before.iter().copied().max().unwrap_or(0)
    }
}

impl SmtpConfig {
    fn validate(&mut self, base: &Path) -> Result<(), NoticesConfigError> {
        let problem = |field, problem: &str| NoticesConfigError::Smtp {
            field,
            problem: problem.to_string(),
        };
        if self.host.trim().is_empty() {
            return Err(problem("host", "is empty: give the relay's host name"));
        }
        if self.security == SmtpSecurity::None && !is_loopback(&self.host) {
            return Err(NoticesConfigError::Smtp {
                field: "security",
                problem: format!(
                    "\"none\" sends mail and credentials in clear text, so it is only allowed \
                     for a relay on the loopback interface (localhost, 127.0.0.1, ::1), not {:?}: \
                     use \"starttls\" or \"tls\"",
                    self.host
                ),
            });
        }
        if self.to.is_empty() {
            return Err(problem(
                "to",
                "is empty: list the operators' addresses, e.g. to = [\"ops@example.org\"]",
            ));
        }
        check_mailbox("from", &self.from)?;
        for address in &self.to {
            check_mailbox("to", address)?;
        }
        match (&self.username, &self.password_file, &self.password_env) {
            (_, Some(_), Some(_)) => {
                return Err(problem(
                    "password_file",
                    "and password_env are both set: keep one",
                ))
            }
            (None, Some(_), _) | (None, _, Some(_)) => {
                return Err(problem(
                    "username",
                    "is missing: a password needs the user name it belongs to",
                ))
            }
            (Some(_), None, None) => return Err(problem(
                "password_file",
                "is missing: give the password by reference, as password_file = \"smtp-password\" \
                     or password_env = \"GIIF_SMTP_PASSWORD\"",
            )),
            _ => {}
        }
        for file in [&mut self.password_file, &mut self.ca_cert]
            .into_iter()
            .flatten()
        {
            if file.is_relative() {
                *file = base.join(&*file);
            }
        }
        Ok(())
    }

    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::None => 25,
        })
    }
}

impl WebhookConfig {
    fn validate(&mut self, base: &Path) -> Result<(), NoticesConfigError> {
        let url = reqwest::Url::parse(&self.url).map_err(|error| NoticesConfigError::Webhook {
            field: "url",
            problem: format!(
                "{:?} is not a URL ({error}): give e.g. \"https://hooks.example.org/giif\"",
                self.url
            ),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(NoticesConfigError::Webhook {
                field: "url",
                problem: format!("{:?} is neither http:// nor https://", self.url),
            });
        }
        if self.bearer_token_file.is_some() && self.bearer_token_env.is_some() {
            return Err(NoticesConfigError::Webhook {
                field: "bearer_token_file",
                problem: "and bearer_token_env are both set: keep one".into(),
            });
        }
        if let Some(file) = &mut self.bearer_token_file {
            if file.is_relative() {
                *file = base.join(&*file);
            }
        }
        Ok(())
    }
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn check_mailbox(field: &'static str, address: &str) -> Result<(), NoticesConfigError> {
    address
        .parse::<lettre::message::Mailbox>()
        .map(|_| ())
        .map_err(|error| NoticesConfigError::Smtp {
            field,
            problem: format!(
                "{address:?} is not an e-mail address ({error}): give e.g. \"ops@example.org\" \
                 or \"Giif <giif@example.org>\""
            ),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<NoticesConfig, String> {
        let mut config: NoticesConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        config
            .validate(Path::new("/etc/giif"))
            .map_err(|e| e.to_string())?;
        Ok(config)
    }

    const SMTP: &str = "[smtp]\nhost = \"mail.example.org\"\nsecurity = \"starttls\"\n\
                        from = \"giif@example.org\"\nto = [\"ops@example.org\"]\n";

    #[test]
    fn defaults_and_relative_paths() {
        let config = parse(&format!(
            "{SMTP}username = \"giif\"\npassword_file = \"smtp-password\"\n"
        ))
        .expect("valid");
        assert_eq!(config.days_before, [7]);
        assert_eq!(config.check_interval_seconds, 3600);
        let smtp = config.smtp.expect("smtp");
        assert_eq!(smtp.port(), 587);
        assert_eq!(
            smtp.password_file.as_deref(),
            Some(Path::new("/etc/giif/smtp-password"))
        );
    }

    #[test]
    fn plain_smtp_only_on_loopback() {
        let remote = parse(&SMTP.replace("starttls", "none")).expect_err("remote plain SMTP");
        assert!(remote.contains("notices.smtp.security"), "{remote}");
        assert!(remote.contains("loopback"), "{remote}");
        for host in ["localhost", "127.0.0.1", "::1", "[::1]"] {
            let text = SMTP
                .replace("starttls", "none")
                .replace("mail.example.org", host);
            parse(&text).expect("loopback plain SMTP");
        }
    }

    #[test]
    fn passwords_only_by_reference() {
        let inline = parse(&format!("{SMTP}username = \"giif\"\npassword = \"x\"\n"))
            .expect_err("inline password");
        assert!(inline.contains("password"), "{inline}");
        let missing = parse(&format!("{SMTP}username = \"giif\"\n")).expect_err("no password");
        assert!(missing.contains("password_env"), "{missing}");
    }

    #[test]
    fn bad_values_name_the_field() {
        let zero = parse(&format!("days_before = [0]\n{SMTP}")).expect_err("0 days");
        assert!(zero.contains("notices.days_before"), "{zero}");
        let none = parse("days_before = [7]\n").expect_err("no channel");
        assert!(none.contains("[notices.webhook]"), "{none}");
        let url = parse("[webhook]\nurl = \"hooks\"\n").expect_err("bad url");
        assert!(url.contains("notices.webhook.url"), "{url}");
        let to = parse(&SMTP.replace("ops@example.org", "ops")).expect_err("bad address");
        assert!(to.contains("notices.smtp.to"), "{to}");
    }
}

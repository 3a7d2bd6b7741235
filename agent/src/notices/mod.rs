//! Project expiry notices: on a project's `expires_on`, and a configured
//! number of days before, the operators get one e-mail and/or one webhook
//! call per event and channel. The store records each notice once sent,
//! so a restart neither repeats nor loses one. Nothing else happens to the
//! project.

mod channel;
pub mod checker;
pub mod config;
pub mod ledger;
pub mod listing;
mod notice;
pub mod schedule;
mod secret;
mod smtp;
mod webhook;

pub use checker::{today, CheckSummary, NoticesTask, Notifier};
pub use config::{NoticesConfig, NoticesConfigError, SmtpConfig, SmtpSecurity, WebhookConfig};
pub use notice::{Notice, NoticeProject};

#[derive(Debug, thiserror::Error)]
pub enum NoticeSetupError {
    #[error(transparent)]
    Webhook(#[from] webhook::WebhookError),
}

//! The configured channels, by the name the store records them under.

use super::config::NoticesConfig;
use super::notice::Notice;
use super::smtp::SmtpSender;
use super::webhook::WebhookSender;
use super::NoticeSetupError;

pub enum Channel {
    Smtp(SmtpSender),
    Webhook(WebhookSender),
}

impl Channel {
    pub fn from_config(config: &NoticesConfig) -> Result<Vec<Channel>, NoticeSetupError> {
        let mut channels = Vec::new();
        if let Some(smtp) = &config.smtp {
            channels.push(Channel::Smtp(SmtpSender::new(smtp.clone())));
        }
        if let Some(webhook) = &config.webhook {
            channels.push(Channel::Webhook(WebhookSender::new(webhook.clone())?));
        }
        Ok(channels)
    }

    pub fn name(&self) -> &'static str {
        match self {
            Channel::Smtp(_) => "smtp",
            Channel::Webhook(_) => "webhook",
        }
    }

    /// The error's text never holds a secret.
    pub async fn send(&self, notice: &Notice) -> Result<(), String> {
        match self {
            Channel::Smtp(smtp) => smtp.send(notice).await.map_err(|e| e.to_string()),
            Channel::Webhook(webhook) => webhook.send(notice).await.map_err(|e| e.to_string()),
        }
    }
}

//! One notice to the operators: what the channels send.

use serde::Serialize;

use super::schedule::NoticeEvent;

#[derive(Clone, Debug)]
pub struct Notice {
    pub event: NoticeEvent,
    pub project: NoticeProject,
    /// Whole days until `expires_on`: zero or negative once expired.
    pub days_left: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct NoticeProject {
    pub id: String,
    pub name: String,
    pub owner: Option<String>,
    pub expires_on: String,
}

/// The webhook's JSON body.
#[derive(Serialize)]
pub struct WebhookBody<'a> {
    pub event: String,
    pub project: &'a NoticeProject,
    pub days_left: i64,
}

impl Notice {
    pub fn webhook_body(&self) -> WebhookBody<'_> {
        WebhookBody {
            event: self.event.key(),
            project: &self.project,
            days_left: self.days_left,
        }
    }

    pub fn subject(&self) -> String {
        let project = &self.project;
        match self.event {
            NoticeEvent::Expired => format!(
                "giif: project {} expired on {}",
                project.name, project.expires_on
            ),
            NoticeEvent::ExpiresIn { .. } => format!(
                "giif: project {} expires on {} (in {} days)",
                project.name, project.expires_on, self.days_left
            ),
        }
    }

    pub fn body(&self) -> String {
        let project = &self.project;
        let when = match self.event {
            NoticeEvent::Expired => format!("expired on {}", project.expires_on),
            NoticeEvent::ExpiresIn { .. } => format!(
                "expires on {}, in {} days",
                project.expires_on, self.days_left
            ),
        };
        format!(
            "The project {name} ({id}), owner {owner}, {when}.\n\n\
             The agent does nothing to the project on expiry: extend its expires_on, \
             or destroy it, as your site's policy says.\n\n\
             Notice: {event}. `giif-agent projects --expiring` lists the projects \
             near or past their expiry.\n",
            name = project.name,
            id = project.id,
            owner = project.owner.as_deref().unwrap_or("(none)"),
            event = self.event.key(),
        )
    }
}

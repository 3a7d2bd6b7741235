//! What `giif-agent projects` shows: projects with an expiry date, how
//! far off it is, and the notices recorded for it.

use time::{Date, Duration};

use super::checker::CheckError;
use super::ledger::{self, NoticeRecord};
use super::notice::NoticeProject;
use super::schedule::{days_left, parse_date};
use crate::store::Store;

pub struct ExpiringProject {
    pub project: NoticeProject,
    pub days_left: i64,
    /// The notices for its current expiry date.
    pub notices: Vec<NoticeRecord>,
}

/// Projects expiring on or before `today + within_days` (expired ones
/// included), soonest first; every project with an expiry date if `None`.
pub async fn expiring_projects(
    store: &Store,
    today: Date,
    within_days: Option<u32>,
) -> Result<Vec<ExpiringProject>, CheckError> {
    let horizon = within_days.map(|days| today + Duration::days(i64::from(days)));
    let records = ledger::all_records(store).await?;
    let mut listed = Vec::new();
    for project in store.list_projects().await? {
        let Some(spec) = project.spec else { continue };
        let Some(expires_text) = spec.expires_on.filter(|s| !s.is_empty()) else {
            continue;
        };
        let Some(expires_on) = parse_date(&expires_text) else {
            continue;
        };
        if horizon.is_some_and(|horizon| expires_on > horizon) {
            continue;
        }
        let notices = records
            .iter()
            .filter(|r| r.project_id == project.id && r.expires_on == expires_text)
            .cloned()
            .collect();
        listed.push(ExpiringProject {
            project: NoticeProject {
                id: project.id,
                name: spec.name,
                owner: spec.owner.filter(|o| !o.is_empty()),
                expires_on: expires_text,
            },
            days_left: days_left(expires_on, today),
            notices,
        });
    }
    listed.sort_by(|a, b| {
        (&a.project.expires_on, &a.project.name).cmp(&(&b.project.expires_on, &b.project.name))
    });
    Ok(listed)
}

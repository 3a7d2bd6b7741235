//! The store's record of the notices sent (or superseded), table
//! `expiry_notices` (migration 0012). Written only after a channel accepted
//! a notice, so a failed notice is tried again at the next check.

use std::collections::HashSet;

use crate::store::{now_rfc3339, Store};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    Superseded,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::Superseded => "superseded",
        }
    }
}

/// One recorded notice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticeRecord {
    pub project_id: String,
    pub event: String,
    pub expires_on: String,
    pub channel: String,
    /// `sent` or `superseded`.
    pub outcome: String,
    pub recorded_at: String,
}

/// What is recorded for one project and expiry date: (event, channel).
pub type Recorded = HashSet<(String, String)>;

/// The notices recorded for `project_id` and its current `expires_on`.
pub async fn recorded(
    store: &Store,
    project_id: &str,
    expires_on: &str,
) -> Result<Recorded, sqlx::Error> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT event, channel FROM expiry_notices WHERE project_id = $1 AND expires_on = $2",
    )
    .bind(project_id)
    .bind(expires_on)
    .fetch_all(store.pool())
    .await?;
    Ok(rows.into_iter().collect())
}

/// Records a notice; recording it again changes nothing.
pub async fn record(
    store: &Store,
    project_id: &str,
    event: &str,
    expires_on: &str,
    channel: &str,
    outcome: Outcome,
) -> Result<(), sqlx::Error> {
    let mut tx = store.begin_write().await?;
    sqlx::query(
        "INSERT INTO expiry_notices (project_id, event, expires_on, channel, outcome, recorded_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (project_id, event, expires_on, channel) DO NOTHING",
    )
    .bind(project_id)
    .bind(event)
    .bind(expires_on)
    .bind(channel)
    .bind(outcome.as_str())
    .bind(now_rfc3339())
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Every recorded notice, oldest first.
pub async fn all_records(store: &Store) -> Result<Vec<NoticeRecord>, sqlx::Error> {
    let rows: Vec<(String, String, String, String, String, String)> = sqlx::query_as(
        "SELECT project_id, event, expires_on, channel, outcome, recorded_at \
         FROM expiry_notices ORDER BY recorded_at, project_id, channel",
    )
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(project_id, event, expires_on, channel, outcome, recorded_at)| NoticeRecord {
                project_id,
                event,
                expires_on,
                channel,
                outcome,
                recorded_at,
            },
        )
        .collect())
}

/// Forgets the notices of projects that no longer exist.
pub async fn prune_deleted_projects(store: &Store) -> Result<u64, sqlx::Error> {
    let mut tx = store.begin_write().await?;
    let done =
        sqlx::query("DELETE FROM expiry_notices WHERE project_id NOT IN (SELECT id FROM projects)")
            .execute(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}

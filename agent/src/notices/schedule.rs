//! Which notices are due for a project on a given day.
//!
//! Each `days_before` count N is an event, `expires_in_N_days`, due from
//! `expires_on - N` on; `expired` is due from `expires_on` on. Only the most
//! relevant due event is sent (the latest: `expired`, else the smallest N);
//! earlier events still unsent are superseded, so a project first seen
//! already expired gets one "expired" notice, not a late "7 days before".

use time::{Date, Duration};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NoticeEvent {
    ExpiresIn { days: u32 },
    Expired,
}

impl NoticeEvent {
    /// The event's name, as stored and as the webhook's `event` field.
    pub fn key(self) -> String {
        match self {
            NoticeEvent::ExpiresIn { days } => format!("expires_in_{days}_days"),
            NoticeEvent::Expired => "expired".to_string(),
        }
    }
}

/// The notices due today for one expiry date.
#[derive(Debug, PartialEq, Eq)]
pub struct DueNotices {
    /// The one to send.
    pub current: NoticeEvent,
    /// Due earlier events that are no longer worth sending.
    pub superseded: Vec<NoticeEvent>,
}

/// `None` when nothing is due yet. `days_before` need not be sorted.
pub fn due_notices(expires_on: Date, today: Date, days_before: &[u32]) -> Option<DueNotices> {
    let mut due: Vec<NoticeEvent> = days_before
        .iter()
        .filter(|&&days| today >= expires_on - Duration::days(i64::from(days)))
        .map(|&days| NoticeEvent::ExpiresIn { days })
        .collect();
    if today >= expires_on {
        due.push(NoticeEvent::Expired);
    }
    // Most relevant first: expired, then the fewest days before.
    due.sort_by_key(|event| match event {
        NoticeEvent::Expired => (0, 0),
        NoticeEvent::ExpiresIn { days } => (1, *days),
    });
    due.dedup();
    let mut events = due.into_iter();
    let current = events.next()?;
    Some(DueNotices {
        current,
        superseded: events.collect(),
    })
}

/// Whole days from `today` to `expires_on`: negative once expired.
pub fn days_left(expires_on: Date, today: Date) -> i64 {
    (expires_on - today).whole_days()
}

/// Parses `expires_on` as the API stores it, `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Option<Date> {
    Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const EXPIRES: Date = date!(2026 - 06 - 30);

    #[test]
    fn nothing_before_the_first_warning() {
        assert_eq!(due_notices(EXPIRES, date!(2026 - 05 - 30), &[7, 30]), None);
    }

    #[test]
    fn warnings_in_turn_then_expired() {
        let on = |today| due_notices(EXPIRES, today, &[30, 7]).map(|due| due.current);
        assert_eq!(
            on(date!(2026 - 05 - 31)),
            Some(NoticeEvent::ExpiresIn { days: 30 })
        );
        assert_eq!(
            on(date!(2026 - 06 - 23)),
            Some(NoticeEvent::ExpiresIn { days: 7 })
        );
        assert_eq!(on(EXPIRES), Some(NoticeEvent::Expired));
        assert_eq!(on(date!(2027 - 01 - 01)), Some(NoticeEvent::Expired));
    }

    #[test]
    fn an_expired_project_supersedes_the_warnings() {
        let due = due_notices(EXPIRES, date!(2026 - 07 - 02), &[7, 30]).expect("due");
        assert_eq!(due.current, NoticeEvent::Expired);
        assert_eq!(
            due.superseded,
            [
                NoticeEvent::ExpiresIn { days: 7 },
                NoticeEvent::ExpiresIn { days: 30 }
            ]
        );
        assert_eq!(days_left(EXPIRES, date!(2026 - 07 - 02)), -2);
        assert_eq!(
            NoticeEvent::ExpiresIn { days: 7 }.key(),
            "expires_in_7_days"
        );
    }

    #[test]
    fn dates_parse_as_stored() {
        assert_eq!(parse_date("2026-06-30"), Some(EXPIRES));
        assert_eq!(parse_date("30/06/2026"), None);
    }
}

-- Project expiry notices to the operators, one row per project, event
-- (expires_in_7_days, expired, ...), expiry date and channel (smtp,
-- webhook). A row is written only once the channel accepted the notice
-- (outcome 'sent') or a later event made it pointless ('superseded'): a
-- restart neither repeats nor loses a notice, a changed expiry date gets
-- notices of its own, and one channel's outage does not resend the other.
-- No foreign key: notices of a deleted project are pruned by the checker.
CREATE TABLE expiry_notices (
    project_id TEXT NOT NULL,
    event TEXT NOT NULL,
    expires_on TEXT NOT NULL,
    channel TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('sent', 'superseded')),
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (project_id, event, expires_on, channel)
);

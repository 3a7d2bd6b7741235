//! What a racadm error means: a busy or unavailable iDRAC will answer later
//! (transient); a bad request fails the same way every time (permanent);
//! an unknown job does not exist (not found).

use crate::drivers::error::ErrorClass;

/// Phrases of errors that go away by themselves, lower case.
const TRANSIENT: [&str; 10] = [
    "busy",
    "retry the operation",
    "try again",
    "temporarily unavailable",
    "timed out",
    "timeout",
    "unable to connect",
    "currently in use",
    "not ready",
    "rac0508", // "An unexpected error occurred. Wait for few minutes and retry"
];

pub(super) fn classify(device_text: &str) -> ErrorClass {
    let lower = device_text.to_ascii_lowercase();
    if lower.contains("invalid job id") {
        ErrorClass::NotFound
    } else if TRANSIENT.iter().any(|p| lower.contains(p)) {
        ErrorClass::Transient
    } else {
        ErrorClass::Permanent
    }
}

/// The device's own words, on one line: from the first `ERROR:` on, or all
/// of it when there is no such line.
pub(super) fn device_message(text: &str) -> String {
    let start = text.find("ERROR:").unwrap_or(0);
    text[start..]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether a failed power action failed only because the server already is
/// where the action would take it (`ERROR: Server is already powered ON.`).
pub(super) fn already_powered(device_text: &str, on: bool) -> bool {
    let lower = device_text.to_ascii_lowercase();
    lower.contains(if on {
        "already powered on"
    } else {
        "already powered off"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_is_transient_and_bad_input_is_permanent() {
        assert_eq!(
            classify("ERROR: Unable to complete the operation because the iDRAC is busy processing other requests."),
            ErrorClass::Transient
        );
        assert_eq!(
            classify("ERROR: Invalid object value specified."),
            ErrorClass::Permanent
        );
        assert_eq!(
            classify("ERROR: Invalid Job ID specified: JID_1"),
            ErrorClass::NotFound
        );
    }

    #[test]
    fn device_message_starts_at_error() {
        assert_eq!(
            device_message("noise\nERROR: Bad thing.\n  More.\n"),
            "ERROR: Bad thing. More."
        );
        assert_eq!(device_message(" odd answer \n"), "odd answer");
        assert!(already_powered(
            "ERROR: Server is already powered ON.",
            true
        ));
        assert!(!already_powered(
            "ERROR: Server is already powered ON.",
            false
        ));
    }
}

//! What a Proxmox VE failure means for the caller. PVE answers nearly every
//! failure with HTTP 500 and a message, so the message decides: a missing
//! VM config is `NotFound`; lock timeouts and busy daemons are `Transient`;
//! everything else is `Permanent`. Proxy answers (HTTP 502-504, 595, 596)
//! are `Transient`.

use crate::drivers::error::ErrorClass;

/// Words PVE uses when the VM's config file is not there.
fn is_not_found(message: &str) -> bool {
    let config_missing = message.contains("Configuration file 'nodes/")
        && message.contains("/qemu-server/")
        && message.contains("does not exist");
    let vm_word = message
        .split_once("VM ")
        .map(|(_, rest)| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            !digits.is_empty() && rest[digits.len()..].starts_with(" does not exist")
        })
        .unwrap_or(false);
    config_missing || vm_word || message.contains("unable to find configuration file for VM")
}

/// Words PVE uses when something else holds a lock, or a daemon is busy.
fn is_transient(message: &str) -> bool {
    [
        "got timeout",
        "got lock request timeout",
        "can't lock file",
        "cfs-lock",
        "is locked (",
        "Connection timed out",
        "Connection refused",
        "temporarily unavailable",
        "try again later",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

/// An HTTP answer that was not a success.
pub fn http_status(status: u16, message: &str) -> ErrorClass {
    match status {
        500 => message_class(message),
        502..=504 | 595 | 596 | 599 => ErrorClass::Transient,
        _ => ErrorClass::Permanent,
    }
}

/// A message from a failed call or a task's exit status.
pub fn message_class(message: &str) -> ErrorClass {
    if is_not_found(message) {
        ErrorClass::NotFound
    } else if is_transient(message) {
        ErrorClass::Transient
    } else {
        ErrorClass::Permanent
    }
}

/// A task's exit status: `OK` and `WARNINGS: n` are success.
pub fn task_succeeded(exitstatus: &str) -> bool {
    exitstatus == "OK" || exitstatus.starts_with("WARNINGS: ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_vms_are_not_found() {
        for message in [
            "Configuration file 'nodes/pve1/qemu-server/101.conf' does not exist\n",
            "unable to find configuration file for VM 101 on node 'pve1'",
            "VM 123 does not exist",
        ] {
            assert_eq!(http_status(500, message), ErrorClass::NotFound, "{message}");
        }
        // Other things that "do not exist" are not the VM being gone.
        assert_eq!(
            http_status(500, "bridge 'vmbr9' does not exist"),
            ErrorClass::Permanent
        );
        assert_eq!(
            http_status(500, "storage 'nfs' does not exist"),
            ErrorClass::Permanent
        );
    }

    #[test]
    fn locks_and_busy_daemons_are_transient() {
        for message in [
            "can't lock file '/var/lock/qemu-server/lock-101.conf' - got timeout",
            "VM is locked (clone)",
            "cfs-lock 'file-replication_cfg' error: got lock request timeout",
        ] {
            assert_eq!(
                http_status(500, message),
                ErrorClass::Transient,
                "{message}"
            );
        }
        assert_eq!(
            http_status(596, "Connection timed out"),
            ErrorClass::Transient
        );
        assert_eq!(http_status(503, ""), ErrorClass::Transient);
    }

    #[test]
    fn everything_else_is_permanent() {
        assert_eq!(
            http_status(400, "Parameter verification failed."),
            ErrorClass::Permanent
        );
        assert_eq!(
            http_status(401, "Authentication failed!"),
            ErrorClass::Permanent
        );
        assert_eq!(
            http_status(403, "Permission check failed"),
            ErrorClass::Permanent
        );
        assert_eq!(
            http_status(500, "VM 101 is running - destroy failed"),
            ErrorClass::Permanent
        );
        assert_eq!(
            http_status(501, "Method not implemented"),
            ErrorClass::Permanent
        );
    }

    #[test]
    fn task_exit_statuses() {
        assert!(task_succeeded("OK"));
        assert!(task_succeeded("WARNINGS: 2"));
        assert!(!task_succeeded("clone failed: no space left on device"));
    }
}

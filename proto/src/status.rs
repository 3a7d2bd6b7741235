//! The `status` the agent reports for a gateway, a VM or a server
//! assignment (and, for a project, its console): what the agent stores and
//! what a live read finds, named once for both sides of the wire.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Recorded with its VM id or slot; its operation has not run yet.
    Allocated,
    /// A server taken for a project; its operation has not run yet.
    Claimed,
    /// The operation is bringing the object up.
    Creating,
    /// The operation is bringing a server assignment to its spec.
    Converging,
    Ready,
    /// The operation stopped with an error (in `last_error`).
    Failed,
    Deleting,
    /// A server assignment being released.
    Releasing,
    /// A live read: the object's VM is gone from Proxmox.
    VmMissing,
    /// A live read: the gateway answers but has no configuration.
    Unconfigured,
    /// A live read: the device did not answer.
    Unreachable,
    /// The object works; its console was deleted or changed in Guacamole
    /// and the next apply puts it back.
    ConsoleDrift,
    /// The server works, but its BMC offers no console (why is in
    /// `last_error`): it has no Guacamole connection.
    ConsoleUnavailable,
}

impl Status {
    pub const ALL: &'static [Status] = &[
        Status::Allocated,
        Status::Claimed,
        Status::Creating,
        Status::Converging,
        Status::Ready,
        Status::Failed,
        Status::Deleting,
        Status::Releasing,
        Status::VmMissing,
        Status::Unconfigured,
        Status::Unreachable,
        Status::ConsoleDrift,
        Status::ConsoleUnavailable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Allocated => "allocated",
            Status::Claimed => "claimed",
            Status::Creating => "creating",
            Status::Converging => "converging",
            Status::Ready => "ready",
            Status::Failed => "failed",
            Status::Deleting => "deleting",
            Status::Releasing => "releasing",
            Status::VmMissing => "vm_missing",
            Status::Unconfigured => "unconfigured",
            Status::Unreachable => "unreachable",
            Status::ConsoleDrift => "console_drift",
            Status::ConsoleUnavailable => "console_unavailable",
        }
    }

    /// The status named `text`, if it is one.
    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.iter().copied().find(|s| s.as_str() == text)
    }

    /// Whether the object is up (its console may still need repair).
    pub fn is_up(self) -> bool {
        matches!(
            self,
            Status::Ready | Status::ConsoleDrift | Status::ConsoleUnavailable
        )
    }

    /// Whether `text` names this status.
    pub fn is(self, text: &str) -> bool {
        self.as_str() == text
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Status> for String {
    fn from(status: Status) -> String {
        status.as_str().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::Status;

    #[test]
    fn every_status_reads_back_as_itself() {
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Some(*status));
        }
        assert_eq!(Status::parse("bogus"), None);
    }
}

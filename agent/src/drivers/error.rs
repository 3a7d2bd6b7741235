//! Driver errors, classified by what a caller may do next.

/// What a failure means for the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Did not happen and may succeed later (busy, unreachable, timed out
    /// before sending): retry with backoff.
    Transient,
    /// Will fail again the same way (bad argument, refused): do not retry.
    Permanent,
    /// The device may or may not have done it (connection lost after the
    /// command went out): re-read the state before deciding.
    MaybeApplied,
    /// The object does not exist on the device.
    NotFound,
    /// The device does not offer this at all (a BMC without a VNC server,
    /// without drive erasure): do not retry, do without or say so.
    Unsupported,
}

/// A driver failure: which device, which action, what the device said.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{target}: {action}: {message}")]
pub struct DriverError {
    pub class: ErrorClass,
    /// The device, such as `idrac:bms01` or `pve:pve1`.
    pub target: String,
    /// The action, such as `power on` or `POST /nodes/pve1/qemu`.
    pub action: String,
    /// What went wrong, in the device's own words where it gave any.
    pub message: String,
}

impl DriverError {
    pub fn new(
        class: ErrorClass,
        target: impl Into<String>,
        action: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            class,
            target: target.into(),
            action: action.into(),
            message: message.into(),
        }
    }
    pub fn transient(
        target: impl Into<String>,
        action: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(ErrorClass::Transient, target, action, message)
    }
    pub fn permanent(
        target: impl Into<String>,
        action: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(ErrorClass::Permanent, target, action, message)
    }
    pub fn maybe_applied(
        target: impl Into<String>,
        action: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(ErrorClass::MaybeApplied, target, action, message)
    }
    pub fn not_found(
        target: impl Into<String>,
        action: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(ErrorClass::NotFound, target, action, message)
    }
    pub fn unsupported(
        target: impl Into<String>,
        action: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(ErrorClass::Unsupported, target, action, message)
    }
    pub fn is_transient(&self) -> bool {
        self.class == ErrorClass::Transient
    }
}

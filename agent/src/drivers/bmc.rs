//! The BMC capability: what the agent needs from a server's management
//! controller (power, virtual media, the VNC console, system facts, a reset
//! of the controller itself, and configuration export/import jobs), in
//! backend-neutral terms. Implemented for Dell iDRACs in `drivers::idrac`
//! and for Redfish services in `drivers::redfish`. A BMC that lacks a part
//! (a VNC server, drive erasure) answers `ErrorClass::Unsupported`.

use async_trait::async_trait;

use super::error::DriverError;
use crate::credentials::Secret;

/// The server's power, as the BMC reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PowerState {
    On,
    Off,
}

/// A power action. `On` and `Off` are desired states: asking for the state
/// the server is already in succeeds without doing anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PowerAction {
    On,
    /// Cut the power at once.
    Off,
    /// Ask the operating system to shut down (ACPI).
    GracefulShutdown,
    /// Off, then on again.
    Cycle,
    /// Reset without cutting the power.
    HardReset,
}

impl PowerAction {
    /// How logs, metrics and errors name the action.
    pub fn name(self) -> &'static str {
        match self {
            PowerAction::On => "power on",
            PowerAction::Off => "power off",
            PowerAction::GracefulShutdown => "graceful shutdown",
            PowerAction::Cycle => "power cycle",
            PowerAction::HardReset => "hard reset",
        }
    }

    /// The power state the action ends in.
    pub fn target(self) -> PowerState {
        match self {
            PowerAction::Off | PowerAction::GracefulShutdown => PowerState::Off,
            PowerAction::On | PowerAction::Cycle | PowerAction::HardReset => PowerState::On,
        }
    }
}

/// Where a virtual-media image comes from: `//host/share/file.iso` (CIFS),
/// `host:/path/file.iso` (NFS) or an `http(s)://` URL, with the share's
/// credentials if it needs any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaSource {
    pub image: String,
    pub user: Option<String>,
    pub password: Option<Secret>,
}

/// What the server's virtual CD holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaStatus {
    /// The attached image, as it was given; `None` when nothing is attached.
    pub image: Option<String>,
}

/// The BMC's VNC server. The password is write-only: reads return `None`;
/// a write with `None` leaves it unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VncSettings {
    pub enabled: bool,
    pub port: u16,
    /// Idle sessions end after this many seconds.
    pub timeout_secs: u32,
    pub password: Option<Secret>,
}

/// Facts about the server and its BMC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SystemInfo {
    pub model: String,
    pub service_tag: String,
    pub bios_version: String,
    pub bmc_firmware: String,
    /// The BMC's own MAC address, lower case.
    pub bmc_mac: String,
    pub power: PowerState,
    /// The server's embedded NIC MAC addresses, lower case, in port order.
    pub nic_macs: Vec<String>,
}

/// A configuration profile file: its name, and the network share it lives
/// on (with credentials), or `None` for the BMC's local storage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileLocation {
    pub file: String,
    pub share: Option<MediaSource>,
}

/// A BMC job, such as `JID_123456789012` on an iDRAC.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct JobId(pub String);

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobState {
    Scheduled,
    Running,
    Completed,
    Failed,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobStatus {
    pub id: JobId,
    pub name: String,
    pub state: JobState,
    pub percent: Option<u8>,
    /// The BMC's message id (such as `SYS043`) and text.
    pub message_id: Option<String>,
    pub message: String,
}

#[async_trait]
pub trait Bmc: Send + Sync {
    /// The device, as logs and errors name it (such as `idrac:bms01`).
    fn target(&self) -> &str;

    async fn power_state(&self) -> Result<PowerState, DriverError>;
    async fn power(&self, action: PowerAction) -> Result<(), DriverError>;

    async fn media_status(&self) -> Result<MediaStatus, DriverError>;
    /// Attaches `source` (replacing another image if one is attached).
    async fn attach_media(&self, source: &MediaSource) -> Result<(), DriverError>;
    /// Detaches the image; succeeds when none is attached.
    async fn detach_media(&self) -> Result<(), DriverError>;
    /// Makes the next boot, and only the next, start from the virtual CD.
    async fn boot_once_from_media(&self) -> Result<(), DriverError>;

    async fn console_settings(&self) -> Result<VncSettings, DriverError>;
    async fn set_console_settings(&self, settings: &VncSettings) -> Result<(), DriverError>;

    async fn system_info(&self) -> Result<SystemInfo, DriverError>;

    /// Restarts the BMC itself (not the server); it is unreachable for a while.
    async fn reset_bmc(&self) -> Result<(), DriverError>;

    async fn export_profile(&self, to: &ProfileLocation) -> Result<JobId, DriverError>;
    async fn import_profile(&self, from: &ProfileLocation) -> Result<JobId, DriverError>;
    async fn job_status(&self, job: &JobId) -> Result<JobStatus, DriverError>;

    /// Erases every disk of the server for good (cryptographic erase where
    /// the drives can, else overwrite), and returns when it is done. The
    /// server is powered off or restarted by the BMC as the erase needs.
    async fn erase_disks(&self) -> Result<(), DriverError>;
}

//! Drivers: one capability trait per kind of device, one implementation per
//! backend. The agent's logic sees only the traits.
//!
//! - [`bmc`]: power, virtual media and console settings of a server's BMC;
//!   implemented for Dell iDRACs over SSH (`racadm`) in [`idrac`], and for
//!   any BMC that speaks DMTF Redfish in [`redfish`].
//! - [`hypervisor`]: VM lifecycle and NIC hot-plug; implemented for Proxmox
//!   VE's REST API in [`proxmox`].
//! - [`gateway`]: a project gateway's whole configuration, rendered and
//!   applied idempotently; implemented for PAGW guests over SSH in [`pagw`].
//!
//! Every driver classifies its errors ([`DriverError`]), retries only the
//! transient ones ([`retry`]) and logs each action with its target, duration
//! and outcome ([`observe`]), never a secret.

pub mod bmc;
pub mod console;
pub mod error;
pub mod gateway;
pub mod guacamole;
pub mod host_keys;
pub mod https;
pub mod hypervisor;
pub mod idrac;
pub mod observe;
pub mod pagw;
pub mod proxmox;
pub mod redfish;
pub mod retry;

pub use error::{DriverError, ErrorClass};

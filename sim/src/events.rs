//! What one simulated device tells the others: the Proxmox cluster announces
//! VM lifecycle changes, and the PAGW fleet brings a gateway's SSH endpoint
//! up when a VM cloned from the PAGW template starts.

use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub enum VmEvent {
    Started {
        node: String,
        vmid: u32,
        /// The template this VM was cloned from, if any.
        template: Option<u32>,
        /// The VM's configuration (`netN`, `ipconfigN`, ...), as PVE shows it.
        config: BTreeMap<String, String>,
    },
    /// Devices were plugged into or out of a running VM (a NIC hot-plug);
    /// `config` is the VM's whole configuration afterwards.
    Reconfigured {
        vmid: u32,
        config: BTreeMap<String, String>,
    },
    Stopped {
        vmid: u32,
    },
    Deleted {
        vmid: u32,
    },
}

pub type VmEvents = tokio::sync::broadcast::Sender<VmEvent>;

pub fn channel() -> VmEvents {
    tokio::sync::broadcast::channel(1024).0
}

//! The hypervisor capability: VM lifecycle and NIC hot-plug, in terms that
//! do not depend on the backend. [`super::proxmox`] implements it for
//! Proxmox VE.
//!
//! Every method returns a classified [`DriverError`]: `NotFound` when the
//! VM is gone, `MaybeApplied` when a change may or may not have happened
//! (re-read with [`Hypervisor::read_vm`] before deciding), `Transient`
//! only after the driver's own retries ran out.

use crate::credentials::Secret;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;

use super::error::DriverError;

/// A VM: the node (hypervisor host) it lives on and its cluster-wide id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VmRef {
    pub node: String,
    pub vmid: u32,
}

impl VmRef {
    pub fn new(node: impl Into<String>, vmid: u32) -> Self {
        Self {
            node: node.into(),
            vmid,
        }
    }
}

impl fmt::Display for VmRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.node, self.vmid)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PowerState {
    Running,
    Stopped,
    Paused,
    /// Whatever else the backend reports.
    Other(String),
}

/// A MAC address; prints as `BC:24:11:AA:BB:CC`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacAddr(pub [u8; 6]);

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a MAC address: {0:?}")]
pub struct BadMac(pub String);

impl FromStr for MacAddr {
    type Err = BadMac;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0u8; 6];
        let mut parts = text.split([':', '-']);
        for byte in &mut bytes {
            let part = parts
                .next()
                .filter(|p| p.len() == 2)
                .ok_or_else(|| BadMac(text.to_string()))?;
            *byte = u8::from_str_radix(part, 16).map_err(|_| BadMac(text.to_string()))?;
        }
        if parts.next().is_some() {
            return Err(BadMac(text.to_string()));
        }
        Ok(Self(bytes))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NicModel {
    Virtio,
    E1000,
    E1000e,
    Vmxnet3,
    Rtl8139,
    /// A model this enum does not name, kept as the backend spells it.
    Other(String),
}

impl NicModel {
    pub fn as_str(&self) -> &str {
        match self {
            NicModel::Virtio => "virtio",
            NicModel::E1000 => "e1000",
            NicModel::E1000e => "e1000e",
            NicModel::Vmxnet3 => "vmxnet3",
            NicModel::Rtl8139 => "rtl8139",
            NicModel::Other(name) => name,
        }
    }

    pub fn parse(name: &str) -> Self {
        match name {
            "virtio" => NicModel::Virtio,
            "e1000" => NicModel::E1000,
            "e1000e" => NicModel::E1000e,
            "vmxnet3" => NicModel::Vmxnet3,
            "rtl8139" => NicModel::Rtl8139,
            other => NicModel::Other(other.to_string()),
        }
    }
}

/// A virtual NIC: on `bridge`, tagged with `vlan` when set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nic {
    pub model: NicModel,
    /// `None` lets the hypervisor choose one (creating), or keeps the
    /// current one (changing an existing NIC).
    pub mac: Option<MacAddr>,
    pub bridge: String,
    pub vlan: Option<u16>,
    pub firewall: bool,
}

impl Nic {
    pub fn virtio(bridge: impl Into<String>, vlan: Option<u16>) -> Self {
        Self {
            model: NicModel::Virtio,
            mac: None,
            bridge: bridge.into(),
            vlan,
            firewall: false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IpConfig {
    Dhcp,
    /// `address` in CIDR form (`192.168.212.130/24`).
    Static {
        address: String,
        gateway: Option<String>,
    },
}

/// What cloud-init gives the guest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CloudInit {
    pub user: Option<String>,
    pub ssh_keys: Vec<String>,
    /// Per NIC slot.
    pub ip: BTreeMap<u32, IpConfig>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disk {
    /// The volume, such as `local-lvm:vm-101-disk-0`.
    pub volume: String,
    pub size_bytes: u64,
}

impl Disk {
    pub fn size_gb(&self) -> u64 {
        self.size_bytes.div_ceil(1 << 30)
    }
}

/// A VM as the hypervisor reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmState {
    pub vm: VmRef,
    pub name: String,
    pub power: PowerState,
    pub template: bool,
    /// A backend lock on the VM (`clone`, `backup`, ...), if any.
    pub lock: Option<String>,
    pub cores: u32,
    pub sockets: u32,
    pub memory_mb: u64,
    /// Disks by slot (`scsi0`, ...), CD-ROMs excluded.
    pub disks: BTreeMap<String, Disk>,
    /// NICs by slot number (`net1` is slot 1).
    pub nics: BTreeMap<u32, Nic>,
    pub cloud_init: CloudInit,
    pub uptime: Duration,
    /// Where QEMU serves the console over VNC, when it is configured.
    pub vnc: Option<VncListen>,
    /// An opaque revision of the configuration; pass it back in
    /// [`VmUpdate::if_revision`] to refuse a change made on a stale read.
    pub revision: String,
    /// The VM's notes; giif's ownership mark is a line of it
    /// ([`crate::ownership`]).
    pub description: String,
}

/// One line of a node's VM list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmSummary {
    pub vm: VmRef,
    pub name: String,
    pub power: PowerState,
    pub template: bool,
}

/// A VM built from nothing (no template).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmSpec {
    pub name: String,
    pub cores: u32,
    pub memory_mb: u64,
    /// The boot disk: storage and size.
    pub disk: Option<(String, u64)>,
    /// An installer ISO volume (`local:iso/debian.iso`) on a CD-ROM.
    pub iso: Option<String>,
    pub nics: BTreeMap<u32, Nic>,
    /// Cloud-init settings and the storage for their drive.
    pub cloud_init: Option<(String, CloudInit)>,
    /// The VM's notes, set in the create call (giif's ownership mark).
    pub description: Option<String>,
}

/// A VM copied from a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloneSpec {
    pub vmid: u32,
    pub name: String,
    /// Another node to put the copy on.
    pub target_node: Option<String>,
    /// Where the copy's disks go (full clones only).
    pub storage: Option<String>,
    /// A full copy, rather than one sharing the template's disks.
    pub full: bool,
    /// The copy's notes, set in the clone call (giif's ownership mark).
    pub description: Option<String>,
}

/// Changes to a cloud-init setup; `None` leaves a part alone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CloudInitUpdate {
    pub user: Option<String>,
    /// Replaces all keys; an empty list removes them.
    pub ssh_keys: Option<Vec<String>>,
    /// Per NIC slot: set, or remove with `None`.
    pub ip: BTreeMap<u32, Option<IpConfig>>,
}

/// Changes to a VM; `None` leaves a part alone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VmUpdate {
    pub name: Option<String>,
    pub cores: Option<u32>,
    pub memory_mb: Option<u64>,
    pub cloud_init: Option<CloudInitUpdate>,
    /// Per NIC slot: add or change, or remove with `None`. A running VM
    /// gets NIC changes at once (hot-plug).
    pub nics: BTreeMap<u32, Option<Nic>>,
    /// Serve the console over VNC there, from the next start.
    pub vnc: Option<VncListen>,
    /// Refuse the change if the configuration changed since this revision.
    pub if_revision: Option<String>,
    /// New notes (marking a VM made before giif marked its VMs).
    pub description: Option<String>,
}

impl VmUpdate {
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.cores.is_none()
            && self.memory_mb.is_none()
            && self.cloud_init.is_none()
            && self.nics.is_empty()
            && self.vnc.is_none()
            && self.description.is_none()
    }
}

/// Where QEMU serves a VM's console over VNC: an address of the node (never
/// every address), a display (port 5900 + display), and whether a password
/// is required (set at run time with [`Hypervisor::set_vnc_password`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VncListen {
    pub address: String,
    pub display: u32,
    pub password: bool,
}

#[async_trait]
pub trait Hypervisor: Send + Sync {
    /// A VM id no VM uses now (another caller may take it first: allocate
    /// ids transactionally and let create/clone refuse duplicates).
    async fn next_free_id(&self) -> Result<u32, DriverError>;

    /// Creates a stopped VM; waits until it exists.
    async fn create_vm(&self, node: &str, vmid: u32, spec: &VmSpec)
        -> Result<VmState, DriverError>;

    /// Copies a template into a new, stopped VM; waits until the copy is done.
    async fn clone_vm(&self, template: &VmRef, spec: &CloneSpec) -> Result<VmState, DriverError>;

    /// Configuration and power state; `NotFound` when the VM is gone.
    async fn read_vm(&self, vm: &VmRef) -> Result<VmState, DriverError>;

    /// The VMs (templates included) on a node.
    async fn list_vms(&self, node: &str) -> Result<Vec<VmSummary>, DriverError>;

    /// Cores, memory, name, cloud-init and NICs. Changes a running VM cannot
    /// take at once wait for its next start.
    async fn update_vm(&self, vm: &VmRef, update: &VmUpdate) -> Result<VmState, DriverError>;

    /// Grows a disk to `size_gb`; a smaller size is refused (`Permanent`),
    /// the same size is a no-op.
    async fn resize_disk(&self, vm: &VmRef, disk: &str, size_gb: u64) -> Result<(), DriverError>;

    /// Powers on; a running VM is left alone.
    async fn start_vm(&self, vm: &VmRef) -> Result<(), DriverError>;

    /// Powers off at once; a stopped VM is left alone.
    async fn stop_vm(&self, vm: &VmRef) -> Result<(), DriverError>;

    /// Asks the guest to power off, and stops it hard after `timeout`.
    async fn shutdown_vm(&self, vm: &VmRef, timeout: Duration) -> Result<(), DriverError>;

    /// Deletes the VM and its disks, stopping it first if it runs.
    async fn delete_vm(&self, vm: &VmRef) -> Result<(), DriverError>;

    /// Puts `nic` into slot `slot` (replacing what is there; a running VM
    /// gets it at once). Returns the NIC as configured, MAC included.
    /// Hot-plugs on one VM are serialized.
    /// Sets the password of the running VM's VNC console. It lasts until
    /// the VM stops: every start needs it set again.
    async fn set_vnc_password(&self, vm: &VmRef, password: &Secret) -> Result<(), DriverError>;

    async fn plug_nic(&self, vm: &VmRef, slot: u32, nic: &Nic) -> Result<Nic, DriverError>;

    /// Removes the NIC in slot `slot`; an empty slot is fine.
    async fn unplug_nic(&self, vm: &VmRef, slot: u32) -> Result<(), DriverError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_parse_and_print() {
        let mac: MacAddr = "bc:24:11:0a:0b:0c".parse().unwrap();
        assert_eq!(mac.to_string(), "BC:24:11:0A:0B:0C");
        assert!("bc:24:11:0a:0b".parse::<MacAddr>().is_err());
        assert!("bc:24:11:0a:0b:0c:0d".parse::<MacAddr>().is_err());
        assert!("zz:24:11:0a:0b:0c".parse::<MacAddr>().is_err());
    }

    #[test]
    fn disk_sizes_round_up_to_whole_gigabytes() {
        let disk = Disk {
            volume: "local-lvm:vm-1-disk-0".into(),
            size_bytes: (10 << 30) + 1,
        };
        assert_eq!(disk.size_gb(), 11);
    }
}

//! The mark giif puts on what it makes on Proxmox: a line
//! `giif-owner: <object id>` in the VM's description. It is part of the
//! clone or create call itself, so no VM of the agent's exists unmarked, and
//! the agent adopts, changes or deletes a VM only when it carries the mark
//! of the object the agent acts for. Anything else at a VM id the agent
//! chose (an operator's VM, another tool's) is left alone.

use crate::drivers::hypervisor::{Hypervisor, VmRef, VmState, VmUpdate};
use crate::drivers::ErrorClass;
use crate::error::ApiError;
use crate::gateways::driver_error;
use crate::store::{Store, VmidChoice, VmidOwner};

const PREFIX: &str = "giif-owner: ";

/// The description line that marks a VM as `object_id`'s.
pub fn mark(object_id: &str) -> String {
    format!("{PREFIX}{object_id}")
}

/// The object a VM's description names as its owner, if any.
pub fn owner(description: &str) -> Option<&str> {
    description
        .lines()
        .find_map(|line| line.trim().strip_prefix(PREFIX))
        .map(str::trim)
}

/// Whether the VM found at an object's VM id is that object's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    /// It carries the object's mark.
    Ours,
    /// It was made for the object before the agent marked VMs (the store
    /// says so, and its name matches): adopt it and mark it now.
    OursUnmarked,
    /// Someone else's: never touch it.
    Foreign,
}

/// Judges the VM `state` found at the VM id of `object_id`. `made_before_marks`
/// with the name the agent gave the VM lets an upgraded agent keep the VMs
/// it made before it marked them.
pub fn judge(state: &VmState, object_id: &str, made_before_marks: Option<&str>) -> Found {
    match owner(&state.description) {
        Some(owner) if owner == object_id => Found::Ours,
        Some(_) => Found::Foreign,
        None if made_before_marks.is_some_and(|name| name.eq_ignore_ascii_case(&state.name)) => {
            Found::OursUnmarked
        }
        None => Found::Foreign,
    }
}

/// Where new VM ids come from: the site's `[proxmox] vmids`, else
/// Proxmox's next free id up (asked only then).
pub async fn vmid_choice(
    pve: &crate::inventory::model::Proxmox,
    hypervisor: &dyn Hypervisor,
) -> Result<VmidChoice, ApiError> {
    let next_free = match pve.vmids {
        Some(_) => 0,
        None => hypervisor.next_free_id().await.map_err(driver_error)?,
    };
    Ok(VmidChoice::new(pve.vmids, next_free))
}

/// How many foreign VMs in a row an object steps over before giving up.
const MAX_RELOCATIONS: usize = 16;

/// What is at the VM id of `object_id` (on `node`): its VM, adopted and
/// marked when it was made before marks; or `None`, nothing, so the caller
/// creates it at `*vmid`. A foreign VM there is left alone and the object
/// moves to another id (`*vmid` changes).
pub async fn find_own_vm(
    store: &Store,
    pve: &dyn Hypervisor,
    owner: VmidOwner,
    object_id: &str,
    node: &str,
    vmid: &mut u32,
    name: &str,
) -> Result<Option<VmState>, ApiError> {
    for _ in 0..MAX_RELOCATIONS {
        let vm = VmRef::new(node, *vmid);
        let state = match pve.read_vm(&vm).await {
            Ok(state) => state,
            Err(err) if err.class == ErrorClass::NotFound => return Ok(None),
            Err(err) => return Err(driver_error(err)),
        };
        let legacy = store.made_before_marks(object_id).await?;
        match judge(&state, object_id, legacy.then_some(name)) {
            Found::Ours => return Ok(Some(state)),
            Found::OursUnmarked => {
                let description = match state.description.trim() {
                    "" => mark(object_id),
                    notes => format!("{notes}\n{}", mark(object_id)),
                };
                let update = VmUpdate {
                    description: Some(description),
                    ..Default::default()
                };
                let marked = pve.update_vm(&vm, &update).await.map_err(driver_error)?;
                store.forget_made_before_marks(object_id).await?;
                tracing::info!(
                    object = object_id,
                    vmid = *vmid,
                    "marked a VM made before giif marked its VMs"
                );
                return Ok(Some(marked));
            }
            Found::Foreign => {
                *vmid = store.relocate_vmid(owner, object_id, *vmid).await?;
            }
        }
    }
    Err(ApiError::precondition(format!(
        "{MAX_RELOCATIONS} VM ids in a row hold VMs giif did not make, up to {vmid}"
    ))
    .hint("Give giif a range of VM ids nobody else uses."))
}

/// Whether `state`, read at the VM id of `object_id`, is someone else's VM:
/// a live read then reports the object's VM as missing instead of showing
/// the other VM's settings as the object's.
pub async fn is_foreign(
    store: &Store,
    state: &VmState,
    object_id: &str,
    name: &str,
) -> Result<bool, ApiError> {
    let legacy = store.made_before_marks(object_id).await?;
    Ok(judge(state, object_id, legacy.then_some(name)) == Found::Foreign)
}

/// Whether the VM at `vm` may be stopped and deleted for `object_id`:
/// `false` when nothing is there or it is someone else's.
pub async fn ours_to_delete(
    store: &Store,
    pve: &dyn Hypervisor,
    object_id: &str,
    vm: &VmRef,
    name: &str,
) -> Result<bool, ApiError> {
    let state = match pve.read_vm(vm).await {
        Ok(state) => state,
        Err(err) if err.class == ErrorClass::NotFound => return Ok(false),
        Err(err) => return Err(driver_error(err)),
    };
    let legacy = store.made_before_marks(object_id).await?;
    let found = judge(&state, object_id, legacy.then_some(name));
    if found == Found::Foreign {
        tracing::warn!(
            object = object_id,
            vmid = vm.vmid,
            "the VM at the object's VM id is not giif's; leaving it alone"
        );
    }
    Ok(found != Found::Foreign)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mark_is_read_back_among_other_lines() {
        let description = format!("web server\n{}\nkeep", mark("vm-1"));
        assert_eq!(owner(&description), Some("vm-1"));
        assert_eq!(owner("made by hand"), None);
    }
}

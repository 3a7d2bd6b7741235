//! Long operations, one shape for every kind of object: the change and its
//! operation are journalled in one transaction ([`crate::store::operations`]),
//! the operation runs in the background under the object's lease (so it
//! outlives the caller, and a killed agent's operation is resumed by the
//! [`reconciler`] of the next agent to start), and callers wait on the
//! journal, which every replica sees.

mod locks;
pub mod reconciler;
mod runner;
mod settings;
mod step;

pub use crate::store::operations::{ObjectKind, OpKind, OpState, OperationRow};
pub use locks::{ObjectLock, ObjectLocks};
pub use runner::{LongObject, Operations};
pub use settings::OperationSettings;
pub use step::step;

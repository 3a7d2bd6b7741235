//! The giif project gateway (PAGW).
//!
//! - [`document`]: the gateway configuration document (format 2), the one
//!   definition the agent renders, the gateway applies and giif-sim reads;
//!   [`validate`] checks its values.
//! - [`observed`], [`plan`]: the live state, and the steps from it to a
//!   document (what an apply does and what drift is).
//! - [`tool`]: `giif-pagw-apply` and `giif-pagw-show` over a [`tool::System`],
//!   either [`linux::LinuxSystem`] (a real Debian gateway) or
//!   [`memory::MemorySystem`] (giif-sim's guests, unit tests).

pub mod document;
pub mod linux;
pub mod memory;
pub mod observed;
pub mod plan;
pub mod tool;
pub mod toolbox;
pub mod validate;

pub use document::*;
pub use validate::FieldProblem;

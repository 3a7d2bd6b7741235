//! Terraform's value model (cty, as seen over tfplugin6) and its wire codecs.
//!
//! `DynamicValue.msgpack` and `RawState.json` are both decoded against a
//! schema [`Type`]; the wire formats are not self-describing enough to decode
//! without one (a number may arrive as a string, an object omits nulls).

mod error;
mod json;
mod msgpack;
mod path;
mod types;
mod value;

pub use error::CodecError;
pub use json::decode_json;
pub use msgpack::{decode_msgpack, encode_msgpack};
pub use types::Type;
pub use value::{Number, Value};

#[cfg(test)]
mod proptests;

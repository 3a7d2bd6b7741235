//! Terraform's msgpack encoding of values (`DynamicValue.msgpack`).
//!
//! Wire rules, as Terraform writes them: nil is null, any extension value is
//! unknown (type 0 plain, type 12 refined with a payload we ignore), objects
//! and maps are msgpack maps with string keys, lists and sets are arrays, and
//! numbers may be ints, floats or decimal strings.

mod decode;
mod encode;

pub use decode::decode_msgpack;
pub use encode::encode_msgpack;

#[cfg(test)]
mod tests;

//! Errors from decoding and encoding Terraform values.

use super::path::show;

/// Every variant that concerns part of a value carries the attribute path
/// (`.members[2].role`; empty for the value itself), because the caller turns
/// these into diagnostics a Terraform user has to act on.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The data has a different shape from the schema type.
    #[error("at {}: expected {expected}, found {found}", show(.path))]
    Mismatch {
        path: String,
        expected: String,
        found: String,
    },
    /// An object carries attributes its type does not declare.
    #[error("at {}: unsupported attribute(s) {}", show(.path), .names.join(", "))]
    UnexpectedAttributes { path: String, names: Vec<String> },
    /// The shape is right but the content is not acceptable (bad number text,
    /// invalid UTF-8, duplicate key).
    #[error("at {}: {reason}", show(.path))]
    Invalid { path: String, reason: String },
    /// The bytes are not valid msgpack/JSON at all.
    #[error("malformed input: {0}")]
    Malformed(String),
    /// A complete value was decoded but bytes remained after it.
    #[error("trailing bytes after value")]
    TrailingBytes,
    /// The value cannot be written in the wire format (e.g. NaN).
    #[error("at {}: cannot encode: {reason}", show(.path))]
    Unrepresentable { path: String, reason: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_path() {
        let e = CodecError::Mismatch {
            path: ".a[1]".into(),
            expected: "string".into(),
            found: "bool".into(),
        };
        assert_eq!(e.to_string(), "at .a[1]: expected string, found bool");
        let e = CodecError::UnexpectedAttributes {
            path: String::new(),
            names: vec!["x".into(), "y".into()],
        };
        assert_eq!(e.to_string(), "at (root): unsupported attribute(s) x, y");
    }
}

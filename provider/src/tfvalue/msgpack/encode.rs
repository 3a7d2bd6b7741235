//! [`Value`] -> msgpack bytes, type-checked against the schema type.

use std::collections::BTreeMap;
use std::fmt::Display;

use rmp::encode as w;

use super::super::path::Path;
use super::super::{CodecError, Number, Type, Value};

/// fixext1, type 0, payload 0: the unknown marker Terraform itself writes.
const UNKNOWN: [u8; 3] = [0xd4, 0x00, 0x00];

pub fn encode_msgpack(value: &Value, ty: &Type) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    write(&mut out, value, ty, &mut Path::root())?;
    Ok(out)
}

fn write(out: &mut Vec<u8>, value: &Value, ty: &Type, path: &mut Path) -> Result<(), CodecError> {
    match (ty, value) {
        (_, Value::Null) => w::write_nil(out).map_err(io),
        (_, Value::Unknown) => {
            out.extend_from_slice(&UNKNOWN);
            Ok(())
        }
        (Type::String, Value::String(s)) => w::write_str(out, s).map_err(io),
        (Type::Bool, Value::Bool(b)) => w::write_bool(out, *b).map_err(io),
        // write_sint picks the smallest encoding, as Terraform does.
        (Type::Number, Value::Number(Number::Int(i))) => {
            w::write_sint(out, *i).map(drop).map_err(io)
        }
        (Type::Number, Value::Number(Number::Float(f))) => {
            if f.is_nan() {
                return Err(CodecError::Unrepresentable {
                    path: path.render(),
                    reason: "NaN is not a Terraform number".to_owned(),
                });
            }
            w::write_f64(out, *f).map_err(io)
        }
        (Type::List(elem), Value::List(items)) | (Type::Set(elem), Value::Set(items)) => {
            w::write_array_len(out, len(items.len(), path)?).map_err(io)?;
            for (i, item) in items.iter().enumerate() {
                path.index(i, |p| write(out, item, elem, p))?;
            }
            Ok(())
        }
        (Type::Map(elem), Value::Map(entries)) => {
            w::write_map_len(out, len(entries.len(), path)?).map_err(io)?;
            for (k, v) in entries {
                w::write_str(out, k).map_err(io)?;
                path.key(k, |p| write(out, v, elem, p))?;
            }
            Ok(())
        }
        (Type::Object(attrs), Value::Object(vals)) => object(out, attrs, vals, path),
        (ty, value) => Err(CodecError::Mismatch {
            path: path.render(),
            expected: ty.to_string(),
            found: kind(value).to_owned(),
        }),
    }
}

/// Writes every attribute of the type (absent ones as nil) in sorted order,
/// so the encoding of a value is deterministic.
fn object(
    out: &mut Vec<u8>,
    attrs: &BTreeMap<String, Type>,
    vals: &BTreeMap<String, Value>,
    path: &mut Path,
) -> Result<(), CodecError> {
    let extra: Vec<String> = vals
        .keys()
        .filter(|k| !attrs.contains_key(*k))
        .cloned()
        .collect();
    if !extra.is_empty() {
        return Err(CodecError::UnexpectedAttributes {
            path: path.render(),
            names: extra,
        });
    }
    w::write_map_len(out, len(attrs.len(), path)?).map_err(io)?;
    for (name, attr_ty) in attrs {
        w::write_str(out, name).map_err(io)?;
        let v = vals.get(name).unwrap_or(&Value::Null);
        path.attr(name, |p| write(out, v, attr_ty, p))?;
    }
    Ok(())
}

fn len(n: usize, path: &Path) -> Result<u32, CodecError> {
    u32::try_from(n).map_err(|_| CodecError::Unrepresentable {
        path: path.render(),
        reason: format!("{n} elements exceed msgpack's limit"),
    })
}

/// Writing into a Vec cannot fail, but rmp's API is generic over writers.
fn io(e: impl Display) -> CodecError {
    CodecError::Malformed(format!("msgpack write failed: {e}"))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Unknown => "unknown",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::List(_) => "list",
        Value::Set(_) => "set",
        Value::Map(_) => "map",
        Value::Object(_) => "object",
    }
}

//! msgpack bytes -> [`Value`], guided by the schema type.

use std::collections::BTreeMap;

use rmpv::Value as Raw;

use super::super::path::Path;
use super::super::{CodecError, Number, Type, Value};

pub fn decode_msgpack(bytes: &[u8], ty: &Type) -> Result<Value, CodecError> {
    let mut rest = bytes;
    // rmpv bounds nesting depth and does not trust declared lengths for
    // preallocation, so hostile input cannot blow the stack or memory.
    let raw =
        rmpv::decode::read_value(&mut rest).map_err(|e| CodecError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(CodecError::TrailingBytes);
    }
    from_raw(raw, ty, &mut Path::root())
}

fn from_raw(raw: Raw, ty: &Type, path: &mut Path) -> Result<Value, CodecError> {
    match (ty, raw) {
        (_, Raw::Nil) => Ok(Value::Null),
        // Every extension is an unknown; refinements (type 12) are hints we
        // do not use, so the payload is dropped.
        (_, Raw::Ext(..)) => Ok(Value::Unknown),
        (Type::String, Raw::String(s)) => s
            .into_str()
            .map(Value::String)
            .ok_or_else(|| invalid(path, "string is not valid UTF-8")),
        (Type::Bool, Raw::Boolean(b)) => Ok(Value::Bool(b)),
        (Type::Number, Raw::Integer(i)) => match (i.as_i64(), i.as_u64()) {
            (Some(i), _) => Ok(Value::Number(Number::Int(i))),
            (None, Some(u)) => Ok(Value::Number(Number::from_u64(u))),
            (None, None) => Err(invalid(path, "integer out of range")),
        },
        (Type::Number, Raw::F32(f)) => float(f64::from(f), path),
        (Type::Number, Raw::F64(f)) => float(f, path),
        // Terraform sends numbers that do not fit int64/float64 as text.
        (Type::Number, Raw::String(s)) => {
            let text = s
                .as_str()
                .ok_or_else(|| invalid(path, "number text is not valid UTF-8"))?;
            Number::parse(text)
                .map(Value::Number)
                .map_err(|reason| invalid(path, &reason))
        }
        (Type::List(elem), Raw::Array(items)) => elements(items, elem, path).map(Value::List),
        (Type::Set(elem), Raw::Array(items)) => elements(items, elem, path).map(Value::Set),
        (Type::Map(elem), Raw::Map(entries)) => map(entries, elem, path),
        (Type::Object(attrs), Raw::Map(entries)) => object(entries, attrs, path),
        (ty, raw) => Err(CodecError::Mismatch {
            path: path.render(),
            expected: ty.to_string(),
            found: kind(&raw).to_owned(),
        }),
    }
}

fn float(f: f64, path: &Path) -> Result<Value, CodecError> {
    if f.is_nan() {
        return Err(invalid(path, "NaN is not a valid number"));
    }
    Ok(Value::Number(Number::from_f64(f)))
}

fn elements(items: Vec<Raw>, elem: &Type, path: &mut Path) -> Result<Vec<Value>, CodecError> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| path.index(i, |p| from_raw(item, elem, p)))
        .collect()
}

fn map(entries: Vec<(Raw, Raw)>, elem: &Type, path: &mut Path) -> Result<Value, CodecError> {
    let mut out = BTreeMap::new();
    for (k, v) in entries {
        let key = key_string(k, path)?;
        if out.contains_key(&key) {
            return Err(invalid(path, &format!("duplicate map key {key:?}")));
        }
        let value = path.key(&key, |p| from_raw(v, elem, p))?;
        out.insert(key, value);
    }
    Ok(Value::Map(out))
}

fn object(
    entries: Vec<(Raw, Raw)>,
    attrs: &BTreeMap<String, Type>,
    path: &mut Path,
) -> Result<Value, CodecError> {
    let mut out = BTreeMap::new();
    let mut unexpected = Vec::new();
    for (k, v) in entries {
        let name = key_string(k, path)?;
        let Some(attr_ty) = attrs.get(&name) else {
            unexpected.push(name);
            continue;
        };
        if out.contains_key(&name) {
            return Err(invalid(path, &format!("duplicate attribute {name:?}")));
        }
        let value = path.attr(&name, |p| from_raw(v, attr_ty, p))?;
        out.insert(name, value);
    }
    // A sender that disagrees about the schema is a bug worth surfacing,
    // not something to paper over.
    if !unexpected.is_empty() {
        return Err(CodecError::UnexpectedAttributes {
            path: path.render(),
            names: unexpected,
        });
    }
    // Terraform may omit null attributes; the model always has them all.
    for name in attrs.keys() {
        out.entry(name.clone()).or_insert(Value::Null);
    }
    Ok(Value::Object(out))
}

fn key_string(key: Raw, path: &Path) -> Result<String, CodecError> {
    match key {
        Raw::String(s) => s
            .into_str()
            .ok_or_else(|| invalid(path, "key is not valid UTF-8")),
        other => Err(CodecError::Mismatch {
            path: path.render(),
            expected: "string key".to_owned(),
            found: kind(&other).to_owned(),
        }),
    }
}

fn invalid(path: &Path, reason: &str) -> CodecError {
    CodecError::Invalid {
        path: path.render(),
        reason: reason.to_owned(),
    }
}

fn kind(raw: &Raw) -> &'static str {
    match raw {
        Raw::Nil => "null",
        Raw::Boolean(_) => "bool",
        Raw::Integer(_) => "integer",
        Raw::F32(_) | Raw::F64(_) => "float",
        Raw::String(_) => "string",
        Raw::Binary(_) => "binary",
        Raw::Array(_) => "array",
        Raw::Map(_) => "map",
        Raw::Ext(..) => "extension",
    }
}

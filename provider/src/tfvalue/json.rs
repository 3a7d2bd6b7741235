//! Stored-state JSON (`UpgradeResourceState.raw_state.json`) -> [`Value`].
//!
//! State written by an older provider version is decoded against the
//! current schema: attributes the schema no longer has are dropped, new ones
//! start as null. Like Terraform's own JSON decoding, primitives are lenient
//! where the meaning is unambiguous (a number or bool as text, or the
//! reverse), which lets an attribute change primitive type between versions.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::path::Path;
use super::{CodecError, Number, Type, Value};

pub fn decode_json(bytes: &[u8], ty: &Type) -> Result<Value, CodecError> {
    // serde_json limits nesting depth and rejects trailing data itself.
    let json: Json = serde_json::from_slice(bytes)
        .map_err(|e| CodecError::Malformed(format!("invalid JSON: {e}")))?;
    from_json(json, ty, &mut Path::root())
}

fn from_json(json: Json, ty: &Type, path: &mut Path) -> Result<Value, CodecError> {
    match (ty, json) {
        (_, Json::Null) => Ok(Value::Null),
        (Type::String, Json::String(s)) => Ok(Value::String(s)),
        (Type::String, Json::Number(n)) => Ok(Value::String(n.to_string())),
        (Type::String, Json::Bool(b)) => Ok(Value::String(b.to_string())),
        (Type::Number, Json::Number(n)) => number(&n, path),
        (Type::Number, Json::String(s)) => Number::parse(&s)
            .map(Value::Number)
            .map_err(|reason| invalid(path, reason)),
        (Type::Bool, Json::Bool(b)) => Ok(Value::Bool(b)),
        (Type::Bool, Json::String(s)) => match s.as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(invalid(path, format!("{s:?} is not a bool"))),
        },
        (Type::List(elem), Json::Array(items)) => elements(items, elem, path).map(Value::List),
        (Type::Set(elem), Json::Array(items)) => elements(items, elem, path).map(Value::Set),
        (Type::Map(elem), Json::Object(entries)) => {
            let mut out = BTreeMap::new();
            for (k, v) in entries {
                let value = path.key(&k, |p| from_json(v, elem, p))?;
                out.insert(k, value);
            }
            Ok(Value::Map(out))
        }
        (Type::Object(attrs), Json::Object(mut entries)) => {
            let mut out = BTreeMap::new();
            for (name, attr_ty) in attrs {
                let value = match entries.remove(name) {
                    Some(v) => path.attr(name, |p| from_json(v, attr_ty, p))?,
                    None => Value::Null,
                };
                out.insert(name.clone(), value);
            }
            // Whatever is left in `entries` belonged to an older schema.
            Ok(Value::Object(out))
        }
        (ty, json) => Err(CodecError::Mismatch {
            path: path.render(),
            expected: ty.to_string(),
            found: kind(&json).to_owned(),
        }),
    }
}

fn number(n: &serde_json::Number, path: &Path) -> Result<Value, CodecError> {
    let num = if let Some(i) = n.as_i64() {
        Number::Int(i)
    } else if let Some(u) = n.as_u64() {
        Number::from_u64(u)
    } else if let Some(f) = n.as_f64() {
        Number::from_f64(f)
    } else {
        // Only reachable if serde_json keeps arbitrary-precision text.
        Number::parse(&n.to_string()).map_err(|reason| invalid(path, reason))?
    };
    Ok(Value::Number(num))
}

fn elements(items: Vec<Json>, elem: &Type, path: &mut Path) -> Result<Vec<Value>, CodecError> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| path.index(i, |p| from_json(item, elem, p)))
        .collect()
}

fn invalid(path: &Path, reason: String) -> CodecError {
    CodecError::Invalid {
        path: path.render(),
        reason,
    }
}

fn kind(json: &Json) -> &'static str {
    match json {
        Json::Null => "null",
        Json::Bool(_) => "bool",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_type() -> Type {
        Type::object([
            ("id", Type::String),
            ("cpus", Type::Number),
            ("ratio", Type::Number),
            ("enabled", Type::Bool),
            ("labels", Type::map(Type::String)),
            ("tags", Type::set(Type::String)),
            (
                "disks",
                Type::list(Type::object([
                    ("size", Type::Number),
                    ("name", Type::String),
                ])),
            ),
            ("added_later", Type::String),
        ])
    }

    #[test]
    fn nested_state() {
        let state = br#"{
            "id": "srv-1", "cpus": 4, "ratio": 0.5, "enabled": true,
            "labels": {"env": "prod", "team": null},
            "tags": ["a", "b"],
            "disks": [{"size": "1024", "name": "root", "removed_attr": 1}, {"size": 2.0, "name": null}],
            "removed_attr": {"anything": [1, 2]}
        }"#;
        let v = decode_json(state, &server_type()).expect("state decodes");
        let expected = Value::object([
            ("id", Value::string("srv-1")),
            ("cpus", Value::int(4)),
            ("ratio", Value::float(0.5)),
            ("enabled", Value::Bool(true)),
            (
                "labels",
                Value::Map(
                    [
                        ("env".to_owned(), Value::string("prod")),
                        ("team".to_owned(), Value::Null),
                    ]
                    .into(),
                ),
            ),
            (
                "tags",
                Value::Set(vec![Value::string("a"), Value::string("b")]),
            ),
            (
                "disks",
                Value::List(vec![
                    Value::object([("size", Value::int(1024)), ("name", Value::string("root"))]),
                    Value::object([("size", Value::int(2)), ("name", Value::Null)]),
                ]),
            ),
            ("added_later", Value::Null),
        ]);
        assert_eq!(v, expected);
    }

    #[test]
    fn lenient_primitives() {
        assert_eq!(
            decode_json(b"12", &Type::String).ok(),
            Some(Value::string("12"))
        );
        assert_eq!(
            decode_json(b"true", &Type::String).ok(),
            Some(Value::string("true"))
        );
        assert_eq!(
            decode_json(br#""false""#, &Type::Bool).ok(),
            Some(Value::Bool(false))
        );
        assert_eq!(
            decode_json(br#""-7""#, &Type::Number).ok(),
            Some(Value::int(-7))
        );
        assert_eq!(
            decode_json(b"18446744073709551615", &Type::Number).ok(),
            Some(Value::Number(Number::Float(u64::MAX as f64)))
        );
        assert_eq!(
            decode_json(b"null", &Type::list(Type::Bool)).ok(),
            Some(Value::Null)
        );
    }

    #[test]
    fn errors_name_the_path() {
        let e = decode_json(br#"{"disks": [{}, {"size": "big"}]}"#, &server_type())
            .expect_err("bad number");
        assert!(
            matches!(&e, CodecError::Invalid { path, .. } if path == ".disks[1].size"),
            "{e}"
        );
        let e = decode_json(br#"{"labels": {"k": [1]}}"#, &server_type()).expect_err("bad map");
        assert_eq!(
            e.to_string(),
            r#"at .labels["k"]: expected string, found array"#
        );
        let e = decode_json(br#"{"enabled": "yes"}"#, &server_type()).expect_err("bad bool");
        assert!(e.to_string().starts_with("at .enabled:"), "{e}");
        let e = decode_json(b"{} x", &server_type()).expect_err("trailing");
        assert!(matches!(e, CodecError::Malformed(_)));
    }
}

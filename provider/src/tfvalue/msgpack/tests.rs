//! Hand-built wire bytes and round trips for the msgpack codec.

use super::{decode_msgpack, encode_msgpack};
use crate::tfvalue::{CodecError, Number, Type, Value};

fn round_trip(v: &Value, ty: &Type) {
    let bytes = encode_msgpack(v, ty).expect("value matches its type");
    let back = decode_msgpack(&bytes, ty).expect("encoded bytes decode");
    assert_eq!(&back, v, "type {ty}, bytes {bytes:02x?}");
}

fn map(entries: &[(&str, Value)]) -> Value {
    Value::Map(
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    )
}

fn member_type() -> Type {
    Type::object([
        ("name", Type::String),
        ("role", Type::String),
        ("weight", Type::Number),
    ])
}

fn team_type() -> Type {
    Type::object([
        ("name", Type::String),
        ("members", Type::list(member_type())),
        ("labels", Type::map(Type::String)),
        ("tags", Type::set(Type::Number)),
        ("active", Type::Bool),
    ])
}

#[test]
fn round_trips_every_kind() {
    for ty in [
        Type::String,
        Type::Number,
        Type::Bool,
        Type::list(Type::Bool),
        team_type(),
    ] {
        round_trip(&Value::Null, &ty);
        round_trip(&Value::Unknown, &ty);
    }
    round_trip(&Value::string(""), &Type::String);
    round_trip(&Value::string("héllo"), &Type::String);
    for n in [0, 1, -1, 127, 128, -33, 65_535, i64::MIN, i64::MAX] {
        round_trip(&Value::int(n), &Type::Number);
    }
    for f in [0.5, -1e300, 1e20, f64::INFINITY, f64::MIN_POSITIVE] {
        round_trip(&Value::float(f), &Type::Number);
    }
    round_trip(&Value::Bool(false), &Type::Bool);
    round_trip(&Value::List(vec![]), &Type::list(Type::String));
    round_trip(
        &Value::List(vec![Value::string("a"), Value::Null, Value::Unknown]),
        &Type::list(Type::String),
    );
    round_trip(
        &Value::Set(vec![Value::int(1), Value::Unknown, Value::Null]),
        &Type::set(Type::Number),
    );
    round_trip(
        &map(&[
            ("a", Value::Bool(true)),
            ("b", Value::Null),
            ("c", Value::Unknown),
        ]),
        &Type::map(Type::Bool),
    );
    let member = |name: &str, role: Value| {
        Value::object([
            ("name", Value::string(name)),
            ("role", role),
            ("weight", Value::float(0.25)),
        ])
    };
    let team = Value::object([
        ("name", Value::string("core")),
        (
            "members",
            Value::List(vec![
                member("a", Value::string("lead")),
                member("b", Value::Unknown),
                Value::Null,
            ]),
        ),
        (
            "labels",
            map(&[("env", Value::string("prod")), ("tier", Value::Null)]),
        ),
        ("tags", Value::Unknown),
        ("active", Value::Null),
    ]);
    round_trip(&team, &team_type());
}

#[test]
fn encodes_like_terraform() {
    let enc = |v: &Value, ty: &Type| encode_msgpack(v, ty).expect("encodes");
    assert_eq!(enc(&Value::Unknown, &Type::String), [0xd4, 0x00, 0x00]);
    assert_eq!(enc(&Value::Null, &Type::String), [0xc0]);
    assert_eq!(enc(&Value::int(1), &Type::Number), [0x01]);
    assert_eq!(enc(&Value::int(-1), &Type::Number), [0xff]);
    assert_eq!(enc(&Value::int(300), &Type::Number), [0xcd, 0x01, 0x2c]);
    assert_eq!(
        enc(&Value::float(0.5), &Type::Number),
        [0xcb, 0x3f, 0xe0, 0, 0, 0, 0, 0, 0]
    );
    // Every attribute of the type, sorted, absent ones as nil.
    let ty = Type::object([("b", Type::String), ("a", Type::Number)]);
    let v = Value::object([("a", Value::int(1))]);
    assert_eq!(enc(&v, &ty), [0x82, 0xa1, b'a', 0x01, 0xa1, b'b', 0xc0]);
}

#[test]
fn any_extension_is_unknown() {
    let ty = Type::list(Type::String);
    // Plain unknown, as Terraform writes it.
    assert_eq!(
        decode_msgpack(&[0xd4, 0x00, 0x00], &ty).ok(),
        Some(Value::Unknown)
    );
    // Refined unknown (ext 12) with a refinement payload {1: false}.
    assert_eq!(
        decode_msgpack(&[0xc7, 0x03, 0x0c, 0x81, 0x01, 0xc2], &ty).ok(),
        Some(Value::Unknown)
    );
    // Refined unknown nested in an object, as a fixext2 payload.
    let obj = Type::object([("id", Type::String)]);
    let bytes = [0x81, 0xa2, b'i', b'd', 0xd5, 0x0c, 0x81, 0x01];
    assert_eq!(
        decode_msgpack(&bytes, &obj).ok(),
        Some(Value::object([("id", Value::Unknown)]))
    );
}

#[test]
fn numbers_in_every_encoding() {
    let num = |bytes: &[u8]| decode_msgpack(bytes, &Type::Number).expect("number decodes");
    assert_eq!(num(&[0x05]), Value::int(5));
    assert_eq!(num(&[0xff]), Value::int(-1));
    assert_eq!(num(&[0xcc, 0xc8]), Value::int(200));
    assert_eq!(num(&[0xd0, 0xfb]), Value::int(-5));
    assert_eq!(num(&[0xcf, 0, 0, 0, 0, 0, 0, 0x01, 0x00]), Value::int(256));
    assert_eq!(
        num(&[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
        Value::float(u64::MAX as f64)
    );
    assert_eq!(num(&[0xca, 0x3f, 0xc0, 0, 0]), Value::float(1.5));
    assert_eq!(num(&[0xca, 0x40, 0x00, 0, 0]), Value::int(2));
    assert_eq!(num(&[0xcb, 0x40, 0, 0, 0, 0, 0, 0, 0]), Value::int(2));
    assert_eq!(num(&[0xa2, b'4', b'2']), Value::int(42));
    let big = "123456789012345678901234567890";
    let mut bytes = vec![0xd9, big.len() as u8];
    bytes.extend_from_slice(big.as_bytes());
    assert_eq!(
        num(&bytes),
        Value::Number(Number::Float(1.2345678901234568e29))
    );
    assert!(matches!(
        decode_msgpack(&[0xa3, b'a', b'b', b'c'], &Type::Number),
        Err(CodecError::Invalid { .. })
    ));
    // NaN is not a cty number.
    assert!(decode_msgpack(&[0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0], &Type::Number).is_err());
}

#[test]
fn objects_fill_missing_and_reject_unknown_names() {
    let ty = Type::object([("a", Type::Number), ("b", Type::String)]);
    let v = decode_msgpack(&[0x81, 0xa1, b'a', 0x01], &ty).expect("decodes");
    assert_eq!(v, Value::object([("a", Value::int(1)), ("b", Value::Null)]));
    let e = decode_msgpack(&[0x82, 0xa1, b'z', 0x01, 0xa1, b'y', 0xc0], &ty)
        .expect_err("unknown attrs");
    assert_eq!(e.to_string(), "at (root): unsupported attribute(s) z, y");
    let e = decode_msgpack(&[0x81, 0x01, 0x01], &ty).expect_err("non-string key");
    assert!(
        matches!(e, CodecError::Mismatch { ref expected, .. } if expected == "string key"),
        "{e}"
    );
}

#[test]
fn decode_errors_name_the_path() {
    let ty = team_type();
    let mut members = vec![Value::Null, Value::Null];
    members.push(Value::object([("role", Value::int(3))]));
    // Build the bytes with a Number where a String belongs by encoding
    // against a twin type that differs only there.
    let twin = Type::object([
        ("name", Type::String),
        (
            "members",
            Type::list(Type::object([
                ("name", Type::String),
                ("role", Type::Number),
                ("weight", Type::Number),
            ])),
        ),
        ("labels", Type::map(Type::String)),
        ("tags", Type::set(Type::Number)),
        ("active", Type::Bool),
    ]);
    let bytes = encode_msgpack(&Value::object([("members", Value::List(members))]), &twin)
        .expect("twin encodes");
    let e = decode_msgpack(&bytes, &ty).expect_err("role is not a string");
    assert_eq!(
        e.to_string(),
        "at .members[2].role: expected string, found integer"
    );
    let labels = Type::object([("labels", Type::map(Type::Bool))]);
    let bytes = encode_msgpack(
        &Value::object([("labels", map(&[("k", Value::Bool(true))]))]),
        &labels,
    )
    .expect("labels encode");
    let e = decode_msgpack(&bytes, &ty).expect_err("label is not a string");
    assert!(
        matches!(&e, CodecError::Mismatch { path, .. } if path == r#".labels["k"]"#),
        "{e}"
    );
}

#[test]
fn encode_typechecks_with_paths() {
    let ty = team_type();
    let v = Value::object([(
        "members",
        Value::List(vec![
            Value::Null,
            Value::Null,
            Value::object([("role", Value::Bool(true))]),
        ]),
    )]);
    let e = encode_msgpack(&v, &ty).expect_err("bool role");
    assert_eq!(
        e.to_string(),
        "at .members[2].role: expected string, found bool"
    );
    let v = Value::object([("labels", map(&[("k", Value::int(1))]))]);
    let e = encode_msgpack(&v, &ty).expect_err("number label");
    assert!(
        matches!(&e, CodecError::Mismatch { path, .. } if path == r#".labels["k"]"#),
        "{e}"
    );
    let e = encode_msgpack(&Value::string("x"), &Type::Number).expect_err("string for number");
    assert!(
        matches!(&e, CodecError::Mismatch { path, .. } if path.is_empty()),
        "{e}"
    );
    let e =
        encode_msgpack(&Value::List(vec![]), &Type::set(Type::String)).expect_err("list for set");
    assert_eq!(
        e.to_string(),
        "at (root): expected set of string, found list"
    );
    let e = encode_msgpack(&Value::object([("nope", Value::Null)]), &ty).expect_err("extra attr");
    assert!(matches!(e, CodecError::UnexpectedAttributes { ref names, .. } if names == &["nope"]));
    let e =
        encode_msgpack(&Value::Number(Number::Float(f64::NAN)), &Type::Number).expect_err("NaN");
    assert!(matches!(e, CodecError::Unrepresentable { .. }));
}

#[test]
fn malformed_input() {
    assert!(matches!(
        decode_msgpack(&[], &Type::String),
        Err(CodecError::Malformed(_))
    ));
    assert!(matches!(
        decode_msgpack(&[0xa3, b'a'], &Type::String),
        Err(CodecError::Malformed(_))
    ));
    assert!(matches!(
        decode_msgpack(&[0xc0, 0xc0], &Type::String),
        Err(CodecError::TrailingBytes)
    ));
    assert!(matches!(
        decode_msgpack(&[0xa1, 0xff], &Type::String),
        Err(CodecError::Invalid { .. })
    ));
    // A declared length far beyond the input must fail, not allocate.
    assert!(decode_msgpack(&[0xdd, 0xff, 0xff, 0xff, 0xff], &Type::list(Type::Bool)).is_err());
    let dup = [0x82, 0xa1, b'k', 0xc3, 0xa1, b'k', 0xc2];
    assert!(matches!(
        decode_msgpack(&dup, &Type::map(Type::Bool)),
        Err(CodecError::Invalid { .. })
    ));
}

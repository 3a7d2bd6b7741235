//! Property tests: any well-typed value survives a msgpack round trip, and
//! no input bytes make the decoder panic.

use proptest::prelude::*;

use super::{decode_msgpack, encode_msgpack, Number, Type, Value};

fn arb_type() -> impl Strategy<Value = Type> {
    let leaf = prop_oneof![Just(Type::String), Just(Type::Number), Just(Type::Bool)];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(Type::list),
            inner.clone().prop_map(Type::set),
            inner.clone().prop_map(Type::map),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4).prop_map(Type::Object),
        ]
    })
}

fn arb_number() -> impl Strategy<Value = Number> {
    prop_oneof![
        any::<i64>().prop_map(Number::Int),
        any::<f64>()
            .prop_filter("cty has no NaN", |f| !f.is_nan())
            .prop_map(Number::from_f64),
    ]
}

/// Values of `ty`, with Null and Unknown possible at every level.
fn arb_value(ty: &Type) -> BoxedStrategy<Value> {
    let known = match ty {
        Type::String => any::<String>().prop_map(Value::String).boxed(),
        Type::Number => arb_number().prop_map(Value::Number).boxed(),
        Type::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Type::List(e) => prop::collection::vec(arb_value(e), 0..4)
            .prop_map(Value::List)
            .boxed(),
        Type::Set(e) => prop::collection::vec(arb_value(e), 0..4)
            .prop_map(Value::Set)
            .boxed(),
        Type::Map(e) => prop::collection::btree_map(any::<String>(), arb_value(e), 0..4)
            .prop_map(Value::Map)
            .boxed(),
        Type::Object(attrs) => {
            let names: Vec<String> = attrs.keys().cloned().collect();
            let values: Vec<BoxedStrategy<Value>> = attrs.values().map(arb_value).collect();
            values
                .prop_map(move |vals| Value::Object(names.iter().cloned().zip(vals).collect()))
                .boxed()
        }
    };
    prop_oneof![1 => Just(Value::Null), 1 => Just(Value::Unknown), 6 => known].boxed()
}

fn arb_typed_value() -> impl Strategy<Value = (Type, Value)> {
    arb_type().prop_flat_map(|ty| {
        let values = arb_value(&ty);
        (Just(ty), values)
    })
}

proptest! {
    #[test]
    fn msgpack_round_trips((ty, v) in arb_typed_value()) {
        let bytes = encode_msgpack(&v, &ty).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back = decode_msgpack(&bytes, &ty).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back, v);
    }

    #[test]
    fn decoding_garbage_never_panics(ty in arb_type(), bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode_msgpack(&bytes, &ty);
    }
}

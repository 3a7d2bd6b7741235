//! DynamicValue in and out: msgpack from Terraform, JSON when it sends that.

use giif_proto::tfplugin6::DynamicValue;

use crate::diag::{Diagnostic, Diagnostics};
use crate::tfvalue::{decode_json, decode_msgpack, encode_msgpack, Type, Value};

/// An absent DynamicValue decodes as null.
pub fn decode(value: Option<&DynamicValue>, ty: &Type, what: &str) -> Result<Value, Diagnostics> {
    let Some(value) = value else {
        return Ok(Value::Null);
    };
    let decoded = if !value.msgpack.is_empty() {
        decode_msgpack(&value.msgpack, ty)
    } else if !value.json.is_empty() {
        decode_json(&value.json, ty)
    } else {
        return Ok(Value::Null);
    };
    decoded.map_err(|err| {
        Diagnostic::error(
            format!("Cannot decode the {what}"),
            format!("Terraform sent a value this provider cannot read: {err}. This is a bug in the provider; please report it."),
        )
        .into()
    })
}

pub fn encode(value: &Value, ty: &Type) -> Result<DynamicValue, Diagnostics> {
    encode_msgpack(value, ty)
        .map(|msgpack| DynamicValue {
            msgpack,
            json: Vec::new(),
        })
        .map_err(|err| {
            Diagnostic::error(
                "Cannot encode a value for Terraform",
                format!("{err}. This is a bug in the provider; please report it."),
            )
            .into()
        })
}

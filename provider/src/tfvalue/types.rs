//! Schema types (the subset of cty types the provider's schemas use).

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{json, Value as Json};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Type {
    String,
    Number,
    Bool,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Object(BTreeMap<String, Type>),
}

impl Type {
    pub fn list(elem: Type) -> Type {
        Type::List(Box::new(elem))
    }

    pub fn set(elem: Type) -> Type {
        Type::Set(Box::new(elem))
    }

    pub fn map(elem: Type) -> Type {
        Type::Map(Box::new(elem))
    }

    pub fn object<'a>(attrs: impl IntoIterator<Item = (&'a str, Type)>) -> Type {
        Type::Object(attrs.into_iter().map(|(k, t)| (k.to_owned(), t)).collect())
    }

    /// cty's JSON type notation, as Terraform expects in schemas.
    pub fn to_json(&self) -> Json {
        match self {
            Type::String => json!("string"),
            Type::Number => json!("number"),
            Type::Bool => json!("bool"),
            Type::List(e) => json!(["list", e.to_json()]),
            Type::Set(e) => json!(["set", e.to_json()]),
            Type::Map(e) => json!(["map", e.to_json()]),
            Type::Object(attrs) => {
                let attrs: serde_json::Map<String, Json> = attrs
                    .iter()
                    .map(|(k, t)| (k.clone(), t.to_json()))
                    .collect();
                json!(["object", attrs])
            }
        }
    }

    /// The bytes for `Schema.Attribute.type`.
    pub fn type_bytes(&self) -> Vec<u8> {
        self.to_json().to_string().into_bytes()
    }
}

/// Short human name for error messages ("list of string"), like cty's
/// friendly names; objects are not spelled out since the path says which.
impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::String => f.write_str("string"),
            Type::Number => f.write_str("number"),
            Type::Bool => f.write_str("bool"),
            Type::List(e) => write!(f, "list of {e}"),
            Type::Set(e) => write!(f, "set of {e}"),
            Type::Map(e) => write!(f, "map of {e}"),
            Type::Object(_) => f.write_str("object"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_notation() {
        let t = Type::object([
            ("name", Type::String),
            ("tags", Type::set(Type::String)),
            ("labels", Type::map(Type::Bool)),
            ("members", Type::list(Type::object([("n", Type::Number)]))),
        ]);
        assert_eq!(
            t.to_json(),
            json!(["object", {
                "name": "string",
                "tags": ["set", "string"],
                "labels": ["map", "bool"],
                "members": ["list", ["object", {"n": "number"}]],
            }])
        );
        let bytes = t.type_bytes();
        let back: Json = serde_json::from_slice(&bytes).expect("type bytes are JSON");
        assert_eq!(back, t.to_json());
        assert_eq!(Type::String.type_bytes(), b"\"string\"");
    }

    #[test]
    fn display() {
        assert_eq!(
            Type::list(Type::map(Type::Number)).to_string(),
            "list of map of number"
        );
    }
}

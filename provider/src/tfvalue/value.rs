//! Dynamic Terraform values.

use std::collections::BTreeMap;

/// A value of some [`Type`](super::Type). The type is not stored: the schema
/// supplies it to the codecs, as in Terraform itself.
///
/// `Set` keeps elements in wire order; Terraform never sends duplicates and
/// the provider does not need set semantics beyond iteration.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Unknown,
    String(String),
    Number(Number),
    Bool(bool),
    List(Vec<Value>),
    Set(Vec<Value>),
    Map(BTreeMap<String, Value>),
    Object(BTreeMap<String, Value>),
}

/// A cty number, narrowed to what the provider can use.
///
/// Invariant: `Float` never holds an integral value that fits in `i64`, so
/// `3` and `3.0` compare equal however they arrived. Build floats with
/// [`Number::from_f64`] to keep it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number {
    Int(i64),
    Float(f64),
}

/// 2^63: the first float above `i64::MAX`.
const I64_BOUND: f64 = 9_223_372_036_854_775_808.0;

impl Number {
    /// Normalises integral floats within `i64` range to `Int`.
    pub fn from_f64(f: f64) -> Number {
        if f.fract() == 0.0 && (-I64_BOUND..I64_BOUND).contains(&f) {
            // Exact: f is integral and in range.
            Number::Int(f as i64)
        } else {
            Number::Float(f)
        }
    }

    /// Values above `i64::MAX` become (possibly rounded) floats.
    pub fn from_u64(u: u64) -> Number {
        match i64::try_from(u) {
            Ok(i) => Number::Int(i),
            Err(_) => Number::Float(u as f64),
        }
    }

    /// Parses decimal text, as Terraform sends numbers too big for its
    /// native encodings. Rejects non-finite results and Rust-only spellings
    /// such as `inf`/`NaN`.
    pub fn parse(text: &str) -> Result<Number, String> {
        let decimal_chars =
            |c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E');
        if !text.chars().any(|c| c.is_ascii_digit()) || !text.chars().all(decimal_chars) {
            return Err(format!("{text:?} is not a decimal number"));
        }
        if let Ok(i) = text.parse::<i64>() {
            return Ok(Number::Int(i));
        }
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Number::from_f64(f)),
            Ok(_) => Err(format!("number {text} is out of range")),
            Err(_) => Err(format!("{text:?} is not a decimal number")),
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Number::Int(i) => Some(i),
            Number::Float(_) => None,
        }
    }

    pub fn as_f64(&self) -> f64 {
        match *self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }
}

impl From<i64> for Number {
    fn from(i: i64) -> Self {
        Number::Int(i)
    }
}

impl From<f64> for Number {
    fn from(f: f64) -> Self {
        Number::from_f64(f)
    }
}

impl Value {
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    pub fn int(i: i64) -> Value {
        Value::Number(Number::Int(i))
    }

    pub fn float(f: f64) -> Value {
        Value::Number(Number::from_f64(f))
    }

    pub fn opt_string(s: Option<String>) -> Value {
        s.map_or(Value::Null, Value::String)
    }

    pub fn object<K: Into<String>>(attrs: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Object(attrs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown)
    }

    pub fn is_known(&self) -> bool {
        !self.is_unknown()
    }

    /// True when no unknown appears anywhere inside, e.g. before acting on
    /// a planned value.
    pub fn is_wholly_known(&self) -> bool {
        match self {
            Value::Unknown => false,
            Value::List(items) | Value::Set(items) => items.iter().all(Value::is_wholly_known),
            Value::Map(m) | Value::Object(m) => m.values().all(Value::is_wholly_known),
            _ => true,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<Number> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        self.as_number().and_then(|n| n.as_i64())
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// Elements of a list or set.
    pub fn elements(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) | Value::Set(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// An object attribute; `Null` when absent or when `self` is not an
    /// object (a null or unknown block), so lookups chain without checks.
    pub fn get(&self, attr: &str) -> &Value {
        match self {
            Value::Object(attrs) => attrs.get(attr).unwrap_or(&Value::Null),
            _ => &Value::Null,
        }
    }

    pub fn get_mut(&mut self, attr: &str) -> Option<&mut Value> {
        match self {
            Value::Object(attrs) => attrs.get_mut(attr),
            _ => None,
        }
    }

    /// Sets an object attribute. A non-object `self` (typically `Null`
    /// while building a value) is replaced by an object first.
    pub fn set(&mut self, attr: impl Into<String>, value: Value) {
        if !matches!(self, Value::Object(_)) {
            *self = Value::Object(BTreeMap::new());
        }
        if let Value::Object(attrs) = self {
            attrs.insert(attr.into(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_normalise() {
        assert_eq!(Number::from_f64(3.0), Number::Int(3));
        assert_eq!(Number::from_f64(-0.0), Number::Int(0));
        assert_eq!(Number::from_f64(2.5), Number::Float(2.5));
        assert_eq!(Number::from_f64(-I64_BOUND), Number::Int(i64::MIN));
        assert_eq!(Number::from_f64(I64_BOUND), Number::Float(I64_BOUND));
        assert_eq!(Number::from_u64(u64::MAX), Number::Float(u64::MAX as f64));
        assert_eq!(Number::from_u64(7), Number::Int(7));
    }

    #[test]
    fn numbers_parse() {
        assert_eq!(Number::parse("42"), Ok(Number::Int(42)));
        assert_eq!(Number::parse("-1.5e3"), Ok(Number::Int(-1500)));
        assert_eq!(Number::parse("0.25"), Ok(Number::Float(0.25)));
        assert_eq!(Number::parse("1e20"), Ok(Number::Float(1e20)));
        for bad in ["", "inf", "NaN", "1e400", " 1", "1x", "--1", "."] {
            assert!(Number::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn helpers() {
        let mut v = Value::Null;
        v.set("name", Value::string("a"));
        v.set("size", Value::int(3));
        assert_eq!(v.get("name").as_str(), Some("a"));
        assert_eq!(v.get("size").as_i64(), Some(3));
        assert!(v.get("missing").is_null());
        assert!(Value::Unknown.get("x").is_null());
        if let Some(size) = v.get_mut("size") {
            *size = Value::Unknown;
        }
        assert!(v.is_known());
        assert!(!v.is_wholly_known());
        assert!(v.get("size").is_unknown());
        assert_eq!(Value::opt_string(None), Value::Null);
        assert_eq!(Value::opt_string(Some("x".into())), Value::string("x"));
        assert_eq!(Value::Bool(true).as_bool(), Some(true));
        assert_eq!(Value::float(4.0), Value::int(4));
        let l = Value::List(vec![Value::Null, Value::Set(vec![Value::Unknown])]);
        assert!(!l.is_wholly_known());
        assert_eq!(l.elements().map(<[Value]>::len), Some(2));
    }
}

//! The schema model: attributes with their type, presence, flags and
//! validators, and nested blocks (only `timeouts` so far).

use crate::tfvalue::{Type, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    Required,
    Optional,
    /// Set by the provider only.
    Computed,
    /// Set by the user, else by the provider.
    OptionalComputed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nesting {
    Single,
    List,
    Set,
}

/// A rule a configured value must follow. `rule` is the sentence the docs
/// show; `check` returns the error's detail when the value breaks it.
#[derive(Clone, Copy)]
pub struct Validator {
    pub rule: &'static str,
    pub check: fn(&Value) -> Result<(), String>,
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.rule)
    }
}

#[derive(Clone, Debug)]
pub enum Kind {
    Plain(Type),
    /// A nested attribute: objects of these attributes, nested so.
    Nested(Nesting, Vec<Attribute>),
}

#[derive(Clone, Debug)]
pub struct Attribute {
    pub name: &'static str,
    pub kind: Kind,
    pub presence: Presence,
    pub description: &'static str,
    pub sensitive: bool,
    /// Changing it replaces the object (RequiresReplace).
    pub force_new: bool,
    pub validators: Vec<Validator>,
    /// The value planned when the configuration leaves an optional+computed
    /// attribute null.
    pub default: Option<Value>,
    /// A computed value any change may alter (such as a status): unknown in
    /// every plan that changes the object.
    pub volatile: bool,
}

impl Attribute {
    pub fn new(name: &'static str, ty: Type) -> Self {
        Self {
            name,
            kind: Kind::Plain(ty),
            presence: Presence::Optional,
            description: "",
            sensitive: false,
            force_new: false,
            validators: Vec::new(),
            default: None,
            volatile: false,
        }
    }
    pub fn string(name: &'static str) -> Self {
        Self::new(name, Type::String)
    }
    pub fn number(name: &'static str) -> Self {
        Self::new(name, Type::Number)
    }
    pub fn bool(name: &'static str) -> Self {
        Self::new(name, Type::Bool)
    }
    /// Optional, and `value` when left out.
    pub fn default(mut self, value: Value) -> Self {
        self.presence = Presence::OptionalComputed;
        self.default = Some(value);
        self
    }
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }
    pub fn nested(name: &'static str, nesting: Nesting, attributes: Vec<Attribute>) -> Self {
        Self {
            kind: Kind::Nested(nesting, attributes),
            ..Self::string(name)
        }
    }
    pub fn required(mut self) -> Self {
        self.presence = Presence::Required;
        self
    }
    pub fn optional(mut self) -> Self {
        self.presence = Presence::Optional;
        self
    }
    pub fn computed(mut self) -> Self {
        self.presence = Presence::Computed;
        self
    }
    pub fn optional_computed(mut self) -> Self {
        self.presence = Presence::OptionalComputed;
        self
    }
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }
    pub fn force_new(mut self) -> Self {
        self.force_new = true;
        self
    }
    pub fn describe(mut self, description: &'static str) -> Self {
        self.description = description;
        self
    }
    pub fn validate(mut self, validator: Validator) -> Self {
        self.validators.push(validator);
        self
    }

    pub fn ty(&self) -> Type {
        match &self.kind {
            Kind::Plain(ty) => ty.clone(),
            Kind::Nested(nesting, attributes) => {
                let object = object_type(attributes, &[]);
                match nesting {
                    Nesting::Single => object,
                    Nesting::List => Type::list(object),
                    Nesting::Set => Type::set(object),
                }
            }
        }
    }

    pub fn is_computed(&self) -> bool {
        matches!(
            self.presence,
            Presence::Computed | Presence::OptionalComputed
        )
    }
}

#[derive(Clone, Debug)]
pub struct Block {
    pub type_name: &'static str,
    pub nesting: Nesting,
    pub description: &'static str,
    pub attributes: Vec<Attribute>,
}

impl Block {
    pub fn ty(&self) -> Type {
        let object = object_type(&self.attributes, &[]);
        match self.nesting {
            Nesting::Single => object,
            Nesting::List => Type::list(object),
            Nesting::Set => Type::set(object),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Schema {
    pub version: i64,
    pub description: &'static str,
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<Block>,
}

impl Schema {
    /// The type of a whole value of this schema, for the codecs.
    pub fn value_type(&self) -> Type {
        object_type(&self.attributes, &self.blocks)
    }

    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }
}

fn object_type(attributes: &[Attribute], blocks: &[Block]) -> Type {
    let mut fields = std::collections::BTreeMap::new();
    for attribute in attributes {
        fields.insert(attribute.name.to_string(), attribute.ty());
    }
    for block in blocks {
        fields.insert(block.type_name.to_string(), block.ty());
    }
    Type::Object(fields)
}

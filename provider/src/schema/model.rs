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
    /// Write-only (Terraform 1.11+): Terraform passes the configured value
    /// to validation and apply only; the plan and the state always hold
    /// null. Top-level, non-computed attributes only.
    pub write_only: bool,
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
            write_only: false,
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
    /// Write-only: for secrets. The value reaches validation and, through
    /// `Ctx::config`, create and update; plan and state keep null.
    pub fn write_only(mut self) -> Self {
        self.write_only = true;
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

    /// The write-only attributes.
    pub fn write_only(&self) -> impl Iterator<Item = &Attribute> {
        self.attributes.iter().filter(|a| a.write_only)
    }

    /// `value` with every write-only attribute null, as Terraform requires
    /// of a plan and of a state.
    pub fn without_write_only(&self, value: &Value) -> Value {
        let mut value = value.clone();
        if let Value::Object(_) = value {
            for attribute in self.write_only() {
                value.set(attribute.name, Value::Null);
            }
        }
        value
    }

    /// Mistakes in the schema itself that Terraform would reject when it
    /// loads it (or that make no sense with the write-only rules): empty
    /// when the schema is sound. Checked by a test over every type.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for attribute in &self.attributes {
            let name = attribute.name;
            if attribute.write_only {
                if attribute.is_computed() {
                    problems.push(format!("{name}: a write-only attribute cannot be computed"));
                }
                if attribute.force_new {
                    problems.push(format!(
                        "{name}: a write-only attribute is always null in state, so it cannot force replacement"
                    ));
                }
            }
            if let Kind::Nested(_, nested) = &attribute.kind {
                for inner in nested.iter().filter(|a| a.write_only) {
                    problems.push(format!(
                        "{name}.{}: only top-level attributes may be write-only here",
                        inner.name
                    ));
                }
            }
        }
        for block in &self.blocks {
            for inner in block.attributes.iter().filter(|a| a.write_only) {
                problems.push(format!(
                    "{}.{}: only top-level attributes may be write-only here",
                    block.type_name, inner.name
                ));
            }
        }
        problems
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

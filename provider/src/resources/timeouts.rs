//! The standard `timeouts` block and how long each operation may take.

use std::time::Duration;

use crate::schema::{validators, Attribute, Block, Nesting};
use crate::tfvalue::Value;

#[derive(Clone, Copy, Debug)]
pub enum Operation {
    Create,
    Read,
    Update,
    Delete,
}

impl Operation {
    fn key(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Read => "read",
            Operation::Update => "update",
            Operation::Delete => "delete",
        }
    }

    /// The configured timeout for this operation in `value`'s `timeouts`
    /// block, else `default`.
    pub fn timeout(self, value: &Value, default: Duration) -> Duration {
        value
            .get("timeouts")
            .get(self.key())
            .as_str()
            .and_then(validators::parse_duration)
            .unwrap_or(default)
    }
}

pub fn timeouts_block(operations: &[Operation]) -> Block {
    Block {
        type_name: "timeouts",
        nesting: Nesting::Single,
        description: "How long each operation may take before Terraform gives up waiting.",
        attributes: operations
            .iter()
            .map(|op| {
                Attribute::string(op.key())
                    .optional()
                    .describe(match op {
                        Operation::Create => "Time allowed for a create, such as \"10m\".",
                        Operation::Read => "Time allowed for a refresh.",
                        Operation::Update => "Time allowed for an in-place update.",
                        Operation::Delete => "Time allowed for a destroy.",
                    })
                    .validate(validators::DURATION)
            })
            .collect(),
    }
}

/// `state` with the `timeouts` block of `shape` (the configuration or the
/// prior state): the agent does not know it, Terraform expects it back.
pub fn with_timeouts(mut state: Value, shape: &Value) -> Value {
    if !shape.get("timeouts").is_null() {
        state.set("timeouts", shape.get("timeouts").clone());
    }
    state
}

//! Checking a gateway configuration before anything is sent, with the
//! gateway's own rules (`giif-pagw`): the agent refuses exactly what the
//! gateway would, and every problem names its field.

use std::fmt;

pub use giif_pagw::FieldProblem;

use super::model::{prefix_len, GatewayConfig};
use crate::drivers::pagw::wire::document;

/// A configuration no gateway should run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct InvalidConfig {
    pub problems: Vec<FieldProblem>,
}

impl fmt::Display for InvalidConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let problems: Vec<String> = self.problems.iter().map(ToString::to_string).collect();
        write!(f, "invalid gateway configuration: {}", problems.join("; "))
    }
}

impl GatewayConfig {
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        let mut problems = Vec::new();
        if prefix_len(self.public.netmask).is_none() {
            problems.push(FieldProblem {
                field: "wan.address".into(),
                message: format!("netmask {} is not contiguous", self.public.netmask),
            });
        }
        problems.extend(document(self).problems());
        match problems.is_empty() {
            true => Ok(()),
            false => Err(InvalidConfig { problems }),
        }
    }
}

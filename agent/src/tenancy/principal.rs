//! Principals: the people the agent's CA issued certificates to.

use std::fmt;
use std::str::FromStr;

/// What a principal may do beyond its projects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Runs the site: everything, including inventory, quotas and any project.
    Operator,
    /// A tenant: the projects they own or are a member of.
    User,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::User => "user",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "operator" => Ok(Role::Operator),
            "user" => Ok(Role::User),
            other => Err(format!(
                "{other:?} is not a role; use \"operator\" or \"user\""
            )),
        }
    }
}

/// A principal as the store records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The person's Guacamole user name, also their certificates' common name.
    pub name: String,
    pub role: Role,
}

/// Who made one call: the principal and the certificate they presented.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub principal: Principal,
    /// The certificate's serial, lower-case hex.
    pub serial: String,
    /// The fingerprint of the call's request, for a mutating call: kept
    /// with its request id, so the id cannot be reused for other content.
    pub request_fingerprint: Option<String>,
}

impl Caller {
    pub fn name(&self) -> &str {
        &self.principal.name
    }

    pub fn is_operator(&self) -> bool {
        self.principal.role == Role::Operator
    }
}

impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.principal.name, self.principal.role)
    }
}

/// Whether `name` can be a principal: a Guacamole user name that is also a
/// safe certificate common name and file name.
pub fn name_problem(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
        && !name.starts_with(['.', '-']);
    (!ok).then(|| {
        format!(
            "{name:?} is not a principal name: use 1 to 64 letters, digits, '-', '_', '.' or '@', \
             not starting with '.' or '-' (the person's Guacamole user name)"
        )
    })
}

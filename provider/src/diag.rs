//! Diagnostics: what the provider tells the user, with the attribute path
//! that lets Terraform point at the offending line of configuration.

use giif_proto::tfplugin6 as tf;

/// A path into a resource's value: `name`, `members[2].role`, `labels["k"]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttrPath(pub Vec<PathStep>);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathStep {
    Attribute(String),
    Key(String),
    Index(i64),
}

impl AttrPath {
    pub fn root() -> Self {
        Self(Vec::new())
    }
    pub fn attr(name: &str) -> Self {
        Self(vec![PathStep::Attribute(name.to_string())])
    }
    pub fn then_attr(&self, name: &str) -> Self {
        let mut steps = self.0.clone();
        steps.push(PathStep::Attribute(name.to_string()));
        Self(steps)
    }
    pub fn then_index(&self, index: i64) -> Self {
        let mut steps = self.0.clone();
        steps.push(PathStep::Index(index));
        Self(steps)
    }
    pub fn then_key(&self, key: &str) -> Self {
        let mut steps = self.0.clone();
        steps.push(PathStep::Key(key.to_string()));
        Self(steps)
    }

    /// Reads a path written as [`Display`](std::fmt::Display) writes it:
    /// `cloud_init.ip`, `members[2].role`, `parameters["color-depth"]`.
    /// `None` for text that is not such a path.
    pub fn parse(text: &str) -> Option<Self> {
        let mut steps = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("[\"") {
                let mut key = String::new();
                let mut chars = after.char_indices();
                let end = loop {
                    match chars.next()? {
                        (i, '"') => break i,
                        (_, '\\') => match chars.next()?.1 {
                            'n' => key.push('\n'),
                            't' => key.push('\t'),
                            other => key.push(other),
                        },
                        (_, c) => key.push(c),
                    }
                };
                rest = after[end + 1..].strip_prefix(']')?;
                steps.push(PathStep::Key(key));
            } else if let Some(after) = rest.strip_prefix('[') {
                let (index, tail) = after.split_once(']')?;
                steps.push(PathStep::Index(index.parse().ok()?));
                rest = tail;
            } else {
                let name_text = if steps.is_empty() {
                    rest
                } else {
                    rest.strip_prefix('.')?
                };
                let end = name_text.find(['.', '[']).unwrap_or(name_text.len());
                let name = &name_text[..end];
                if name.is_empty() {
                    return None;
                }
                steps.push(PathStep::Attribute(name.to_string()));
                rest = &name_text[end..];
            }
        }
        (!steps.is_empty()).then_some(Self(steps))
    }

    pub fn to_proto(&self) -> tf::AttributePath {
        use tf::attribute_path::step::Selector;
        let steps = self
            .0
            .iter()
            .map(|step| tf::attribute_path::Step {
                selector: Some(match step {
                    PathStep::Attribute(name) => Selector::AttributeName(name.clone()),
                    PathStep::Key(key) => Selector::ElementKeyString(key.clone()),
                    PathStep::Index(i) => Selector::ElementKeyInt(*i),
                }),
            })
            .collect();
        tf::AttributePath { steps }
    }
}

impl std::fmt::Display for AttrPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                PathStep::Attribute(name) if i == 0 => write!(f, "{name}")?,
                PathStep::Attribute(name) => write!(f, ".{name}")?,
                PathStep::Key(key) => write!(f, "[{key:?}]")?,
                PathStep::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub summary: String,
    pub detail: String,
    pub path: Option<AttrPath>,
}

impl Diagnostic {
    pub fn error(summary: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            summary: summary.into(),
            detail: detail.into(),
            path: None,
        }
    }
    pub fn warning(summary: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(summary, detail)
        }
    }
    pub fn at(mut self, path: AttrPath) -> Self {
        self.path = Some(path);
        self
    }

    pub fn to_proto(&self) -> tf::Diagnostic {
        tf::Diagnostic {
            severity: match self.severity {
                Severity::Error => tf::diagnostic::Severity::Error,
                Severity::Warning => tf::diagnostic::Severity::Warning,
            } as i32,
            summary: self.summary.clone(),
            detail: self.detail.clone(),
            attribute: self.path.as_ref().map(AttrPath::to_proto),
        }
    }
}

/// The diagnostics of one RPC.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.0.push(diagnostic);
    }
    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }
    pub fn to_proto(&self) -> Vec<tf::Diagnostic> {
        self.0.iter().map(Diagnostic::to_proto).collect()
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(diagnostic: Diagnostic) -> Self {
        Self(vec![diagnostic])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_back_as_written() {
        let paths = [
            AttrPath::attr("name"),
            AttrPath::attr("cloud_init").then_attr("ip"),
            AttrPath::attr("members").then_index(2).then_attr("role"),
            AttrPath::attr("parameters").then_key("color-depth"),
            AttrPath::attr("labels").then_key("a \"quoted\" key.with[dots]"),
        ];
        for path in paths {
            assert_eq!(
                AttrPath::parse(&path.to_string()),
                Some(path.clone()),
                "{path}"
            );
        }
        assert_eq!(
            AttrPath::parse("parameters[\"color-depth\"]"),
            Some(AttrPath::attr("parameters").then_key("color-depth"))
        );
        for bad in ["", ".name", "name.", "a[", "a[x]", "a[\"k\"", "a..b"] {
            assert_eq!(AttrPath::parse(bad), None, "{bad:?}");
        }
    }
}

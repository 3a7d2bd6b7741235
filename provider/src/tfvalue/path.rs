//! Attribute paths for error messages, rendered the way Terraform prints them
//! (`.members[2].role`, `.labels["k"]`).

/// A path built up while walking a value. Kept as one string that is pushed
/// onto and truncated back, so the happy path never allocates per element.
#[derive(Default)]
pub(crate) struct Path(String);

impl Path {
    pub(crate) fn root() -> Self {
        Self::default()
    }

    pub(crate) fn render(&self) -> String {
        self.0.clone()
    }

    /// Runs `f` with `.name` appended, restoring the path afterwards.
    pub(crate) fn attr<R>(&mut self, name: &str, f: impl FnOnce(&mut Self) -> R) -> R {
        self.scoped(
            |s| {
                s.push('.');
                s.push_str(name);
            },
            f,
        )
    }

    /// Runs `f` with `[i]` appended (lists and sets).
    pub(crate) fn index<R>(&mut self, i: usize, f: impl FnOnce(&mut Self) -> R) -> R {
        self.scoped(|s| s.push_str(&format!("[{i}]")), f)
    }

    /// Runs `f` with `["key"]` appended (maps).
    pub(crate) fn key<R>(&mut self, key: &str, f: impl FnOnce(&mut Self) -> R) -> R {
        self.scoped(|s| s.push_str(&format!("[{key:?}]")), f)
    }

    fn scoped<R>(&mut self, push: impl FnOnce(&mut String), f: impl FnOnce(&mut Self) -> R) -> R {
        let len = self.0.len();
        push(&mut self.0);
        let out = f(self);
        self.0.truncate(len);
        out
    }
}

/// How a path is shown in messages; the empty path is the value itself.
pub(crate) fn show(path: &str) -> &str {
    if path.is_empty() {
        "(root)"
    } else {
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_terraform_style() {
        let mut p = Path::root();
        let s = p.attr("members", |p| {
            p.index(2, |p| p.attr("role", |p| p.render()))
        });
        assert_eq!(s, ".members[2].role");
        let s = p.attr("labels", |p| p.key("k", |p| p.render()));
        assert_eq!(s, ".labels[\"k\"]");
        assert_eq!(p.render(), "");
        assert_eq!(show(""), "(root)");
    }
}

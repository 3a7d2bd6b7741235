//! The site inventory file (TOML) that `giif-agent inventory import` loads.
//! A bad file is refused whole, with the line, the field and the reason.

use serde::Deserialize;
use toml::Spanned;

use crate::store::VlanPoolSpec;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteFile {
    pub project_vlans: ProjectVlans,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectVlans {
    #[serde(default = "default_pool_name")]
    pub name: String,
    pub first: Spanned<u32>,
    pub last: Spanned<u32>,
    #[serde(default = "no_reserved")]
    pub reserved: Spanned<Vec<u32>>,
}

fn no_reserved() -> Spanned<Vec<u32>> {
    Spanned::new(0..0, Vec::new())
}

fn default_pool_name() -> String {
    "project-segments".to_string()
}

/// One problem in the site file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {field}: {reason}")]
pub struct SiteFileError {
    pub file: String,
    pub line: usize,
    pub field: String,
    pub reason: String,
}

/// The inventory a valid site file describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    pub project_vlans: VlanPoolSpec,
}

pub fn parse(file: &str, text: &str) -> Result<Inventory, Vec<SiteFileError>> {
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let site: SiteFile = toml::from_str(text).map_err(|err| {
        let line = err.span().map(|s| line_of(s.start)).unwrap_or(1);
        vec![SiteFileError {
            file: file.to_string(),
            line,
            field: "(syntax)".to_string(),
            reason: err.message().to_string(),
        }]
    })?;
    let mut errors = Vec::new();
    let mut problem = |span: std::ops::Range<usize>, field: &str, reason: String| {
        errors.push(SiteFileError {
            file: file.to_string(),
            line: line_of(span.start),
            field: field.to_string(),
            reason,
        })
    };
    let vlans = &site.project_vlans;
    for (value, field) in [
        (&vlans.first, "project_vlans.first"),
        (&vlans.last, "project_vlans.last"),
    ] {
        if !(1..=4094).contains(value.get_ref()) {
            problem(
                value.span(),
                field,
                format!("{} is not a usable VLAN id; use 1 to 4094", value.get_ref()),
            );
        }
    }
    if vlans.first.get_ref() > vlans.last.get_ref() {
        problem(
            vlans.last.span(),
            "project_vlans.last",
            format!(
                "the range ends ({}) before it starts ({}); last must be at least first",
                vlans.last.get_ref(),
                vlans.first.get_ref()
            ),
        );
    }
    for vlan in vlans.reserved.get_ref() {
        if vlan < vlans.first.get_ref() || vlan > vlans.last.get_ref() {
            problem(
                vlans.reserved.span(),
                "project_vlans.reserved",
                format!(
                    "{vlan} is outside the range {}-{}; list only VLANs of the range",
                    vlans.first.get_ref(),
                    vlans.last.get_ref()
                ),
            );
        }
    }
    if let Some(reason) = giif_proto::rules::dns_label_problem(&vlans.name) {
        problem(0..0, "project_vlans.name", reason);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Inventory {
        project_vlans: VlanPoolSpec {
            name: vlans.name.clone(),
            first: *vlans.first.get_ref(),
            last: *vlans.last.get_ref(),
            reserved: vlans.reserved.get_ref().clone(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_good_file() {
        let inventory = parse(
            "site.toml",
            "[project_vlans]\nfirst = 100\nlast = 110\nreserved = [105]\n",
        )
        .expect("valid");
        assert_eq!(inventory.project_vlans.name, "project-segments");
        assert_eq!(inventory.project_vlans.size(), 10);
    }

    #[test]
    fn errors_name_line_field_and_reason() {
        let errors =
            parse("site.toml", "[project_vlans]\nfirst = 200\nlast = 100\n").expect_err("invalid");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 3);
        assert_eq!(errors[0].field, "project_vlans.last");
        assert!(errors[0]
            .to_string()
            .starts_with("site.toml:3: project_vlans.last: the range ends"));
    }

    #[test]
    fn unknown_fields_are_refused_with_their_line() {
        let errors = parse(
            "site.toml",
            "[project_vlans]\nfirst = 1\nlast = 2\nsize = 3\n",
        )
        .expect_err("invalid");
        assert_eq!(errors[0].line, 4);
        assert!(errors[0].reason.contains("size"), "{}", errors[0].reason);
    }

    #[test]
    fn out_of_range_vlans() {
        let errors = parse(
            "s",
            "[project_vlans]\nfirst = 0\nlast = 5000\nreserved = [7000]\n",
        )
        .expect_err("invalid");
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "project_vlans.first",
                "project_vlans.last",
                "project_vlans.reserved"
            ]
        );
    }
}

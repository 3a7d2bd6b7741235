//! The registry documentation, generated from the schemas and the examples
//! so it cannot drift: `docs/index.md`, `docs/resources/<name>.md`,
//! `docs/data-sources/<name>.md`, `docs/list-resources/<name>.md` and
//! `docs/actions/<name>.md`.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use crate::provider_config::PROVIDER_SCHEMA;
use crate::resources::Registry;
use crate::schema::{Attribute, Block, Kind, Nesting, Presence, Schema};

/// Every page, as (path under `docs/`, contents). `examples` is the
/// repository's `examples/` directory.
pub fn render_all(examples: &Path) -> Vec<(PathBuf, String)> {
    let registry = Registry::new();
    let mut pages = vec![(PathBuf::from("index.md"), index_page(examples))];
    for resource in &registry.resources {
        let type_name = resource.type_name();
        let dir = examples.join("resources").join(type_name);
        pages.push((
            PathBuf::from("resources").join(format!("{}.md", short_name(type_name))),
            type_page(type_name, "Resource", resource.schema(), &dir, true),
        ));
        let dir = examples.join("list-resources").join(type_name);
        pages.push((
            PathBuf::from("list-resources").join(format!("{}.md", short_name(type_name))),
            type_page(
                type_name,
                "List Resource",
                resource.list_schema(),
                &dir,
                false,
            ),
        ));
    }
    for action in &registry.actions {
        let dir = examples.join("actions").join(action.type_name);
        pages.push((
            PathBuf::from("actions").join(format!("{}.md", short_name(action.type_name))),
            type_page(action.type_name, "Action", action.schema, &dir, false),
        ));
    }
    for source in &registry.data_sources {
        let type_name = source.type_name();
        let dir = examples.join("data-sources").join(type_name);
        pages.push((
            PathBuf::from("data-sources").join(format!("{}.md", short_name(type_name))),
            type_page(type_name, "Data Source", source.schema(), &dir, false),
        ));
    }
    pages
}

fn short_name(type_name: &str) -> &str {
    type_name.strip_prefix("giif_").unwrap_or(type_name)
}

fn read_example(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim_end().to_string())
}

fn index_page(examples: &Path) -> String {
    let mut page = String::from(
        "---\npage_title: \"Provider: giif\"\ndescription: |-\n  Manage giif projects, gateways, bare-metal servers, VMs, floating IPs and Guacamole consoles.\n---\n\n# giif Provider\n\n",
    );
    page.push_str(PROVIDER_SCHEMA.description);
    page.push_str("\n\n");
    if let Some(example) = read_example(&examples.join("provider").join("provider.tf")) {
        let _ = write!(page, "## Example Usage\n\n```terraform\n{example}\n```\n\n");
    }
    page.push_str(VERSIONS);
    page.push_str(&schema_section(&PROVIDER_SCHEMA));
    page
}

/// Which Terraform and OpenTofu releases each feature needs, and what the
/// tests run under.
const VERSIONS: &str = "## Terraform and OpenTofu versions

| feature | Terraform | OpenTofu |
| --- | --- | --- |
| resources, data sources, import by id (plugin protocol 6) | 1.11 | 1.8 |
| write-only attributes (`password` of `giif_guacamole_connection`) | 1.11 | 1.11 |
| resource identity, `import` blocks with `identity` | 1.12 | 1.12 |
| list resources (`terraform query`, `-generate-config-out`) | 1.14 | not supported |
| actions (`action` blocks, `-invoke`, `action_trigger`) | 1.14 | not supported |

Older clients that set a write-only attribute get an error that names these minimums, at plan time; the provider
never defers a change. Clients without identity, list resources or actions never ask for them, and everything else
works as before. The acceptance tests run under Terraform 1.11.4 and 1.15.5, and the identity, list and action tests
under 1.14.9 and 1.15.5. No OpenTofu binary can be had where they run, so OpenTofu's calls (no client capabilities
before 1.11, deferral allowed from 1.11, no identity calls before 1.12, no `GetFunctions` served) are tested at the
protocol level.

";

fn type_page(type_name: &str, kind: &str, schema: &Schema, dir: &Path, importable: bool) -> String {
    let summary = schema
        .description
        .split(". ")
        .next()
        .unwrap_or_default()
        .trim_end_matches('.');
    let mut page = format!(
        "---\npage_title: \"{type_name} {kind} - giif\"\nsubcategory: \"\"\ndescription: |-\n  {summary}.\n---\n\n# {type_name} ({kind})\n\n{}\n\n",
        schema.description
    );
    let example = match kind {
        "Resource" => "resource.tf",
        "List Resource" => "list.tfquery.hcl",
        "Action" => "action.tf",
        _ => "data-source.tf",
    };
    if let Some(example) = read_example(&dir.join(example)) {
        let _ = write!(page, "## Example Usage\n\n```terraform\n{example}\n```\n\n");
    }
    if kind == "List Resource" {
        page.push_str(LIST_NOTE);
    }
    page.push_str(&schema_section(schema));
    if importable {
        if let Some(import) = read_example(&dir.join("import.sh")) {
            let _ = write!(page, "\n## Import\n\nImport is supported using the following syntax:\n\n```shell\n{import}\n```\n");
        }
        page.push_str(&identity_section(type_name));
    }
    page
}

/// What every list resource page says of `terraform query`.
const LIST_NOTE: &str = "The filters go in the list block's `config` block; without one, the list finds every object \
of the type that the caller may read. `terraform query` prints what it finds (the display name is `project/name`), and \
`terraform query -generate-config-out=FILE` writes a resource block and an `import` block (by identity) for each, \
which the next `terraform apply` imports. Needs Terraform 1.14 or later.

";

/// The identity every resource has, and an import block that uses it.
fn identity_section(type_name: &str) -> String {
    format!(
        "\n## Identity\n\nSince Terraform 1.12 and OpenTofu 1.12, every object also has an identity, kept in the \
         state beside its attributes and shown by `terraform show -json`:\n\n\
         - `id` (String, required for import) The agent's id of the object, the same as its `id` attribute.\n\n\
         An `import` block may give the identity instead of an id:\n\n\
         ```terraform\nimport {{\n  to       = {type_name}.example\n  identity = {{\n    id = \"<the object's id>\"\n  }}\n}}\n```\n"
    )
}

fn schema_section(schema: &Schema) -> String {
    let mut out = String::from("<!-- schema generated by `make docs` -->\n## Schema\n");
    let mut nested = Vec::new();
    render_group(
        &mut out,
        &schema.attributes,
        &schema.blocks,
        "",
        &mut nested,
    );
    let mut index = 0;
    while index < nested.len() {
        let (anchor, title, attributes) = nested[index].clone();
        let _ = write!(
            out,
            "\n<a id=\"{anchor}\"></a>\n### Nested Schema for `{title}`\n"
        );
        render_group(&mut out, &attributes, &[], &anchor, &mut nested);
        index += 1;
    }
    out
}

type NestedDoc = (String, String, Vec<Attribute>);

/// What every write-only attribute's line says about it.
pub const WRITE_ONLY_NOTE: &str = "Write-only: Terraform hands the value to the provider when it creates or \
    updates the object and keeps it neither in the plan nor in the state, so it always reads as null there; it \
    may come from an ephemeral value. Needs Terraform 1.11 or later.";

fn render_group(
    out: &mut String,
    attributes: &[Attribute],
    blocks: &[Block],
    parent: &str,
    nested: &mut Vec<NestedDoc>,
) {
    let sections = [
        ("Required", Presence::Required),
        ("Optional", Presence::Optional),
        ("Read-Only", Presence::Computed),
    ];
    for (title, presence) in sections {
        let mut lines = Vec::new();
        for attribute in attributes
            .iter()
            .filter(|a| section_of(a.presence) == presence)
        {
            lines.push(attribute_line(attribute, parent, nested));
        }
        if presence == Presence::Optional {
            for block in blocks {
                let anchor = format!("{}nestedblock--{}", prefix(parent), block.type_name);
                lines.push(format!(
                    "- `{}` (Block, {}) {} (see [below for nested schema](#{anchor}))",
                    block.type_name,
                    nesting_word(block.nesting),
                    block.description
                ));
                nested.push((
                    anchor,
                    block.type_name.to_string(),
                    block.attributes.clone(),
                ));
            }
        }
        if lines.is_empty() {
            continue;
        }
        // Top-level sections are headings; nested ones are labels, as the
        // registry renders them.
        if parent.is_empty() {
            let _ = write!(out, "\n### {title}\n\n{}\n", lines.join("\n"));
        } else {
            let _ = write!(out, "\n{title}:\n\n{}\n", lines.join("\n"));
        }
    }
}

fn attribute_line(attribute: &Attribute, parent: &str, nested: &mut Vec<NestedDoc>) -> String {
    let mut line = format!("- `{}` ({}", attribute.name, type_word(attribute));
    if attribute.sensitive {
        line.push_str(", Sensitive");
    }
    if attribute.write_only {
        line.push_str(", Write-only");
    }
    line.push_str(") ");
    line.push_str(attribute.description);
    for validator in &attribute.validators {
        line.push(' ');
        line.push_str(validator.rule);
    }
    if attribute.write_only {
        line.push(' ');
        line.push_str(WRITE_ONLY_NOTE);
    }
    if let Some(default) = &attribute.default {
        let _ = write!(line, " Defaults to `{}`.", hcl(default));
    }
    if let Kind::Nested(_, attributes) = &attribute.kind {
        let anchor = format!("{}nestedatt--{}", prefix(parent), attribute.name);
        let _ = write!(line, " (see [below for nested schema](#{anchor}))");
        nested.push((anchor, attribute.name.to_string(), attributes.clone()));
    }
    line
}

/// A value as it would be written in a configuration.
fn hcl(value: &crate::tfvalue::Value) -> String {
    use crate::tfvalue::Value;
    match value {
        Value::Null => "null".into(),
        Value::Unknown => "(known after apply)".into(),
        Value::String(s) => format!("{s:?}"),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.to_string(),
            None => n.as_f64().to_string(),
        },
        Value::List(items) | Value::Set(items) => {
            format!("[{}]", items.iter().map(hcl).collect::<Vec<_>>().join(", "))
        }
        Value::Map(fields) | Value::Object(fields) => format!(
            "{{ {} }}",
            fields
                .iter()
                .map(|(k, v)| format!("{k} = {}", hcl(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn prefix(parent: &str) -> String {
    if parent.is_empty() {
        String::new()
    } else {
        format!("{parent}--")
    }
}

fn section_of(presence: Presence) -> Presence {
    match presence {
        Presence::OptionalComputed => Presence::Optional,
        other => other,
    }
}

fn nesting_word(nesting: Nesting) -> &'static str {
    match nesting {
        Nesting::Single => "Optional",
        Nesting::List => "List",
        Nesting::Set => "Set",
    }
}

fn type_word(attribute: &Attribute) -> String {
    match &attribute.kind {
        Kind::Plain(ty) => {
            let text = ty.to_string();
            let mut chars = text.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => text,
            }
        }
        Kind::Nested(Nesting::Single, _) => "Attributes".into(),
        Kind::Nested(Nesting::List, _) => "Attributes List".into(),
        Kind::Nested(Nesting::Set, _) => "Attributes Set".into(),
    }
}

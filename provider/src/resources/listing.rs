//! List resources (`terraform query`, Terraform 1.14 onwards): every
//! resource type can be listed, filtered by project and by name, so a site
//! made by hand can be brought under Terraform in one go.

use giif_proto::agent as api;

use crate::schema::{Attribute, Schema};
use crate::tfvalue::Value;

/// What a type's listing finds.
pub struct Listing {
    pub kind: api::ObjectKind,
    /// The `name` filter's description: what it matches.
    pub name: &'static str,
}

/// One object found.
pub struct Listed {
    pub id: String,
    /// `project/name`, as `terraform query` prints it.
    pub display_name: String,
    /// The object's whole state, when Terraform asked for it.
    pub state: Option<Value>,
}

/// The `config` block of a type's list block.
pub fn filter_schema(listing: &Listing) -> Schema {
    Schema {
        version: 0,
        description:
            "Lists the objects of this type that the caller may read, for `terraform query`; \
            with `-generate-config-out`, Terraform writes their configuration and import blocks.",
        attributes: vec![
            Attribute::string("project")
                .optional()
                .describe("Only objects of this project, by id or name (case-insensitive)."),
            Attribute::string("name").optional().describe(listing.name),
        ],
        blocks: Vec::new(),
    }
}

/// The agent's request for a list block's `config`.
pub fn request(listing: &Listing, filter: &Value) -> api::ListObjectsRequest {
    let text = |name: &str| filter.get(name).as_str().unwrap_or_default().to_string();
    api::ListObjectsRequest {
        kind: listing.kind.into(),
        project: text("project"),
        name: text("name"),
    }
}

/// How `terraform query` names an object: the project's name first, except
/// for projects themselves and gateways (named by their project).
pub fn display_name(object: &api::ListedObject) -> String {
    if object.project_name.is_empty() || object.name == object.project_name {
        object.name.clone()
    } else {
        format!("{}/{}", object.project_name, object.name)
    }
}

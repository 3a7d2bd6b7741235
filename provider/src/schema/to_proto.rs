//! The schema as tfplugin6 describes it.

use giif_proto::tfplugin6 as tf;
use tf::schema::nested_block::NestingMode as BlockNesting;
use tf::schema::object::NestingMode as ObjectNesting;

use super::model::{Attribute, Block, Kind, Nesting, Presence, Schema};

impl Schema {
    pub fn to_proto(&self) -> tf::Schema {
        tf::Schema {
            version: self.version,
            block: Some(tf::schema::Block {
                version: self.version,
                attributes: self.attributes.iter().map(Attribute::to_proto).collect(),
                block_types: self.blocks.iter().map(Block::to_proto).collect(),
                description: self.description.to_string(),
                description_kind: tf::StringKind::Markdown as i32,
                deprecated: false,
            }),
        }
    }
}

impl Attribute {
    fn to_proto(&self) -> tf::schema::Attribute {
        let (ty, nested_type) = match &self.kind {
            Kind::Plain(ty) => (ty.type_bytes(), None),
            Kind::Nested(nesting, attributes) => (
                Vec::new(),
                Some(tf::schema::Object {
                    attributes: attributes.iter().map(Attribute::to_proto).collect(),
                    nesting: match nesting {
                        Nesting::Single => ObjectNesting::Single,
                        Nesting::List => ObjectNesting::List,
                        Nesting::Set => ObjectNesting::Set,
                    } as i32,
                }),
            ),
        };
        tf::schema::Attribute {
            name: self.name.to_string(),
            r#type: ty,
            nested_type,
            description: self.description.to_string(),
            required: self.presence == Presence::Required,
            optional: matches!(
                self.presence,
                Presence::Optional | Presence::OptionalComputed
            ),
            computed: self.is_computed(),
            sensitive: self.sensitive,
            description_kind: tf::StringKind::Markdown as i32,
            deprecated: false,
            write_only: self.write_only,
        }
    }
}

impl Block {
    fn to_proto(&self) -> tf::schema::NestedBlock {
        tf::schema::NestedBlock {
            type_name: self.type_name.to_string(),
            block: Some(tf::schema::Block {
                version: 0,
                attributes: self.attributes.iter().map(Attribute::to_proto).collect(),
                block_types: Vec::new(),
                description: self.description.to_string(),
                description_kind: tf::StringKind::Markdown as i32,
                deprecated: false,
            }),
            nesting: match self.nesting {
                Nesting::Single => BlockNesting::Single,
                Nesting::List => BlockNesting::List,
                Nesting::Set => BlockNesting::Set,
            } as i32,
            min_items: 0,
            max_items: 0,
        }
    }
}

//! Plan-time validation of a configuration against its schema's rules.
//! Unknown and null values are skipped: they are checked once known.

use super::model::{Attribute, Block, Kind, Nesting, Schema};
use crate::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfvalue::Value;

pub fn validate_config(schema: &Schema, config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::default();
    validate_object(
        &schema.attributes,
        &schema.blocks,
        config,
        &AttrPath::root(),
        &mut diags,
    );
    diags
}

fn validate_object(
    attributes: &[Attribute],
    blocks: &[Block],
    object: &Value,
    path: &AttrPath,
    diags: &mut Diagnostics,
) {
    for attribute in attributes {
        let value = object.get(attribute.name);
        validate_attribute(attribute, value, &path.then_attr(attribute.name), diags);
    }
    for block in blocks {
        let value = object.get(block.type_name);
        let block_path = path.then_attr(block.type_name);
        for_each_element(
            block.nesting,
            value,
            &block_path,
            &mut |element, element_path| {
                validate_object(&block.attributes, &[], element, element_path, diags);
            },
        );
    }
}

fn validate_attribute(
    attribute: &Attribute,
    value: &Value,
    path: &AttrPath,
    diags: &mut Diagnostics,
) {
    if !value.is_known() || value.is_null() {
        return;
    }
    for validator in &attribute.validators {
        if let Err(detail) = (validator.check)(value) {
            diags.push(
                Diagnostic::error(format!("Invalid value for {}", attribute.name), detail)
                    .at(path.clone()),
            );
        }
    }
    if let Kind::Nested(nesting, nested) = &attribute.kind {
        for_each_element(*nesting, value, path, &mut |element, element_path| {
            validate_object(nested, &[], element, element_path, diags);
        });
    }
}

/// Visits the objects of a nested value with the path Terraform uses for
/// each: the list index, or for sets the element itself (which has no
/// stable index, so the set's own path is used).
fn for_each_element(
    nesting: Nesting,
    value: &Value,
    path: &AttrPath,
    visit: &mut dyn FnMut(&Value, &AttrPath),
) {
    match (nesting, value) {
        (Nesting::Single, Value::Object(_)) => visit(value, path),
        (Nesting::List, Value::List(items)) => {
            for (i, item) in items.iter().enumerate() {
                visit(item, &path.then_index(i as i64));
            }
        }
        (Nesting::Set, Value::Set(items)) => {
            for item in items {
                visit(item, path);
            }
        }
        _ => {}
    }
}

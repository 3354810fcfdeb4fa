//! Confluent's JSON Schema diff rules for objects and arrays: properties
//! and tuple items against open, closed and partially open content models.
//!
//! A content model is open when anything may appear beyond the declared
//! properties (or items), closed when nothing may (`false`), and partially
//! open when extra entries must match a schema (`additionalProperties`,
//! `patternProperties` or `additionalItems`).

use regex::Regex;

use super::json::Comparer;
use super::json_change::{Change, Changes};
use super::json_model::{ArrayNode, NodeId, ObjectNode};

impl Comparer<'_, '_> {
    pub(super) fn compare_objects(
        &mut self,
        out: &mut Changes,
        old: &ObjectNode,
        new: &ObjectNode,
    ) {
        self.compare_required(out, old, new);
        self.compare_properties(out, old, new);
        self.compare_dependencies(out, old, new);
        self.compare_additional_properties(out, old, new);
        compare_property_counts(out, old, new);
    }

    fn compare_required(&self, out: &mut Changes, old: &ObjectNode, new: &ObjectNode) {
        out.path.push("required".into());
        for (name, _) in &old.properties {
            let Some(new_schema) = property(new, name) else {
                continue;
            };
            let was_required = old.required.contains(name);
            let is_required = new.required.contains(name);
            let change = match (was_required, is_required) {
                (true, false) => Change::RequiredAttributeRemoved,
                (false, true) if self.update.node(new_schema).default.is_some() => {
                    Change::RequiredAttributeWithDefaultAdded
                }
                (false, true) => Change::RequiredAttributeAdded,
                _ => continue,
            };
            out.add_at(name, change);
        }
        out.path.pop();
    }

    fn compare_properties(&mut self, out: &mut Changes, old: &ObjectNode, new: &ObjectNode) {
        out.path.push("properties".into());
        for name in union_of_names(&old.properties, &new.properties) {
            out.path.push(name.clone());
            match (property(old, &name), property(new, &name)) {
                (Some(old_schema), None) => self.property_removed(out, old_schema, new, &name),
                (None, Some(new_schema)) => self.property_added(out, old, new_schema, new, &name),
                (Some(old_schema), Some(new_schema)) => {
                    self.compare(out, Some(old_schema), Some(new_schema));
                }
                (None, None) => unreachable!("name comes from one of the two objects"),
            }
            out.path.pop();
        }
        out.path.pop();
    }

    /// Records a removed property, which is compatible only if the new
    /// content model still accepts it.
    fn property_removed(
        &mut self,
        out: &mut Changes,
        old_schema: NodeId,
        new: &ObjectNode,
        name: &str,
    ) {
        if is_open_object(new) {
            return out.add(Change::PropertyRemovedFromOpenContentModel);
        }
        if let Some(partial) = partial_object_schema(new, name) {
            let mut trial = out.branch();
            self.compare(&mut trial, Some(old_schema), Some(partial));
            let compatible = trial.is_compatible();
            out.extend(trial.list);
            return out.add(if compatible {
                Change::PropertyRemovedIsCoveredByPartiallyOpenContentModel
            } else {
                Change::PropertyRemovedNotCoveredByPartiallyOpenContentModel
            });
        }
        let was_false = matches!(
            self.original.node(old_schema).kind,
            super::json_model::NodeKind::False
        );
        out.add(if was_false {
            Change::PropertyWithFalseRemovedFromClosedContentModel
        } else {
            Change::PropertyRemovedFromClosedContentModel
        });
    }

    /// Records an added property, which is compatible only if old documents
    /// cannot contain it with another schema. A required one needs a default.
    fn property_added(
        &mut self,
        out: &mut Changes,
        old: &ObjectNode,
        new_schema: NodeId,
        new: &ObjectNode,
        name: &str,
    ) {
        let required = new.required.iter().any(|r| r == name);
        let has_default = self.update.node(new_schema).default.is_some();
        if is_open_object(old) {
            let accepts_anything = matches!(
                self.update.node(new_schema).kind,
                super::json_model::NodeKind::Empty
            );
            return out.add(match (accepts_anything, required, has_default) {
                (true, _, _) => Change::PropertyWithEmptySchemaAddedToOpenContentModel,
                (false, true, true) => Change::RequiredPropertyWithDefaultAddedToOpenContentModel,
                (false, true, false) => Change::RequiredPropertyAddedToOpenContentModel,
                (false, false, _) => Change::OptionalPropertyAddedToOpenContentModel,
            });
        }
        if let Some(partial) = partial_object_schema(old, name) {
            let mut trial = out.branch();
            self.compare(&mut trial, Some(partial), Some(new_schema));
            let compatible = trial.is_compatible();
            out.extend(trial.list);
            out.add(if compatible {
                Change::PropertyAddedIsCoveredByPartiallyOpenContentModel
            } else {
                Change::PropertyAddedNotCoveredByPartiallyOpenContentModel
            });
        }
        out.add(match (required, has_default) {
            (true, true) => Change::RequiredPropertyWithDefaultAddedToUnopenContentModel,
            (true, false) => Change::RequiredPropertyAddedToUnopenContentModel,
            (false, _) => Change::OptionalPropertyAddedToUnopenContentModel,
        });
    }

    fn compare_dependencies(&mut self, out: &mut Changes, old: &ObjectNode, new: &ObjectNode) {
        out.path.push("dependencies".into());
        for name in union_of_names(&old.property_dependencies, &new.property_dependencies) {
            let find = |node: &ObjectNode| {
                node.property_dependencies
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, d)| d.clone())
            };
            let change = match (find(old), find(new)) {
                (Some(_), None) => Change::DependencyArrayRemoved,
                (None, Some(_)) => Change::DependencyArrayAdded,
                (Some(o), Some(n)) => {
                    let old_in_new = o.iter().all(|d| n.contains(d));
                    let new_in_old = n.iter().all(|d| o.contains(d));
                    match (old_in_new, new_in_old) {
                        (true, true) => continue,
                        (true, false) => Change::DependencyArrayExtended,
                        (false, true) => Change::DependencyArrayNarrowed,
                        (false, false) => Change::DependencyArrayChanged,
                    }
                }
                (None, None) => continue,
            };
            out.add_at(&name, change);
        }
        for name in union_of_names(&old.schema_dependencies, &new.schema_dependencies) {
            let find = |node: &ObjectNode| {
                node.schema_dependencies
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, s)| *s)
            };
            out.path.push(name.clone());
            match (find(old), find(new)) {
                (Some(_), None) => out.add(Change::DependencySchemaRemoved),
                (None, Some(_)) => out.add(Change::DependencySchemaAdded),
                (o, n) => self.compare(out, o, n),
            }
            out.path.pop();
        }
        out.path.pop();
    }

    fn compare_additional_properties(
        &mut self,
        out: &mut Changes,
        old: &ObjectNode,
        new: &ObjectNode,
    ) {
        out.path.push("additionalProperties".into());
        match (old.additional_schema, new.additional_schema) {
            _ if old.permits_additional != new.permits_additional => {
                out.add(if new.permits_additional {
                    Change::AdditionalPropertiesAdded
                } else {
                    Change::AdditionalPropertiesRemoved
                })
            }
            (None, Some(_)) => out.add(Change::AdditionalPropertiesNarrowed),
            (Some(_), None) => out.add(Change::AdditionalPropertiesExtended),
            (o, n) => self.compare(out, o, n),
        }
        out.path.pop();
    }

    pub(super) fn compare_arrays(&mut self, out: &mut Changes, old: &ArrayNode, new: &ArrayNode) {
        out.path.push("items".into());
        self.compare(out, old.all_items, new.all_items);
        out.path.pop();
        self.compare_tuple_items(out, old, new);
        out.path.push("additionalItems".into());
        match (old.additional_schema, new.additional_schema) {
            _ if old.permits_additional != new.permits_additional => {
                out.add(if old.permits_additional {
                    Change::AdditionalItemsRemoved
                } else {
                    Change::AdditionalItemsAdded
                })
            }
            (None, Some(_)) => out.add(Change::AdditionalItemsNarrowed),
            (Some(_), None) => out.add(Change::AdditionalItemsExtended),
            (o, n) => self.compare(out, o, n),
        }
        out.path.pop();
        compare_item_counts(out, old, new);
    }

    fn compare_tuple_items(&mut self, out: &mut Changes, old: &ArrayNode, new: &ArrayNode) {
        let longest = old.item_schemas.len().max(new.item_schemas.len());
        for index in 0..longest {
            out.path.push(format!("items/{index}"));
            match (old.item_schemas.get(index), new.item_schemas.get(index)) {
                (Some(&o), Some(&n)) => self.compare(out, Some(o), Some(n)),
                (Some(&o), None) => self.item_removed(out, o, new),
                (None, Some(&n)) => self.item_added(out, old, n),
                (None, None) => unreachable!("index is below the longer length"),
            }
            out.path.pop();
        }
    }

    fn item_removed(&mut self, out: &mut Changes, old_item: NodeId, new: &ArrayNode) {
        if is_open_array(new) {
            return out.add(Change::ItemRemovedFromOpenContentModel);
        }
        if let Some(partial) = new.additional_schema {
            let mut trial = out.branch();
            self.compare(&mut trial, Some(old_item), Some(partial));
            let compatible = trial.is_compatible();
            out.extend(trial.list);
            return out.add(if compatible {
                Change::ItemRemovedIsCoveredByPartiallyOpenContentModel
            } else {
                Change::ItemRemovedNotCoveredByPartiallyOpenContentModel
            });
        }
        let was_false = matches!(
            self.original.node(old_item).kind,
            super::json_model::NodeKind::False
        );
        out.add(if was_false {
            Change::ItemWithFalseRemovedFromClosedContentModel
        } else {
            Change::ItemRemovedFromClosedContentModel
        });
    }

    fn item_added(&mut self, out: &mut Changes, old: &ArrayNode, new_item: NodeId) {
        if is_open_array(old) {
            let accepts_anything = matches!(
                self.update.node(new_item).kind,
                super::json_model::NodeKind::Empty
            );
            return out.add(if accepts_anything {
                Change::ItemWithEmptySchemaAddedToOpenContentModel
            } else {
                Change::ItemAddedToOpenContentModel
            });
        }
        let Some(partial) = old.additional_schema else {
            return out.add(Change::ItemAddedToClosedContentModel);
        };
        let mut trial = out.branch();
        self.compare(&mut trial, Some(partial), Some(new_item));
        let compatible = trial.is_compatible();
        out.extend(trial.list);
        out.add(if compatible {
            Change::ItemAddedIsCoveredByPartiallyOpenContentModel
        } else {
            Change::ItemAddedNotCoveredByPartiallyOpenContentModel
        });
    }
}

fn property(object: &ObjectNode, name: &str) -> Option<NodeId> {
    object
        .properties
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, id)| *id)
}

/// Returns the names of both lists, the old ones first, without repeats.
fn union_of_names<T>(old: &[(String, T)], new: &[(String, T)]) -> Vec<String> {
    let mut names: Vec<String> = old.iter().map(|(n, _)| n.clone()).collect();
    for (name, _) in new {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
}

fn is_open_object(object: &ObjectNode) -> bool {
    object.pattern_properties.is_empty()
        && object.additional_schema.is_none()
        && object.permits_additional
}

fn is_open_array(array: &ArrayNode) -> bool {
    array.permits_additional && array.additional_schema.is_none()
}

/// Returns the schema that a partially open object applies to an
/// undeclared property `name`: the first matching pattern property, else
/// `additionalProperties`. An invalid pattern matches nothing.
fn partial_object_schema(object: &ObjectNode, name: &str) -> Option<NodeId> {
    object
        .pattern_properties
        .iter()
        .find(|(pattern, _)| Regex::new(pattern).is_ok_and(|r| r.is_match(name)))
        .map(|(_, id)| *id)
        .or(object.additional_schema)
}

fn compare_property_counts(out: &mut Changes, old: &ObjectNode, new: &ObjectNode) {
    use Change::*;
    let max = [
        MaxPropertiesAdded,
        MaxPropertiesRemoved,
        MaxPropertiesIncreased,
        MaxPropertiesDecreased,
    ];
    compare_count(
        out,
        "maxProperties",
        old.max_properties,
        new.max_properties,
        max,
    );
    let min = [
        MinPropertiesAdded,
        MinPropertiesRemoved,
        MinPropertiesIncreased,
        MinPropertiesDecreased,
    ];
    compare_count(
        out,
        "minProperties",
        old.min_properties,
        new.min_properties,
        min,
    );
}

fn compare_item_counts(out: &mut Changes, old: &ArrayNode, new: &ArrayNode) {
    use Change::*;
    let max = [
        MaxItemsAdded,
        MaxItemsRemoved,
        MaxItemsIncreased,
        MaxItemsDecreased,
    ];
    compare_count(out, "maxItems", old.max_items, new.max_items, max);
    let min = [
        MinItemsAdded,
        MinItemsRemoved,
        MinItemsIncreased,
        MinItemsDecreased,
    ];
    compare_count(out, "minItems", old.min_items, new.min_items, min);
    if old.unique_items != new.unique_items {
        out.add_at(
            "uniqueItems",
            if old.unique_items {
                UniqueItemsRemoved
            } else {
                UniqueItemsAdded
            },
        );
    }
}

/// Classifies a change of an optional count with `[added, removed,
/// increased, decreased]`.
fn compare_count(
    out: &mut Changes,
    keyword: &str,
    old: Option<u64>,
    new: Option<u64>,
    changes: [Change; 4],
) {
    let [added, removed, increased, decreased] = changes;
    let change = match (old, new) {
        (None, Some(_)) => added,
        (Some(_), None) => removed,
        (Some(o), Some(n)) if o < n => increased,
        (Some(o), Some(n)) if o > n => decreased,
        _ => return,
    };
    out.add_at(keyword, change);
}

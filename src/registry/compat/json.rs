//! JSON Schema compatibility by Confluent's schema-diff rules: the old
//! schema is compared with the new one node by node, and every difference
//! is either in Confluent's strict compatible set or makes the change
//! incompatible. Object and array rules are in `json_object`.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::json_model::{Criterion, Model, Node, NodeId, NodeKind, NumberNode, StringNode};
use crate::registry::schema::JsonSchema;

/// Lists why documents valid under `writer` (the old schema) may be
/// rejected by `reader` (the new one).
pub(super) fn can_read(reader: &JsonSchema, writer: &JsonSchema) -> Vec<String> {
    let (original, original_root) = Model::load(writer);
    let (update, update_root) = Model::load(reader);
    let mut comparer = Comparer {
        original: &original,
        update: &update,
        results: HashMap::new(),
        in_progress: HashSet::new(),
    };
    let mut changes = Changes::default();
    comparer.compare(&mut changes, Some(original_root), Some(update_root));
    changes
        .list
        .iter()
        .filter(|(change, _)| !change.is_compatible())
        .map(|(change, path)| format!("{} at {path}", change.name()))
        .collect()
}

/// Defines `Change` with the name Confluent gives each difference and
/// whether its strict policy counts it as compatible.
macro_rules! changes {
    ($($variant:ident => $name:literal, $compatible:literal;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(super) enum Change { $($variant,)* }

        impl Change {
            pub(super) fn name(self) -> &'static str {
                match self { $(Change::$variant => $name,)* }
            }

            pub(super) fn is_compatible(self) -> bool {
                match self { $(Change::$variant => $compatible,)* }
            }
        }
    };
}

changes! {
    IdChanged => "ID_CHANGED", true;
    DescriptionChanged => "DESCRIPTION_CHANGED", true;
    TitleChanged => "TITLE_CHANGED", true;
    DefaultChanged => "DEFAULT_CHANGED", true;
    SchemaAdded => "SCHEMA_ADDED", false;
    SchemaRemoved => "SCHEMA_REMOVED", true;
    TypeExtended => "TYPE_EXTENDED", true;
    TypeNarrowed => "TYPE_NARROWED", false;
    TypeChanged => "TYPE_CHANGED", false;
    MaxLengthAdded => "MAX_LENGTH_ADDED", false;
    MaxLengthRemoved => "MAX_LENGTH_REMOVED", true;
    MaxLengthIncreased => "MAX_LENGTH_INCREASED", true;
    MaxLengthDecreased => "MAX_LENGTH_DECREASED", false;
    MinLengthAdded => "MIN_LENGTH_ADDED", false;
    MinLengthRemoved => "MIN_LENGTH_REMOVED", true;
    MinLengthIncreased => "MIN_LENGTH_INCREASED", false;
    MinLengthDecreased => "MIN_LENGTH_DECREASED", true;
    PatternAdded => "PATTERN_ADDED", false;
    PatternRemoved => "PATTERN_REMOVED", true;
    PatternChanged => "PATTERN_CHANGED", false;
    MaximumAdded => "MAXIMUM_ADDED", false;
    MaximumRemoved => "MAXIMUM_REMOVED", true;
    MaximumIncreased => "MAXIMUM_INCREASED", true;
    MaximumDecreased => "MAXIMUM_DECREASED", false;
    MinimumAdded => "MINIMUM_ADDED", false;
    MinimumRemoved => "MINIMUM_REMOVED", true;
    MinimumIncreased => "MINIMUM_INCREASED", false;
    MinimumDecreased => "MINIMUM_DECREASED", true;
    ExclusiveMaximumAdded => "EXCLUSIVE_MAXIMUM_ADDED", false;
    ExclusiveMaximumRemoved => "EXCLUSIVE_MAXIMUM_REMOVED", true;
    ExclusiveMaximumIncreased => "EXCLUSIVE_MAXIMUM_INCREASED", true;
    ExclusiveMaximumDecreased => "EXCLUSIVE_MAXIMUM_DECREASED", false;
    ExclusiveMinimumAdded => "EXCLUSIVE_MINIMUM_ADDED", false;
    ExclusiveMinimumRemoved => "EXCLUSIVE_MINIMUM_REMOVED", true;
    ExclusiveMinimumIncreased => "EXCLUSIVE_MINIMUM_INCREASED", false;
    ExclusiveMinimumDecreased => "EXCLUSIVE_MINIMUM_DECREASED", true;
    MultipleOfAdded => "MULTIPLE_OF_ADDED", false;
    MultipleOfRemoved => "MULTIPLE_OF_REMOVED", true;
    MultipleOfExpanded => "MULTIPLE_OF_EXPANDED", false;
    MultipleOfReduced => "MULTIPLE_OF_REDUCED", true;
    MultipleOfChanged => "MULTIPLE_OF_CHANGED", false;
    RequiredAttributeAdded => "REQUIRED_ATTRIBUTE_ADDED", false;
    RequiredAttributeWithDefaultAdded => "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED", true;
    RequiredAttributeRemoved => "REQUIRED_ATTRIBUTE_REMOVED", true;
    DependencyArrayAdded => "DEPENDENCY_ARRAY_ADDED", false;
    DependencyArrayRemoved => "DEPENDENCY_ARRAY_REMOVED", true;
    DependencyArrayExtended => "DEPENDENCY_ARRAY_EXTENDED", false;
    DependencyArrayNarrowed => "DEPENDENCY_ARRAY_NARROWED", true;
    DependencyArrayChanged => "DEPENDENCY_ARRAY_CHANGED", false;
    DependencySchemaAdded => "DEPENDENCY_SCHEMA_ADDED", false;
    DependencySchemaRemoved => "DEPENDENCY_SCHEMA_REMOVED", true;
    MaxPropertiesAdded => "MAX_PROPERTIES_ADDED", false;
    MaxPropertiesRemoved => "MAX_PROPERTIES_REMOVED", true;
    MaxPropertiesIncreased => "MAX_PROPERTIES_INCREASED", true;
    MaxPropertiesDecreased => "MAX_PROPERTIES_DECREASED", false;
    MinPropertiesAdded => "MIN_PROPERTIES_ADDED", false;
    MinPropertiesRemoved => "MIN_PROPERTIES_REMOVED", true;
    MinPropertiesIncreased => "MIN_PROPERTIES_INCREASED", false;
    MinPropertiesDecreased => "MIN_PROPERTIES_DECREASED", true;
    AdditionalPropertiesAdded => "ADDITIONAL_PROPERTIES_ADDED", true;
    AdditionalPropertiesRemoved => "ADDITIONAL_PROPERTIES_REMOVED", false;
    AdditionalPropertiesExtended => "ADDITIONAL_PROPERTIES_EXTENDED", true;
    AdditionalPropertiesNarrowed => "ADDITIONAL_PROPERTIES_NARROWED", false;
    RequiredPropertyAddedToOpenContentModel =>
        "REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", false;
    RequiredPropertyWithDefaultAddedToOpenContentModel =>
        "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL", false;
    OptionalPropertyAddedToOpenContentModel =>
        "OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", false;
    PropertyWithEmptySchemaAddedToOpenContentModel =>
        "PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL", true;
    RequiredPropertyAddedToUnopenContentModel =>
        "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL", false;
    RequiredPropertyWithDefaultAddedToUnopenContentModel =>
        "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL", true;
    OptionalPropertyAddedToUnopenContentModel =>
        "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL", true;
    PropertyRemovedFromOpenContentModel => "PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL", true;
    PropertyWithFalseRemovedFromClosedContentModel =>
        "PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL", true;
    PropertyRemovedFromClosedContentModel => "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", false;
    PropertyAddedIsCoveredByPartiallyOpenContentModel =>
        "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", true;
    PropertyAddedNotCoveredByPartiallyOpenContentModel =>
        "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", false;
    PropertyRemovedIsCoveredByPartiallyOpenContentModel =>
        "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", true;
    PropertyRemovedNotCoveredByPartiallyOpenContentModel =>
        "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", false;
    MaxItemsAdded => "MAX_ITEMS_ADDED", false;
    MaxItemsRemoved => "MAX_ITEMS_REMOVED", true;
    MaxItemsIncreased => "MAX_ITEMS_INCREASED", true;
    MaxItemsDecreased => "MAX_ITEMS_DECREASED", false;
    MinItemsAdded => "MIN_ITEMS_ADDED", false;
    MinItemsRemoved => "MIN_ITEMS_REMOVED", true;
    MinItemsIncreased => "MIN_ITEMS_INCREASED", false;
    MinItemsDecreased => "MIN_ITEMS_DECREASED", true;
    UniqueItemsAdded => "UNIQUE_ITEMS_ADDED", false;
    UniqueItemsRemoved => "UNIQUE_ITEMS_REMOVED", true;
    AdditionalItemsAdded => "ADDITIONAL_ITEMS_ADDED", true;
    AdditionalItemsRemoved => "ADDITIONAL_ITEMS_REMOVED", false;
    AdditionalItemsExtended => "ADDITIONAL_ITEMS_EXTENDED", true;
    AdditionalItemsNarrowed => "ADDITIONAL_ITEMS_NARROWED", false;
    ItemAddedToOpenContentModel => "ITEM_ADDED_TO_OPEN_CONTENT_MODEL", false;
    ItemWithEmptySchemaAddedToOpenContentModel =>
        "ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL", true;
    ItemAddedToClosedContentModel => "ITEM_ADDED_TO_CLOSED_CONTENT_MODEL", true;
    ItemRemovedFromOpenContentModel => "ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL", true;
    ItemWithFalseRemovedFromClosedContentModel =>
        "ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL", true;
    ItemRemovedFromClosedContentModel => "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL", false;
    ItemAddedIsCoveredByPartiallyOpenContentModel =>
        "ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", true;
    ItemAddedNotCoveredByPartiallyOpenContentModel =>
        "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", false;
    ItemRemovedIsCoveredByPartiallyOpenContentModel =>
        "ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", true;
    ItemRemovedNotCoveredByPartiallyOpenContentModel =>
        "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", false;
    EnumArrayExtended => "ENUM_ARRAY_EXTENDED", true;
    EnumArrayNarrowed => "ENUM_ARRAY_NARROWED", false;
    EnumArrayChanged => "ENUM_ARRAY_CHANGED", false;
    CombinedTypeExtended => "COMBINED_TYPE_EXTENDED", true;
    CombinedTypeChanged => "COMBINED_TYPE_CHANGED", false;
    ProductTypeExtended => "PRODUCT_TYPE_EXTENDED", false;
    ProductTypeNarrowed => "PRODUCT_TYPE_NARROWED", true;
    SumTypeExtended => "SUM_TYPE_EXTENDED", true;
    SumTypeNarrowed => "SUM_TYPE_NARROWED", false;
    CombinedTypeSubschemasChanged => "COMBINED_TYPE_SUBSCHEMAS_CHANGED", false;
    NotTypeExtended => "NOT_TYPE_EXTENDED", false;
    NotTypeNarrowed => "NOT_TYPE_NARROWED", true;
}

/// Differences found so far, each with its JSON path such as
/// `#/properties/foo`, and the path of the node being compared.
#[derive(Default, Clone)]
pub(super) struct Changes {
    pub list: Vec<(Change, String)>,
    pub path: Vec<String>,
}

impl Changes {
    /// Starts an empty list at the same path, for a trial comparison.
    pub(super) fn branch(&self) -> Changes {
        Changes {
            list: Vec::new(),
            path: self.path.clone(),
        }
    }

    pub(super) fn add(&mut self, change: Change) {
        self.list
            .push((change, format!("#/{}", self.path.join("/"))));
    }

    pub(super) fn add_at(&mut self, segment: &str, change: Change) {
        self.path.push(segment.to_string());
        self.add(change);
        self.path.pop();
    }

    pub(super) fn is_compatible(&self) -> bool {
        self.list.iter().all(|(change, _)| change.is_compatible())
    }
}

pub(super) struct Comparer<'m, 'a> {
    pub original: &'m Model<'a>,
    pub update: &'m Model<'a>,
    /// Differences of each pair compared so far, with paths relative to the
    /// pair, so a pair reached along many paths is compared once.
    results: HashMap<(NodeId, NodeId), Vec<(Change, String)>>,
    /// Pairs on the comparison stack: meeting one again is recursion, which
    /// counts as compatible.
    in_progress: HashSet<(NodeId, NodeId)>,
}

impl<'m, 'a> Comparer<'m, 'a> {
    pub(super) fn compare(
        &mut self,
        out: &mut Changes,
        original: Option<NodeId>,
        update: Option<NodeId>,
    ) {
        let (original, update) = match (original, update) {
            (None, None) => return,
            (None, Some(_)) => return out.add(Change::SchemaAdded),
            (Some(_), None) => return out.add(Change::SchemaRemoved),
            (Some(original), Some(update)) => (original, update),
        };
        let key = (original, update);
        if self.in_progress.contains(&key) {
            return;
        }
        if !self.results.contains_key(&key) {
            self.in_progress.insert(key);
            let mut relative = Changes::default();
            self.compare_nodes(&mut relative, original, update);
            self.in_progress.remove(&key);
            self.results.insert(key, relative.list);
        }
        let prefix = out.path.join("/");
        for (change, path) in &self.results[&key] {
            let rest = path.trim_start_matches("#/");
            let path = match (prefix.is_empty(), rest.is_empty()) {
                (true, _) => format!("#/{rest}"),
                (false, true) => format!("#/{prefix}"),
                (false, false) => format!("#/{prefix}/{rest}"),
            };
            out.list.push((*change, path));
        }
    }

    fn compare_nodes(&mut self, out: &mut Changes, original: NodeId, update: NodeId) {
        if self.compare_with_combined(out, original, update) {
            return;
        }
        let (old, new) = (self.original.node(original), self.update.node(update));
        if !same_type(&old.kind, &new.kind) {
            let both_connect_bytes =
                connect_type(old) == Some("bytes") && connect_type(new) == Some("bytes");
            if !matches!(old.kind, NodeKind::False)
                && !matches!(new.kind, NodeKind::Empty)
                && !both_connect_bytes
            {
                out.add(Change::TypeChanged);
            }
            return;
        }
        for (old_value, new_value, change) in [
            (old.id, new.id, Change::IdChanged),
            (old.title, new.title, Change::TitleChanged),
            (old.description, new.description, Change::DescriptionChanged),
            (old.default, new.default, Change::DefaultChanged),
        ] {
            if old_value != new_value {
                out.add(change);
            }
        }
        match (&old.kind, &new.kind) {
            (NodeKind::String(o), NodeKind::String(n)) => compare_strings(out, o, n),
            (NodeKind::Number(o), NodeKind::Number(n)) => compare_numbers(out, o, n),
            (NodeKind::Enum(o), NodeKind::Enum(n)) => compare_enums(out, o, n),
            (NodeKind::Const(o), NodeKind::Const(n)) if o != n => {
                out.add_at("const", Change::EnumArrayChanged)
            }
            (NodeKind::Combined(oc, os), NodeKind::Combined(nc, ns)) => {
                self.compare_combined(out, (*oc, os), (*nc, ns));
            }
            (NodeKind::Not(o), NodeKind::Not(n)) => {
                out.path.push("not".into());
                // The new `not` may reject less: the old excluded schema must
                // accept everything the new one excludes.
                let mut trial = out.branch();
                self.compare_reversed(&mut trial, *n, *o);
                out.add(if trial.is_compatible() {
                    Change::NotTypeNarrowed
                } else {
                    Change::NotTypeExtended
                });
                out.path.pop();
            }
            (NodeKind::Object(o), NodeKind::Object(n)) => self.compare_objects(out, o, n),
            (NodeKind::Array(o), NodeKind::Array(n)) => self.compare_arrays(out, o, n),
            _ => {}
        }
    }

    /// Compares `update_side` of the original model with `original_side` of
    /// the update model, which `not` needs, by swapping the models.
    fn compare_reversed(&mut self, out: &mut Changes, update_side: NodeId, original_side: NodeId) {
        let mut reversed = Comparer {
            original: self.update,
            update: self.original,
            results: HashMap::new(),
            in_progress: HashSet::new(),
        };
        reversed.compare(out, Some(update_side), Some(original_side));
    }

    /// Handles a combined schema on one side only: a new `anyOf`/`oneOf`
    /// with a branch that accepts the old schema, or an old `allOf` with a
    /// branch that the new schema accepts. Returns true when it applied.
    fn compare_with_combined(
        &mut self,
        out: &mut Changes,
        original: NodeId,
        update: NodeId,
    ) -> bool {
        let (old, new) = (
            &self.original.node(original).kind,
            &self.update.node(update).kind,
        );
        let (subschemas, change, old_side) = match (old, new) {
            (NodeKind::Combined(..), NodeKind::Combined(..)) => return false,
            (_, NodeKind::Combined(criterion, subs)) => {
                if subs.len() != 1 && *criterion == Criterion::AllOf {
                    return false;
                }
                (subs.clone(), Change::SumTypeExtended, false)
            }
            (NodeKind::Combined(criterion, subs), _) => {
                if subs.len() != 1 && *criterion != Criterion::AllOf {
                    return false;
                }
                (subs.clone(), Change::ProductTypeNarrowed, true)
            }
            _ => return false,
        };
        let singleton = subschemas.len() == 1;
        for sub in subschemas {
            let mut trial = out.branch();
            let (o, n) = if old_side {
                (sub, update)
            } else {
                (original, sub)
            };
            self.compare(&mut trial, Some(o), Some(n));
            if trial.is_compatible() {
                out.list.extend(trial.list);
                if !singleton {
                    out.add(change);
                }
                return true;
            }
        }
        false
    }

    fn compare_combined(
        &mut self,
        out: &mut Changes,
        (old_criterion, old_subs): (Criterion, &[NodeId]),
        (new_criterion, new_subs): (Criterion, &[NodeId]),
    ) {
        if let Some(change) =
            compare_criteria(old_criterion, old_subs.len(), new_criterion, new_subs.len())
        {
            out.add(change);
            if change == Change::CombinedTypeChanged {
                return;
            }
        }
        let old_subs = distinct(self.original, old_subs);
        let new_subs = distinct(self.update, new_subs);
        if old_subs.len() != new_subs.len() {
            let growing = old_subs.len() < new_subs.len();
            out.add(match (new_criterion == Criterion::AllOf, growing) {
                (true, true) => Change::ProductTypeExtended,
                (true, false) => Change::ProductTypeNarrowed,
                (false, true) => Change::SumTypeExtended,
                (false, false) => Change::SumTypeNarrowed,
            });
        }
        let criterion_name = match old_criterion {
            Criterion::AllOf => "allOf",
            Criterion::AnyOf => "anyOf",
            Criterion::OneOf => "oneOf",
        };
        // edges[i] lists the new subschemas that accept old subschema i.
        let mut edges: Vec<Vec<(usize, Vec<(Change, String)>)>> = Vec::new();
        for (i, &old_sub) in old_subs.iter().enumerate() {
            out.path.push(format!("{criterion_name}/{i}"));
            let mut compatible = Vec::new();
            for (j, &new_sub) in new_subs.iter().enumerate() {
                let mut trial = out.branch();
                self.compare(&mut trial, Some(old_sub), Some(new_sub));
                if trial.is_compatible() {
                    compatible.push((j, trial.list));
                }
            }
            out.path.pop();
            edges.push(compatible);
        }
        let matching = maximum_matching(&edges, new_subs.len());
        for (i, j) in matching.iter().enumerate() {
            if let Some(j) = j {
                let (_, list) = edges[i]
                    .iter()
                    .find(|(k, _)| k == j)
                    .expect("matched edge exists");
                out.list.extend(list.iter().cloned());
            }
        }
        let matched = matching.iter().flatten().count();
        if matched < old_subs.len().min(new_subs.len()) {
            out.add(Change::CombinedTypeSubschemasChanged);
        }
    }
}

fn compare_criteria(
    old: Criterion,
    old_len: usize,
    new: Criterion,
    new_len: usize,
) -> Option<Change> {
    let change = match new {
        _ if old == new => return None,
        Criterion::AnyOf => Change::CombinedTypeExtended,
        Criterion::OneOf if old_len == 1 => Change::CombinedTypeExtended,
        Criterion::AllOf if old_len == 1 && new_len == 1 => Change::CombinedTypeExtended,
        _ => Change::CombinedTypeChanged,
    };
    Some(change)
}

/// Drops repeated subschemas (same source value and part), as Confluent's
/// set of subschemas does.
fn distinct(model: &Model<'_>, subs: &[NodeId]) -> Vec<NodeId> {
    let mut kept: Vec<NodeId> = Vec::new();
    for &sub in subs {
        let node = model.node(sub);
        let seen = kept.iter().any(|&k| {
            let other = model.node(k);
            other.part == node.part && other.raw == node.raw
        });
        if !seen {
            kept.push(sub);
        }
    }
    kept
}

/// Finds a maximum bipartite matching with augmenting paths (Kuhn's
/// algorithm); returns the matched right vertex of each left vertex.
fn maximum_matching<T>(edges: &[Vec<(usize, T)>], right_len: usize) -> Vec<Option<usize>> {
    fn augment<T>(
        left: usize,
        edges: &[Vec<(usize, T)>],
        seen: &mut [bool],
        owner: &mut [Option<usize>],
    ) -> bool {
        for (right, _) in &edges[left] {
            if seen[*right] {
                continue;
            }
            seen[*right] = true;
            if owner[*right].is_none_or(|other| augment(other, edges, seen, owner)) {
                owner[*right] = Some(left);
                return true;
            }
        }
        false
    }
    let mut owner: Vec<Option<usize>> = vec![None; right_len];
    for left in 0..edges.len() {
        augment(left, edges, &mut vec![false; right_len], &mut owner);
    }
    let mut matching = vec![None; edges.len()];
    for (right, left) in owner.iter().enumerate() {
        if let Some(left) = left {
            matching[*left] = Some(right);
        }
    }
    matching
}

fn same_type(old: &NodeKind, new: &NodeKind) -> bool {
    std::mem::discriminant(old) == std::mem::discriminant(new)
}

/// Returns the Kafka Connect type annotation; Confluent treats two schemas
/// that both carry `"connect.type": "bytes"` as the same type.
fn connect_type<'a>(node: &Node<'a>) -> Option<&'a str> {
    node.raw.get("connect.type").and_then(Value::as_str)
}

/// Classifies a change of an optional limit: `(added, removed, increased,
/// decreased)` are the changes for each case.
fn compare_limit<T: PartialOrd>(
    out: &mut Changes,
    keyword: &str,
    old: Option<T>,
    new: Option<T>,
    [added, removed, increased, decreased]: [Change; 4],
) {
    let change = match (old, new) {
        (None, Some(_)) => added,
        (Some(_), None) => removed,
        (Some(old), Some(new)) if old < new => increased,
        (Some(old), Some(new)) if old > new => decreased,
        _ => return,
    };
    out.add_at(keyword, change);
}

fn compare_strings(out: &mut Changes, old: &StringNode, new: &StringNode) {
    use Change::*;
    let max_length = [
        MaxLengthAdded,
        MaxLengthRemoved,
        MaxLengthIncreased,
        MaxLengthDecreased,
    ];
    compare_limit(out, "maxLength", old.max_length, new.max_length, max_length);
    let min_length = [
        MinLengthAdded,
        MinLengthRemoved,
        MinLengthIncreased,
        MinLengthDecreased,
    ];
    compare_limit(out, "minLength", old.min_length, new.min_length, min_length);
    match (&old.pattern, &new.pattern) {
        (None, Some(_)) => out.add_at("pattern", PatternAdded),
        (Some(_), None) => out.add_at("pattern", PatternRemoved),
        (Some(o), Some(n)) if o != n => out.add_at("pattern", PatternChanged),
        _ => {}
    }
}

fn compare_numbers(out: &mut Changes, old: &NumberNode, new: &NumberNode) {
    use Change::*;
    let maximum = [
        MaximumAdded,
        MaximumRemoved,
        MaximumIncreased,
        MaximumDecreased,
    ];
    compare_limit(out, "maximum", old.maximum, new.maximum, maximum);
    let minimum = [
        MinimumAdded,
        MinimumRemoved,
        MinimumIncreased,
        MinimumDecreased,
    ];
    compare_limit(out, "minimum", old.minimum, new.minimum, minimum);
    let exclusive_maximum = [
        ExclusiveMaximumAdded,
        ExclusiveMaximumRemoved,
        ExclusiveMaximumIncreased,
        ExclusiveMaximumDecreased,
    ];
    compare_limit(
        out,
        "exclusiveMaximum",
        old.exclusive_maximum,
        new.exclusive_maximum,
        exclusive_maximum,
    );
    let exclusive_minimum = [
        ExclusiveMinimumAdded,
        ExclusiveMinimumRemoved,
        ExclusiveMinimumIncreased,
        ExclusiveMinimumDecreased,
    ];
    compare_limit(
        out,
        "exclusiveMinimum",
        old.exclusive_minimum,
        new.exclusive_minimum,
        exclusive_minimum,
    );
    let is_multiple = |a: f64, b: f64| b != 0.0 && (a / b).fract() == 0.0;
    let multiple_of = match (old.multiple_of, new.multiple_of) {
        (None, Some(_)) => Some(MultipleOfAdded),
        (Some(_), None) => Some(MultipleOfRemoved),
        (Some(o), Some(n)) if o == n => None,
        // Every multiple of the new value is a multiple of the old: narrower.
        (Some(o), Some(n)) if is_multiple(n, o) => Some(MultipleOfExpanded),
        (Some(o), Some(n)) if is_multiple(o, n) => Some(MultipleOfReduced),
        (Some(_), Some(_)) => Some(MultipleOfChanged),
        (None, None) => None,
    };
    if let Some(change) = multiple_of {
        out.add_at("multipleOf", change);
    }
    if old.requires_integer != new.requires_integer {
        out.add(if old.requires_integer {
            TypeExtended
        } else {
            TypeNarrowed
        });
    }
}

fn compare_enums(out: &mut Changes, old: &[Value], new: &[Value]) {
    let old_in_new = old.iter().all(|v| new.contains(v));
    let new_in_old = new.iter().all(|v| old.contains(v));
    let change = match (old_in_new, new_in_old) {
        (true, true) => return,
        (true, false) => Change::EnumArrayExtended,
        (false, true) => Change::EnumArrayNarrowed,
        (false, false) => Change::EnumArrayChanged,
    };
    out.add_at("enum", change);
}

//! JSON Schema compatibility by Confluent's schema-diff rules: the old
//! schema is compared with the new one node by node, and every difference
//! is either in Confluent's strict compatible set or makes the change
//! incompatible. Object and array rules are in `json_object`.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::json_change::{Change, ChangeList, Changes};
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

pub(super) struct Comparer<'m, 'a> {
    pub original: &'m Model<'a>,
    pub update: &'m Model<'a>,
    /// Differences of each pair compared so far, with paths relative to the
    /// pair, so a pair reached along many paths is compared once.
    results: HashMap<(NodeId, NodeId), ChangeList>,
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
            out.push(*change, path);
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
                if subs.len() != 1 && *criterion == Criterion::All {
                    return false;
                }
                (subs.clone(), Change::SumTypeExtended, false)
            }
            (NodeKind::Combined(criterion, subs), _) => {
                if subs.len() != 1 && *criterion != Criterion::All {
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
                out.extend(trial.list);
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
            out.add(match (new_criterion == Criterion::All, growing) {
                (true, true) => Change::ProductTypeExtended,
                (true, false) => Change::ProductTypeNarrowed,
                (false, true) => Change::SumTypeExtended,
                (false, false) => Change::SumTypeNarrowed,
            });
        }

        let criterion_name = match old_criterion {
            Criterion::All => "allOf",
            Criterion::Any => "anyOf",
            Criterion::One => "oneOf",
        };
        // edges[i] lists the new subschemas that accept old subschema i.
        let mut edges: Vec<Vec<(usize, ChangeList)>> = Vec::new();
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
                out.extend(list.iter().cloned());
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
        Criterion::Any => Change::CombinedTypeExtended,
        Criterion::One if old_len == 1 => Change::CombinedTypeExtended,
        Criterion::All if old_len == 1 && new_len == 1 => Change::CombinedTypeExtended,
        _ => Change::CombinedTypeChanged,
    };
    Some(change)
}

/// Drops repeated subschemas (same source value and part), as Confluent's
/// set of subschemas does.
fn distinct(model: &Model<'_>, subs: &[NodeId]) -> Vec<NodeId> {
    let mut unique: Vec<NodeId> = Vec::new();
    for &sub in subs {
        let node = model.node(sub);
        let seen = unique.iter().any(|&u| {
            let other = model.node(u);
            other.part == node.part && other.raw == node.raw
        });
        if !seen {
            unique.push(sub);
        }
    }
    unique
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
    let limits = [
        (
            "maximum",
            old.maximum,
            new.maximum,
            [
                MaximumAdded,
                MaximumRemoved,
                MaximumIncreased,
                MaximumDecreased,
            ],
        ),
        (
            "minimum",
            old.minimum,
            new.minimum,
            [
                MinimumAdded,
                MinimumRemoved,
                MinimumIncreased,
                MinimumDecreased,
            ],
        ),
        (
            "exclusiveMaximum",
            old.exclusive_maximum,
            new.exclusive_maximum,
            [
                ExclusiveMaximumAdded,
                ExclusiveMaximumRemoved,
                ExclusiveMaximumIncreased,
                ExclusiveMaximumDecreased,
            ],
        ),
        (
            "exclusiveMinimum",
            old.exclusive_minimum,
            new.exclusive_minimum,
            [
                ExclusiveMinimumAdded,
                ExclusiveMinimumRemoved,
                ExclusiveMinimumIncreased,
                ExclusiveMinimumDecreased,
            ],
        ),
    ];
    for (keyword, old_limit, new_limit, changes) in limits {
        compare_limit(out, keyword, old_limit, new_limit, changes);
    }

    if let Some(change) = compare_multiple_of(old.multiple_of, new.multiple_of) {
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

fn compare_multiple_of(old: Option<f64>, new: Option<f64>) -> Option<Change> {
    let is_multiple = |a: f64, b: f64| b != 0.0 && (a / b).fract() == 0.0;
    match (old, new) {
        (None, None) => None,
        (None, Some(_)) => Some(Change::MultipleOfAdded),
        (Some(_), None) => Some(Change::MultipleOfRemoved),
        (Some(o), Some(n)) if o == n => None,
        // Every multiple of the new value is a multiple of the old one, so
        // the new schema accepts fewer numbers.
        (Some(o), Some(n)) if is_multiple(n, o) => Some(Change::MultipleOfExpanded),
        (Some(o), Some(n)) if is_multiple(o, n) => Some(Change::MultipleOfReduced),
        (Some(_), Some(_)) => Some(Change::MultipleOfChanged),
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

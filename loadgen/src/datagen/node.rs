//! The compiled form of a schema: a flat table of nodes that refer to each
//! other by index, so recursive named types need no reference counting.

/// Index of a node in the table.
pub(super) type NodeId = usize;

/// Height of a node that no finite value fits.
pub(super) const INFINITE_HEIGHT: u32 = u32::MAX;

/// One Avro type with its generation rules.
pub(super) struct Node {
    pub kind: Kind,
    /// Pre-serialized JSON values to pick from; empty when the schema has no
    /// `options` hint. Options take precedence over `kind`, which still
    /// checks them.
    pub options: Vec<Box<[u8]>>,
    /// Record nesting needed to finish a value of this node once arrays and
    /// maps are left empty and unions take their shortest branch.
    pub height: u32,
}

pub(super) enum Kind {
    Null,
    Boolean,
    /// Int or long, with `min..=max` the type's own limits.
    Integer {
        min: i64,
        max: i64,
        generator: IntGen,
    },
    /// Float (`single`) or double, drawn from `min..max`.
    Real {
        single: bool,
        min: f64,
        max: f64,
    },
    /// Bytes, written as a JSON string of printable ASCII.
    Bytes {
        length: Length,
    },
    String {
        generator: StringGen,
    },
    Enum {
        symbols: Vec<String>,
    },
    /// Fixed-size bytes, written like `Bytes`.
    Fixed {
        size: u32,
    },
    Array {
        items: NodeId,
        length: Length,
    },
    /// Map with keys `key0`, `key1`, and so on.
    Map {
        values: NodeId,
        length: Length,
    },
    /// Union, written as the plain value of a random branch. `shortest` is
    /// the branch of least height, taken once the nesting limit is reached.
    Union {
        branches: Vec<NodeId>,
        shortest: NodeId,
    },
    Record {
        name: String,
        fields: Vec<Field>,
    },
}

pub(super) struct Field {
    pub name: String,
    /// The field name as a JSON string followed by `:`.
    pub key: Box<[u8]>,
    pub node: NodeId,
}

pub(super) enum IntGen {
    /// Uniform over `min..max_exclusive`.
    Range { min: i64, max_exclusive: i64 },
    /// `start`, `start + step`, and so on, back to `start` on reaching
    /// `restart` or leaving the type's limits. The current value is
    /// `Generator::counters[counter]`.
    Iteration {
        counter: usize,
        start: i64,
        step: i64,
        restart: Option<i64>,
    },
}

pub(super) enum StringGen {
    /// ASCII letters and digits.
    Random(Length),
    Regex(Box<rand_regex::Regex>),
    /// Random version 4 UUID in the canonical hyphenated form.
    Uuid,
}

/// Length range of strings, bytes and collections: `min..max_exclusive`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Length {
    pub min: u32,
    pub max_exclusive: u32,
}

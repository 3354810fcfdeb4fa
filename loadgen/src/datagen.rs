//! Random JSON events that follow an Avro schema and its Datagen
//! `arg.properties` hints (ranges, regexes, option lists, iterations and
//! lengths), for producing realistic load.
//!
//! Events are plain JSON: a union is written as the bare value of one branch,
//! and bytes and fixed as strings of printable ASCII. The generator is seeded,
//! so one seed always yields the same event sequence. Writing an event
//! allocates nothing except one buffer per regex-generated string, which
//! `rand_regex` returns by value.

mod compile;
mod hints;
mod node;
mod options;
#[cfg(test)]
mod tests;

use std::io::Write;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use node::{IntGen, Kind, Length, Node, NodeId, StringGen};

/// Seed used until `with_seed` sets another.
const SEED_DEFAULT: u64 = 0x6c6f_6164_6765_6e21;
/// Nesting depth past which arrays and maps are empty and unions take their
/// shortest branch, so recursive schemas end.
const DEPTH_SOFT_MAX: u32 = 8;
const ALPHANUMERIC: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Event generator compiled from one Avro schema.
pub struct Generator {
    nodes: Vec<Node>,
    root: NodeId,
    iteration_starts: Vec<i64>,
    /// Current value of each `iteration` hint.
    counters: Vec<i64>,
    rng: SmallRng,
}

impl Generator {
    /// Compiles an Avro schema (`.avsc` text). The error names what is
    /// invalid or unsupported and where, as a JSON path such as `$.address.city`.
    pub fn from_avsc(text: &str) -> Result<Self, String> {
        apache_avro::Schema::parse_str(text).map_err(|e| format!("invalid Avro schema: {e}"))?;
        let json: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("invalid schema JSON: {e}"))?;
        let compiled = compile::compile(&json)?;
        Ok(Self {
            counters: compiled.iteration_starts.clone(),
            nodes: compiled.nodes,
            root: compiled.root,
            iteration_starts: compiled.iteration_starts,
            rng: SmallRng::seed_from_u64(SEED_DEFAULT),
        })
    }

    /// Restarts the sequence from `seed`, with every iteration back at its start.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.rng = SmallRng::seed_from_u64(seed);
        self.counters.clone_from(&self.iteration_starts);
        self
    }

    /// Appends one JSON event to `out`.
    pub fn next_into(&mut self, out: &mut Vec<u8>) {
        let mut writer = Writer {
            nodes: &self.nodes,
            counters: &mut self.counters,
            rng: &mut self.rng,
            out,
        };
        writer.write(self.root, 0);
    }
}

/// The state one event is written with.
struct Writer<'a> {
    nodes: &'a [Node],
    counters: &'a mut [i64],
    rng: &'a mut SmallRng,
    out: &'a mut Vec<u8>,
}

impl Writer<'_> {
    /// Writes a value of node `id` nested `depth` records and collections deep.
    fn write(&mut self, id: NodeId, depth: u32) {
        let node = &self.nodes[id];
        if !node.options.is_empty() {
            let pick = self.rng.random_range(0..node.options.len());
            self.out.extend_from_slice(&node.options[pick]);
            return;
        }
        let nested = depth < DEPTH_SOFT_MAX;
        match &node.kind {
            Kind::Null => self.out.extend_from_slice(b"null"),
            Kind::Boolean => {
                let text: &[u8] = if self.rng.random() { b"true" } else { b"false" };
                self.out.extend_from_slice(text);
            }
            Kind::Integer {
                min,
                max,
                generator,
            } => {
                let value = self.integer(generator, *min, *max);
                write_display(self.out, value);
            }
            Kind::Real { single, min, max } => {
                let value = self.rng.random_range(*min..*max);
                if *single {
                    write_display(self.out, value as f32);
                } else {
                    write_display(self.out, value);
                }
            }
            Kind::Bytes { length } => self.random_text(*length),
            Kind::Fixed { size } => self.random_text(Length {
                min: *size,
                max_exclusive: size + 1,
            }),
            Kind::String { generator } => self.string(generator),
            Kind::Enum { symbols } => {
                let pick = self.rng.random_range(0..symbols.len());
                write_json_string(self.out, symbols[pick].as_bytes());
            }
            Kind::Array { items, length } => {
                let count = if nested { self.length(*length) } else { 0 };
                self.out.push(b'[');
                for i in 0..count {
                    if i > 0 {
                        self.out.push(b',');
                    }
                    self.write(*items, depth + 1);
                }
                self.out.push(b']');
            }
            Kind::Map { values, length } => {
                let count = if nested { self.length(*length) } else { 0 };
                self.out.push(b'{');
                for i in 0..count {
                    if i > 0 {
                        self.out.push(b',');
                    }
                    let _ = write!(self.out, "\"key{i}\":");
                    self.write(*values, depth + 1);
                }
                self.out.push(b'}');
            }
            Kind::Union { branches, shortest } => {
                let branch = if nested {
                    branches[self.rng.random_range(0..branches.len())]
                } else {
                    *shortest
                };
                self.write(branch, depth);
            }
            Kind::Record { fields, .. } => {
                self.out.push(b'{');
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        self.out.push(b',');
                    }
                    self.out.extend_from_slice(&field.key);
                    self.write(field.node, depth + 1);
                }
                self.out.push(b'}');
            }
        }
    }

    fn integer(&mut self, generator: &IntGen, min: i64, max: i64) -> i64 {
        match *generator {
            IntGen::Range { min, max_exclusive } => self.rng.random_range(min..max_exclusive),
            IntGen::Iteration {
                counter,
                start,
                step,
                restart,
            } => {
                let value = self.counters[counter];
                let next = value
                    .checked_add(step)
                    .filter(|next| (min..=max).contains(next))
                    .filter(|&next| match restart {
                        Some(restart) if step > 0 => next < restart,
                        Some(restart) => next > restart,
                        None => true,
                    });
                self.counters[counter] = next.unwrap_or(start);
                value
            }
        }
    }

    fn string(&mut self, generator: &StringGen) {
        match generator {
            StringGen::Random(length) => self.random_text(*length),
            StringGen::Regex(regex) => {
                let text: Vec<u8> = self.rng.sample(regex.as_ref());
                write_json_string(self.out, &text);
            }
            StringGen::Uuid => self.uuid(),
        }
    }

    /// Writes a quoted string of random letters and digits.
    fn random_text(&mut self, length: Length) {
        let count = self.length(length);
        self.out.push(b'"');
        for _ in 0..count {
            let pick = self.rng.random_range(0..ALPHANUMERIC.len());
            self.out.push(ALPHANUMERIC[pick]);
        }
        self.out.push(b'"');
    }

    /// Writes a quoted random version 4 UUID.
    fn uuid(&mut self) {
        let mut bits: u128 = self.rng.random();
        // Version 4 and the RFC 9562 variant.
        bits = (bits & !(0xf << 76)) | (0x4 << 76);
        bits = (bits & !(0x3 << 62)) | (0x2 << 62);
        self.out.push(b'"');
        for nibble in 0..32 {
            if matches!(nibble, 8 | 12 | 16 | 20) {
                self.out.push(b'-');
            }
            let digit = (bits >> (124 - 4 * nibble)) & 0xf;
            self.out.push(HEX_DIGITS[digit as usize]);
        }
        self.out.push(b'"');
    }

    fn length(&mut self, length: Length) -> u32 {
        self.rng.random_range(length.min..length.max_exclusive)
    }
}

fn write_display(out: &mut Vec<u8>, value: impl std::fmt::Display) {
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{value}");
}

/// Writes UTF-8 `text` as a quoted JSON string, escaping what JSON requires.
fn write_json_string(out: &mut Vec<u8>, text: &[u8]) {
    out.push(b'"');
    for &byte in text {
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x00..=0x1f => {
                let _ = write!(out, "\\u{byte:04x}");
            }
            _ => out.push(byte),
        }
    }
    out.push(b'"');
}

//! Event values: fixed-size filler bytes, or a pool of JSON events generated
//! from an Avro schema, cycled so that generation stays out of the measured
//! loop. An e2e event also carries its send time in a header.

use std::sync::Arc;

use crate::datagen::Generator;

/// Header carrying the e2e send stamp: ns since the run's start, `u64`
/// big-endian.
pub const STAMP_HEADER: &str = "loadgen-ts";
/// Header naming the registry id of a schema-generated event.
pub const SCHEMA_ID_HEADER: &str = "schema_id";
/// Generated events per pool; the pool repeats after this many.
pub const POOL_EVENTS: usize = 4096;

/// The values producer threads send.
#[derive(Clone)]
pub enum Payloads {
    /// One value of `--message-bytes` bytes, sent for every event.
    Fixed(Arc<[u8]>),
    /// Generated events, and the schema id header they carry when registered.
    Pool {
        events: Arc<Vec<Vec<u8>>>,
        schema_id: Option<Arc<str>>,
    },
}

impl Payloads {
    /// Builds one value of `bytes` printable bytes.
    pub fn fixed(bytes: usize) -> Payloads {
        let value: Vec<u8> = (0..bytes).map(|i| b'a' + (i % 26) as u8).collect();
        Payloads::Fixed(value.into())
    }

    /// Generates a pool of [`POOL_EVENTS`] events with `generator`.
    pub fn generated(mut generator: Generator, schema_id: Option<u32>) -> Payloads {
        let events = (0..POOL_EVENTS)
            .map(|_| {
                let mut event = Vec::new();
                generator.next_into(&mut event);
                event
            })
            .collect();
        Payloads::Pool {
            events: Arc::new(events),
            schema_id: schema_id.map(|id| id.to_string().into()),
        }
    }

    /// Returns the value of the `index`-th event.
    pub fn value(&self, index: u64) -> &[u8] {
        match self {
            Payloads::Fixed(value) => value,
            Payloads::Pool { events, .. } => &events[(index % events.len() as u64) as usize],
        }
    }

    /// Returns the schema id header value, when events carry one.
    pub fn schema_id(&self) -> Option<&str> {
        match self {
            Payloads::Fixed(_) => None,
            Payloads::Pool { schema_id, .. } => schema_id.as_deref(),
        }
    }

    /// Mean value size, for sizing batches.
    pub fn mean_bytes(&self) -> usize {
        match self {
            Payloads::Fixed(value) => value.len(),
            Payloads::Pool { events, .. } => {
                events.iter().map(Vec::len).sum::<usize>() / events.len().max(1)
            }
        }
    }
}

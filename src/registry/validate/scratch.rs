//! Per-thread parse buffers, so that validating a JSON value on a shard
//! allocates nothing once the buffers have grown to the largest value seen.

use std::cell::RefCell;

use simd_json::value::tape::Value;
use simd_json::{Buffers, Tape};

use super::failure::Failure;

thread_local! {
    static SCRATCH: RefCell<(Buffers, Tape<'static>)> =
        RefCell::new((Buffers::default(), Tape(Vec::new())));
    /// Copy of one JSON value: simd-json parses in place, and the stored
    /// bytes must stay intact.
    static COPY: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on a copy of `bytes` in this thread's copy buffer, which stops
/// allocating once it has grown to the largest value seen.
pub(crate) fn with_copy<R>(bytes: &[u8], f: impl FnOnce(&mut [u8]) -> R) -> R {
    COPY.with(|cell| match cell.try_borrow_mut() {
        Ok(mut copy) => {
            copy.clear();
            copy.extend_from_slice(bytes);
            f(&mut copy)
        }
        // Only a nested call could hold the buffer.
        Err(_) => f(&mut bytes.to_vec()),
    })
}

/// Parses `json` in place into a tape built in this thread's buffers and
/// runs `f` on the root value and the tape's node count.
pub(crate) fn with_tape<R>(
    json: &mut [u8],
    f: impl FnOnce(Value<'_, '_>, usize) -> Result<R, Failure>,
) -> Result<R, Failure> {
    SCRATCH.with(|cell| {
        let Ok(mut scratch) = cell.try_borrow_mut() else {
            // Only a nested call could hold the buffers; parse without them.
            let tape = simd_json::to_tape(json).map_err(invalid_json)?;
            return f(tape.as_value(), tape.0.len());
        };
        let (buffers, stored) = &mut *scratch;
        let mut tape = std::mem::replace(stored, Tape(Vec::new())).reset();
        let result = match simd_json::fill_tape(json, buffers, &mut tape) {
            Ok(()) => f(tape.as_value(), tape.0.len()),
            Err(e) => Err(invalid_json(e)),
        };
        *stored = tape.reset();
        result
    })
}

fn invalid_json(e: simd_json::Error) -> Failure {
    Failure::new(super::failure::json_error_text(&e))
}

//! Zigzag varints as Kafka records use them: LEB128 groups of 7 bits, least
//! significant group first, with the sign folded into bit 0 (protobuf `sint`).

use bytes::BufMut;

/// Maximum encoded size of a 32-bit varint.
pub const VARINT_BYTES_MAX: usize = 5;
/// Maximum encoded size of a 64-bit varlong.
pub const VARLONG_BYTES_MAX: usize = 10;

/// Returns how many bytes `value` takes as a zigzag varint.
pub fn varint_len(value: i32) -> usize {
    varlong_len(i64::from(value))
}

/// Returns how many bytes `value` takes as a zigzag varlong.
pub fn varlong_len(value: i64) -> usize {
    let zigzag = zigzag_encode(value);
    // One byte per started group of 7 significant bits, and at least one byte.
    let bits = 64 - zigzag.leading_zeros() as usize;
    bits.div_ceil(7).max(1)
}

/// Appends `value` as a zigzag varint.
pub fn put_varint(buf: &mut impl BufMut, value: i32) {
    put_varlong(buf, i64::from(value));
}

/// Appends `value` as a zigzag varlong.
pub fn put_varlong(buf: &mut impl BufMut, value: i64) {
    let mut rest = zigzag_encode(value);
    while rest >= 0x80 {
        buf.put_u8((rest as u8) | 0x80);
        rest >>= 7;
    }
    buf.put_u8(rest as u8);
}

/// Decodes a zigzag varint at the start of `buf`. Returns the value and the
/// bytes it took, or `None` if `buf` ends first or the encoding is longer
/// than 5 bytes or overflows 32 bits.
pub fn get_varint(buf: &[u8]) -> Option<(i32, usize)> {
    let (raw, used) = get_unsigned(buf, VARINT_BYTES_MAX)?;
    let raw = u32::try_from(raw).ok()?;
    let value = (raw >> 1) as i32 ^ -((raw & 1) as i32);
    Some((value, used))
}

/// Decodes a zigzag varlong at the start of `buf`, like [`get_varint`] with a
/// 10-byte bound.
pub fn get_varlong(buf: &[u8]) -> Option<(i64, usize)> {
    let (raw, used) = get_unsigned(buf, VARLONG_BYTES_MAX)?;
    let value = (raw >> 1) as i64 ^ -((raw & 1) as i64);
    Some((value, used))
}

fn zigzag_encode(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

fn get_unsigned(buf: &[u8], bytes_max: usize) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    for (i, &byte) in buf.iter().take(bytes_max).enumerate() {
        let group = u64::from(byte & 0x7f);
        let shift = 7 * i as u32;
        // The 10th byte of a varlong may carry only the top bit of 64.
        if shift == 63 && group > 1 {
            return None;
        }
        value |= group << shift;
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_round_trip_edges() {
        for value in [0, 1, -1, 63, -64, 64, -65, i32::MAX, i32::MIN] {
            let mut buf = Vec::new();
            put_varint(&mut buf, value);
            assert_eq!(buf.len(), varint_len(value), "length of {value}");
            assert_eq!(get_varint(&buf), Some((value, buf.len())), "value {value}");
        }
    }

    #[test]
    fn varlong_round_trip_edges() {
        for value in [0, -1, 1 << 40, -(1 << 40), i64::MAX, i64::MIN] {
            let mut buf = Vec::new();
            put_varlong(&mut buf, value);
            assert_eq!(buf.len(), varlong_len(value), "length of {value}");
            assert_eq!(get_varlong(&buf), Some((value, buf.len())), "value {value}");
        }
    }

    #[test]
    fn zigzag_matches_kafka_bytes() {
        // Zigzag maps -1 to 1 and 1 to 2, as protobuf `sint32` does.
        let mut buf = Vec::new();
        put_varint(&mut buf, -1);
        put_varint(&mut buf, 1);
        put_varint(&mut buf, 300);
        assert_eq!(buf, [0x01, 0x02, 0xd8, 0x04]);
    }

    #[test]
    fn varint_rejects_truncated_and_overlong() {
        assert_eq!(get_varint(&[0x80]), None);
        assert_eq!(get_varint(&[]), None);
        assert_eq!(get_varint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), None);
        // Five bytes that decode past u32::MAX.
        assert_eq!(get_varint(&[0xff, 0xff, 0xff, 0xff, 0x7f]), None);
        assert_eq!(get_varlong(&[0xff; 10]), None);
    }
}

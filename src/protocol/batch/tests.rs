//! Tests of the batch codec, including compatibility with the
//! `kafka-protocol` crate's encoder and decoder.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::*;

fn sample_batch() -> BytesMut {
    let mut builder = BatchBuilder::new(1_000);
    builder.push(
        1_000,
        Some(b"k0"),
        Some(b"value zero"),
        &[("trace", b"abc")],
    );
    builder.push(1_250, None, Some(b""), &[]);
    builder.push(990, Some(b"k2"), None, &[("a", b""), ("b", b"\xff\x00")]);
    builder.finish()
}

/// Recomputes the CRC after a test edits covered fields on purpose.
fn reseal(batch: &mut [u8]) {
    let crc = crc32c::crc32c(&batch[CRC_START..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
}

#[test]
fn builder_round_trip() {
    let mut batch = sample_batch();
    let info = validate(&batch).unwrap();
    assert_eq!(info.size_bytes, batch.len());
    assert_eq!(info.record_count, 3);
    assert_eq!(info.last_offset_delta, 2);
    assert_eq!(info.base_timestamp_ms, 1_000);
    assert_eq!(info.max_timestamp_ms, 1_250);

    set_base_offset(&mut batch, 100);
    assert_eq!(base_offset(&batch), 100);
    assert!(validate(&batch).is_ok(), "base offset is outside the CRC");

    let records: Vec<_> = records(&batch).collect::<Result<_, _>>().unwrap();
    assert_eq!(records.len(), 3);
    assert_eq!(records[0].offset, 100);
    assert_eq!(records[0].timestamp_ms, 1_000);
    assert_eq!(records[0].key, Some(&b"k0"[..]));
    assert_eq!(records[0].value, Some(&b"value zero"[..]));
    let headers: Vec<_> = records[0].headers.clone().collect();
    assert_eq!(headers, [("trace", Some(&b"abc"[..]))]);

    assert_eq!(records[1].offset, 101);
    assert_eq!(records[1].key, None);
    assert_eq!(records[1].value, Some(&b""[..]));
    assert_eq!(records[1].headers.clone().count(), 0);

    assert_eq!(records[2].offset, 102);
    assert_eq!(records[2].timestamp_ms, 990);
    assert_eq!(records[2].value, None);
    let headers: Vec<_> = records[2].headers.clone().collect();
    assert_eq!(
        headers,
        [("a", Some(&b""[..])), ("b", Some(&b"\xff\x00"[..]))]
    );
}

#[test]
fn last_value_of_repeated_header() {
    let mut builder = BatchBuilder::new(1_000);
    builder.push(
        1_000,
        None,
        Some(b"v"),
        &[("id", b"1"), ("x", b""), ("id", b"2")],
    );
    builder.push(1_000, None, Some(b"v"), &[("other", b"1")]);
    let batch = builder.finish();
    let records: Vec<_> = records(&batch).collect::<Result<_, _>>().unwrap();
    assert_eq!(records[0].headers.last_value("id"), Some(Some(&b"2"[..])));
    assert_eq!(records[0].headers.last_value("x"), Some(Some(&b""[..])));
    assert_eq!(records[0].headers.last_value("i"), None);
    assert_eq!(records[1].headers.last_value("id"), None);
}

#[test]
fn header_size_and_fields() {
    let batch = sample_batch();
    let header = header(&batch).unwrap();
    assert_eq!(BATCH_HEADER_BYTES, 61);
    assert_eq!(header.magic, 2);
    assert_eq!(header.batch_length.get() as usize, batch.len() - 12);
    assert_eq!(header.producer_id.get(), -1);
    assert_eq!(header.record_count.get(), 3);
}

#[test]
fn crc_flip_detected() {
    let batch = sample_batch();
    for position in CRC_START..batch.len() {
        let mut corrupt = batch.clone();
        corrupt[position] ^= 0x10;
        let error = validate(&corrupt).unwrap_err();
        assert!(
            matches!(error, BatchError::CrcMismatch { .. }),
            "flip at byte {position} gave {error}"
        );
    }
}

#[test]
fn crc_error_names_both_values() {
    let mut batch = sample_batch();
    let last = batch.len() - 1;
    batch[last] ^= 1;
    let message = validate(&batch).unwrap_err().to_string();
    assert!(
        message.starts_with("CRC mismatch at byte 17: stored 0x"),
        "{message}"
    );
    assert!(message.contains("computed 0x"), "{message}");
}

#[test]
fn truncated_input_is_incomplete() {
    let batch = sample_batch();
    for len in 0..batch.len() {
        let error = validate(&batch[..len]).unwrap_err();
        assert!(error.is_incomplete(), "prefix of {len} bytes gave {error}");
        if len >= 12 {
            assert_eq!(
                error,
                BatchError::Incomplete {
                    need: if len < BATCH_HEADER_BYTES {
                        BATCH_HEADER_BYTES
                    } else {
                        batch.len()
                    },
                    have: len
                }
            );
        }
    }
}

#[test]
fn inspect_skips_crc_and_records() {
    let mut batch = sample_batch();
    let size = batch.len();
    let last = size - 1;
    batch[last] ^= 1;
    let info = inspect(&batch[..BATCH_HEADER_BYTES]).unwrap();
    assert_eq!(info.size_bytes, size);
    assert_eq!(info.record_count, 3);
    batch[16] = 0;
    assert_eq!(
        inspect(&batch),
        Err(BatchError::UnsupportedMagic { magic: 0 })
    );
}

#[test]
fn trailing_bytes_are_ignored() {
    let mut buf = sample_batch();
    let size = buf.len();
    buf.extend_from_slice(&sample_batch());
    assert_eq!(validate(&buf).unwrap().size_bytes, size);
}

#[test]
fn wrong_magic_rejected() {
    let mut batch = sample_batch();
    batch[16] = 1;
    assert_eq!(
        validate(&batch),
        Err(BatchError::UnsupportedMagic { magic: 1 })
    );
}

#[test]
fn bad_length_rejected() {
    for length in [-1i32, 0, 48, (BATCH_BYTES_MAX as i32)] {
        let mut batch = sample_batch();
        batch[8..12].copy_from_slice(&length.to_be_bytes());
        let error = validate(&batch).unwrap_err();
        assert!(
            matches!(error, BatchError::InvalidLength { length: l, .. } if l == length),
            "length {length} gave {error}"
        );
    }
}

#[test]
fn record_count_mismatch_rejected() {
    let mut batch = sample_batch();
    batch[23..27].copy_from_slice(&5i32.to_be_bytes()); // last_offset_delta
    reseal(&mut batch);
    assert!(matches!(
        validate(&batch),
        Err(BatchError::InvalidRecordCount {
            record_count: 3,
            last_offset_delta: 5,
            ..
        })
    ));

    let mut batch = sample_batch();
    batch[57..61].copy_from_slice(&0i32.to_be_bytes());
    batch[23..27].copy_from_slice(&(-1i32).to_be_bytes());
    reseal(&mut batch);
    assert!(matches!(
        validate(&batch),
        Err(BatchError::InvalidRecordCount { .. })
    ));
}

#[test]
fn huge_record_count_rejected() {
    let mut batch = sample_batch();
    batch[57..61].copy_from_slice(&1_000_000i32.to_be_bytes());
    batch[23..27].copy_from_slice(&999_999i32.to_be_bytes());
    reseal(&mut batch);
    assert!(matches!(
        validate(&batch),
        Err(BatchError::InvalidRecordCount { .. })
    ));
}

#[test]
fn bad_compression_codec_rejected() {
    let mut batch = sample_batch();
    batch[22] = 7;
    reseal(&mut batch);
    assert_eq!(
        validate(&batch),
        Err(BatchError::InvalidCompression { codec: 7 })
    );
}

#[test]
fn compressed_records_not_iterated() {
    let mut batch = sample_batch();
    batch[22] = 4; // zstd
    reseal(&mut batch);
    assert!(validate(&batch).is_ok());
    let mut iter = records(&batch);
    assert_eq!(
        iter.next().unwrap().unwrap_err(),
        BatchError::Compressed { codec: 4 }
    );
    assert!(iter.next().is_none());
}

#[test]
fn malformed_record_length_reported() {
    let mut batch = sample_batch();
    // The first record's length varint: claim 63 bytes, past the batch end.
    batch[BATCH_HEADER_BYTES] = 0x7e;
    reseal(&mut batch);
    let mut iter = records(&batch);
    let error = iter.next().unwrap().unwrap_err();
    assert_eq!(
        error,
        BatchError::MalformedRecord {
            position: BATCH_HEADER_BYTES,
            reason: "record length past the batch end"
        }
    );
    assert!(iter.next().is_none(), "the iterator ends after an error");
}

#[test]
fn invalid_header_key_reported() {
    let mut builder = BatchBuilder::new(0);
    builder.push(0, None, None, &[("k", b"v")]);
    let mut batch = builder.finish();
    // The header key is the byte before the value length and value.
    let key_position = batch.len() - 3;
    assert_eq!(batch[key_position], b'k');
    batch[key_position] = 0xff;
    reseal(&mut batch);
    let error = records(&batch).next().unwrap().unwrap_err();
    assert!(
        matches!(
            error,
            BatchError::MalformedRecord {
                reason: "header key is not UTF-8",
                ..
            }
        ),
        "{error}"
    );
}

#[test]
#[should_panic(expected = "at least one record")]
fn empty_builder_panics() {
    BatchBuilder::new(0).finish();
}

#[test]
fn kafka_protocol_decodes_built_batch() {
    use kafka_protocol::records::RecordBatchDecoder;

    let mut batch = sample_batch();
    set_base_offset(&mut batch, 42);
    let mut bytes = batch.freeze();
    let set = RecordBatchDecoder::decode(&mut bytes).unwrap();
    assert_eq!(set.version, 2);
    assert_eq!(set.records.len(), 3);
    let first = &set.records[0];
    assert_eq!(first.offset, 42);
    assert_eq!(first.timestamp, 1_000);
    assert_eq!(first.key.as_deref(), Some(&b"k0"[..]));
    assert_eq!(first.value.as_deref(), Some(&b"value zero"[..]));
    let (name, value) = first.headers.first().unwrap();
    assert_eq!(&**name, "trace");
    assert_eq!(value.as_deref(), Some(&b"abc"[..]));
    assert_eq!(set.records[1].key, None);
    assert_eq!(set.records[2].offset, 44);
    assert_eq!(set.records[2].timestamp, 990);
    assert_eq!(set.records[2].value, None);
    assert_eq!(set.records[2].headers.len(), 2);
}

#[test]
fn kafka_protocol_batch_validates() {
    use kafka_protocol::indexmap::IndexMap;
    use kafka_protocol::protocol::StrBytes;
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };

    let make = |offset: i64, value: &'static [u8]| Record {
        transactional: false,
        control: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset,
        // The encoder starts a new batch when offset - sequence changes.
        sequence: offset as i32,
        timestamp: 5_000 + offset,
        key: Some(Bytes::from_static(b"key")),
        value: Some(Bytes::from_static(value)),
        headers: IndexMap::from([(StrBytes::from_static_str("h"), None)]),
    };
    let input = [make(0, b"first"), make(1, b"second")];
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut buf, &input, &options).unwrap();

    let info = validate(&buf).unwrap();
    assert_eq!(info.size_bytes, buf.len());
    assert_eq!(info.record_count, 2);
    assert_eq!(info.max_timestamp_ms, 5_001);
    let records: Vec<_> = records(&buf).collect::<Result<_, _>>().unwrap();
    assert_eq!(records[1].offset, 1);
    assert_eq!(records[1].timestamp_ms, 5_001);
    assert_eq!(records[1].value, Some(&b"second"[..]));
    let headers: Vec<_> = records[1].headers.clone().collect();
    assert_eq!(headers, [("h", None)]);
}

type TestRecord = (
    i64,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Vec<(String, Vec<u8>)>,
);

fn record_strategy() -> impl Strategy<Value = TestRecord> {
    (
        any::<i64>(),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..300)),
        proptest::collection::vec(
            ("\\PC{0,8}", proptest::collection::vec(any::<u8>(), 0..8)),
            0..4,
        ),
    )
}

proptest! {
    #[test]
    fn builder_round_trip_any_records(
        base_timestamp_ms in any::<i64>(),
        base_offset_value in 0u64..(1 << 62),
        input in proptest::collection::vec(record_strategy(), 1..20),
    ) {
        let mut builder = BatchBuilder::new(base_timestamp_ms);
        for (timestamp_ms, key, value, headers) in &input {
            let headers: Vec<(&str, &[u8])> =
                headers.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect();
            builder.push(*timestamp_ms, key.as_deref(), value.as_deref(), &headers);
        }
        prop_assert_eq!(builder.record_count() as usize, input.len());
        let size_bytes = builder.size_bytes();
        let mut batch = builder.finish();
        prop_assert_eq!(batch.len(), size_bytes);
        set_base_offset(&mut batch, base_offset_value);

        let info = validate(&batch).unwrap();
        prop_assert_eq!(info.record_count as usize, input.len());
        let max_timestamp_ms = input.iter().map(|record| record.0).max().unwrap();
        prop_assert_eq!(info.max_timestamp_ms, max_timestamp_ms);

        let decoded: Vec<_> = records(&batch).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(decoded.len(), input.len());
        for (i, (record, expected)) in decoded.iter().zip(&input).enumerate() {
            prop_assert_eq!(record.offset, base_offset_value + i as u64);
            prop_assert_eq!(record.timestamp_ms, expected.0);
            prop_assert_eq!(record.key, expected.1.as_deref());
            prop_assert_eq!(record.value, expected.2.as_deref());
            let headers: Vec<_> = record.headers.clone().collect();
            let expected_headers: Vec<_> = expected
                .3
                .iter()
                .map(|(k, v)| (k.as_str(), Some(v.as_slice())))
                .collect();
            prop_assert_eq!(headers, expected_headers);
        }
    }
}

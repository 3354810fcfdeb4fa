//! Criterion benchmarks of the record-batch codec: encoding and decoding a
//! batch of 1,000 records with 100-byte values, and CRC-32C of 1 MiB.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

use ringbus::protocol::batch::{records, validate, BatchBuilder};

const RECORD_COUNT: usize = 1_000;
const VALUE_BYTES: usize = 100;
const CRC_INPUT_BYTES: usize = 1 << 20;

fn build_batch(value: &[u8]) -> bytes::BytesMut {
    let mut builder = BatchBuilder::with_capacity(1_700_000_000_000, RECORD_COUNT * 128);
    for i in 0..RECORD_COUNT {
        let key = (i as u64).to_be_bytes();
        builder.push(1_700_000_000_000 + i as i64, Some(&key), Some(value), &[]);
    }
    builder.finish()
}

fn bench_encode(c: &mut Criterion) {
    let value = vec![0x5a; VALUE_BYTES];
    let batch_bytes = build_batch(&value).len() as u64;
    let mut group = c.benchmark_group("batch");
    group.throughput(Throughput::Bytes(batch_bytes));
    group.bench_function("encode_1000x100B", |b| {
        b.iter(|| black_box(build_batch(black_box(&value))));
    });
    group.finish();
}

fn bench_decode(c: &mut Criterion) {
    let value = vec![0x5a; VALUE_BYTES];
    let batch = build_batch(&value).freeze();
    let mut group = c.benchmark_group("batch");
    group.throughput(Throughput::Bytes(batch.len() as u64));
    // Validation alone is what the produce path pays: header checks and CRC.
    group.bench_function("validate_1000x100B", |b| {
        b.iter(|| black_box(validate(black_box(&batch)).unwrap()));
    });
    // Full decode: validation plus walking every record, key and value.
    group.bench_function("decode_1000x100B", |b| {
        b.iter(|| {
            validate(black_box(&batch)).unwrap();
            let mut value_bytes = 0;
            for record in records(&batch) {
                value_bytes += record.unwrap().value.map_or(0, <[u8]>::len);
            }
            black_box(value_bytes)
        });
    });
    group.finish();
}

fn bench_crc(c: &mut Criterion) {
    let input: Vec<u8> = (0..CRC_INPUT_BYTES).map(|i| i as u8).collect();
    let mut group = c.benchmark_group("crc32c");
    group.throughput(Throughput::Bytes(CRC_INPUT_BYTES as u64));
    group.bench_function("1MiB", |b| {
        b.iter(|| black_box(crc32c::crc32c(black_box(&input))));
    });
    group.finish();
}

criterion_group!(benches, bench_encode, bench_decode, bench_crc);
criterion_main!(benches);

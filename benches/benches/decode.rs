//! Decoder throughput, values per second, one core.
//!
//! `fixture/*`: every block of the in-repo fixtures (real influxd output), by type.
//! `synthetic/*`: 1000-value blocks (InfluxDB's block size) in each encoder's usual and
//! worst shapes, encoded with `influx_tsm_shard::testkit::encode` outside the timed loop. Every input
//! is decoded once and checked before it is timed.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

use benchkit::data::{self, BLOCK};
use benchkit::fixture;
use influx_tsm_shard::encoding;
use influx_tsm_shard::testkit::encode;
use influx_tsm_shard::{FieldType, Limits, Values};

const BLOCKS: usize = 100;
const MAX: usize = 1 << 20;

/// `BLOCKS` blocks of `BLOCK` values each, encoded by `enc`.
fn blocks<T: Clone>(all: &[T], enc: impl Fn(&[T]) -> Vec<u8>) -> Vec<Vec<u8>> {
    all.chunks(BLOCK).map(&enc).collect()
}

fn bench_sections<T, D>(
    c: &mut Criterion,
    group: &str,
    name: &str,
    sections: &[Vec<u8>],
    expected: &[T],
    decode: D,
) where
    T: PartialEq + std::fmt::Debug + Clone,
    D: Fn(&[u8], &mut Vec<T>) -> influx_tsm_shard::Result<()>,
{
    // Correctness, outside the timed loop.
    let mut dst = Vec::new();
    let mut all = Vec::new();
    for s in sections {
        dst.clear();
        decode(s, &mut dst).expect("decodes");
        all.extend_from_slice(&dst);
    }
    assert_eq!(all.len(), expected.len(), "{group}/{name}: count");
    assert!(all == expected, "{group}/{name}: values differ");
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(expected.len() as u64));
    g.bench_function(BenchmarkId::from_parameter(name), |b| {
        b.iter(|| {
            for s in sections {
                dst.clear();
                decode(black_box(s), &mut dst).expect("decodes");
            }
            black_box(dst.len())
        })
    });
    g.finish();
}

fn synthetic(c: &mut Criterion) {
    let n = BLOCKS * BLOCK;
    for (name, v) in [
        ("sensor", data::floats_sensor(n, 1)),
        ("integral_counter", data::floats_counter(n)),
        ("random", data::floats_random(n, 2)),
    ] {
        let s = blocks(&v, encode::encode_floats);
        bench_sections(c, "floats", name, &s, &v, |s, d| {
            encoding::decode_floats(s, MAX, d)
        });
    }
    for (name, v) in [
        ("simple8b_small", data::integers_small(n, 3)),
        ("rle", data::integers_rle(n)),
        ("raw", data::integers_raw(n, 4)),
    ] {
        let s = blocks(&v, encode::encode_integers);
        bench_sections(c, "integers", name, &s, &v, |s, d| {
            encoding::decode_integers(s, MAX, d)
        });
    }
    let v = data::unsigned_small(n, 5);
    let s = blocks(&v, encode::encode_unsigned);
    bench_sections(c, "unsigned", "simple8b", &s, &v, |s, d| {
        encoding::decode_unsigned(s, MAX, d)
    });
    for (name, v) in [
        ("simple8b_jitter", data::timestamps_jitter(n, 6)),
        ("rle_regular", data::timestamps_regular(n)),
        ("raw", data::timestamps_raw(n, 7)),
    ] {
        let s = blocks(&v, encode::encode_timestamps);
        bench_sections(c, "timestamps", name, &s, &v, |s, d| {
            encoding::decode_timestamps(s, MAX, d)
        });
    }
    let v = data::booleans(n, 8);
    let s = blocks(&v, encode::encode_booleans);
    bench_sections(c, "booleans", "random", &s, &v, |s, d| {
        encoding::decode_booleans(s, MAX, d)
    });
    for (name, v) in [
        ("status", data::strings_status(n, 9)),
        ("random24", data::strings_random(n, 10)),
    ] {
        let s: Vec<Vec<u8>> = v
            .chunks(BLOCK)
            .map(|c| encode::encode_strings(&c.iter().map(Vec::as_slice).collect::<Vec<_>>()))
            .collect();
        let bytes: usize = v.iter().map(Vec::len).sum();
        let mut out = influx_tsm_shard::Strings::new();
        let mut all = Vec::new();
        for sec in &s {
            out.clear();
            encoding::decode_strings(sec, MAX, 1 << 30, &mut out).expect("decodes");
            all.extend(out.iter().map(<[u8]>::to_vec));
        }
        assert!(all == v, "strings/{name}: values differ");
        let mut g = c.benchmark_group("strings");
        g.throughput(Throughput::Elements(v.len() as u64));
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                for sec in &s {
                    out.clear();
                    encoding::decode_strings(black_box(sec), MAX, 1 << 30, &mut out)
                        .expect("decodes");
                }
                black_box(out.len())
            })
        });
        g.throughput(Throughput::Bytes(bytes as u64));
        g.bench_function(BenchmarkId::new("bytes", name), |b| {
            b.iter(|| {
                for sec in &s {
                    out.clear();
                    encoding::decode_strings(black_box(sec), MAX, 1 << 30, &mut out)
                        .expect("decodes");
                }
                black_box(out.len())
            })
        });
        g.finish();
    }
}

fn fixtures(c: &mut Criterion) {
    let blocks = fixture::blocks(&["small-a", "small-b"]);
    let limits = Limits::default();
    let mut g = c.benchmark_group("fixture");
    for ty in [
        FieldType::Float,
        FieldType::Integer,
        FieldType::Boolean,
        FieldType::String,
    ] {
        let mine: Vec<_> = blocks.iter().filter(|b| b.field_type == ty).collect();
        let count: usize = mine.iter().map(|b| b.count).sum();
        if count == 0 {
            continue;
        }
        g.throughput(Throughput::Elements(count as u64));
        let (mut ts, mut values) = (Vec::new(), Values::new(ty));
        // Correctness, outside the timed loop: every block decodes to its count.
        let mut n = 0;
        for blk in &mine {
            influx_tsm_shard::block::decode_block(&blk.block, 0, &limits, &mut ts, &mut values)
                .expect("decodes");
            n += ts.len();
        }
        assert_eq!(n, count);
        g.bench_function(BenchmarkId::new("block", ty.name()), |b| {
            b.iter(|| {
                let mut n = 0;
                for blk in &mine {
                    influx_tsm_shard::block::decode_block(
                        black_box(&blk.block),
                        0,
                        &limits,
                        &mut ts,
                        &mut values,
                    )
                    .expect("decodes");
                    n += ts.len();
                }
                black_box(n)
            })
        });
        g.bench_function(BenchmarkId::new("timestamps", ty.name()), |b| {
            b.iter(|| {
                for blk in &mine {
                    ts.clear();
                    encoding::decode_timestamps(black_box(&blk.timestamps), MAX, &mut ts)
                        .expect("decodes");
                }
                ts.len()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, synthetic, fixtures);
criterion_main!(benches);

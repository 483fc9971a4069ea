//! The merged view: every row of every measurement of a shard, through
//! `Shard::rows` (per-key merge across TSM files and the WAL, tombstones, field join).
//!
//! `fixture/small-a`: all 27 shards of the real fixture (overlapping files, tombstones,
//! WAL), opened outside the timed loop. `synthetic/*`: one shard of 50 series x 5 fields
//! x 20,000 points: one file (aligned fields, the fast path), two overlapping files
//! (merge), and a field present at every third point only (row-by-row join). Row and
//! value counts are checked before timing.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

use benchkit::fixture;
use benchkit::synth::{self, Spec};
use influx_tsm_shard::Limits;
use influx_tsm_shard::shard::Shard;

fn fixture_shards(c: &mut Criterion) {
    let dir = fixture::influxdb_dir("small-a");
    let layout =
        influx_tsm_shard::layout::scan(&dir.join("data"), Some(&dir.join("wal"))).expect("scan");
    let shards: Vec<Shard> = layout
        .shards
        .iter()
        .map(|loc| Shard::open(loc, &Limits::default()).expect("opens"))
        .collect();
    let (rows, values) = shards.iter().fold((0, 0), |(r, v), s| {
        let (r2, v2) = synth::read_all(s).expect("reads");
        (r + r2, v + v2)
    });
    // The oracle of small-a holds 2,901 points and 16,159 field values.
    assert_eq!((rows, values), (2901, 16159));
    let mut g = c.benchmark_group("merged_view");
    g.throughput(Throughput::Elements(values as u64));
    g.bench_function(BenchmarkId::new("fixture", "small-a"), |b| {
        b.iter(|| {
            let mut n = 0;
            for s in &shards {
                n += synth::read_all(black_box(s)).expect("reads").1;
            }
            n
        })
    });
    g.bench_function(BenchmarkId::new("fixture_open", "small-a"), |b| {
        b.iter(|| {
            let mut n = 0;
            for loc in &layout.shards {
                let s = Shard::open(loc, &Limits::default()).expect("opens");
                n += synth::read_all(&s).expect("reads").1;
            }
            n
        })
    });
    g.finish();
}

fn synthetic_shards(c: &mut Criterion) {
    let mut g = c.benchmark_group("merged_view");
    g.sample_size(20);
    for (name, overwrite_every, ragged) in [
        ("aligned", 0, false),
        ("overlap_every_4th_block", 4, false),
        ("ragged_fields", 0, true),
    ] {
        let built = synth::build(Spec {
            series: 50,
            points: 20_000,
            overwrite_every,
            ragged,
        });
        let shard = Shard::open(&built.location(), &Limits::default()).expect("opens");
        assert_eq!(
            synth::read_all(&shard).expect("reads"),
            (built.rows, built.values),
            "{name}"
        );
        g.throughput(Throughput::Elements(built.values as u64));
        g.bench_function(BenchmarkId::new("synthetic", name), |b| {
            b.iter(|| synth::read_all(black_box(&shard)).expect("reads").1)
        });
    }
    g.finish();
}

criterion_group!(benches, fixture_shards, synthetic_shards);
criterion_main!(benches);

//! A whole export through the `influx-tsm-export` library (plan, open, merge, Arrow, Parquet or line
//! protocol, manifests), as `influx-tsm export` runs it, of the `small-a` fixture and of
//! a synthetic shard (50 series x 5 fields x 20,000 points). Each iteration writes into
//! a fresh directory; the summary's value count is checked before timing.

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

use benchkit::fixture;
use benchkit::synth::{self, Spec};
use influx_tsm_export::{Format, NoProgress, Options, OutDir, Plan};

/// Exports `input` (an InfluxDB directory) into `out` with the library, as `influx-tsm
/// export <input> -o <out> -q` does; returns the values written.
fn export(input: &std::path::Path, out: &std::path::Path, format: Format) -> u64 {
    let options = Options::builder(input.join("data"), out)
        .wal_dir(input.join("wal"))
        .format(format)
        .build()
        .expect("options");
    let plan = Plan::new(&options).expect("plan");
    let out = OutDir::prepare(&options).expect("out dir");
    let results = influx_tsm_export::export(&options, &plan, &out, &NoProgress).expect("export");
    results
        .iter()
        .flat_map(|r| &r.manifest.files)
        .map(|f| f.values)
        .sum()
}

fn bench_export(c: &mut Criterion, name: &str, input: &std::path::Path, values: u64) {
    let mut g = c.benchmark_group("export");
    g.sample_size(10);
    g.throughput(Throughput::Elements(values));
    for (label, format) in [("parquet", Format::Parquet), ("lp", Format::Lp)] {
        if format == Format::Parquet {
            let tmp = tempfile::tempdir().expect("tmp");
            assert_eq!(export(input, &tmp.path().join("out"), format), values);
        }
        g.bench_function(BenchmarkId::new(label, name), |b| {
            b.iter_batched(
                || tempfile::tempdir().expect("tmp"),
                |tmp| export(input, &tmp.path().join("out"), format),
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

fn exports(c: &mut Criterion) {
    bench_export(
        c,
        "fixture_small-a",
        &fixture::influxdb_dir("small-a"),
        16159,
    );
    let built = synth::build(Spec {
        series: 50,
        points: 20_000,
        overwrite_every: 4,
        ragged: false,
    });
    let root = built.dir.path().to_path_buf();
    bench_export(c, "synthetic", &root, built.values as u64);
}

criterion_group!(benches, exports);
criterion_main!(benches);

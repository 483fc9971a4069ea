//! A whole export through the CLI library (plan, open, merge, Arrow, Parquet or line
//! protocol, manifests), as `influx-tsm export` runs it, of the `small-a` fixture and of
//! a synthetic shard (50 series x 5 fields x 20,000 points). Each iteration writes into
//! a fresh directory; the summary's value count is checked before timing.

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

use benchkit::fixture;
use benchkit::synth::{self, Spec};
use clap::Parser;
use influx_tsm::args::{Cli, Command};
use influx_tsm::config::Config;
use influx_tsm::plan::Plan;
use influx_tsm::progress::Progress;
use influx_tsm::state::OutDir;

/// Runs `influx-tsm export <input> -o <out> -q <extra...>`; returns the values written.
fn export(input: &std::path::Path, out: &std::path::Path, extra: &[&str]) -> u64 {
    let mut argv = vec![
        "influx-tsm".to_string(),
        "export".into(),
        input.display().to_string(),
        "-o".into(),
        out.display().to_string(),
        "-q".into(),
    ];
    argv.extend(extra.iter().map(|s| s.to_string()));
    let Command::Export(args) = Cli::try_parse_from(argv).expect("args").command else {
        unreachable!("export command")
    };
    let config = Config::from_args(*args, false).expect("config");
    let plan = Plan::new(&config).expect("plan");
    let out = OutDir::prepare(&config).expect("out dir");
    let progress = Progress::new(false, plan.shards.len(), plan.bytes());
    let results = influx_tsm::export::export(&config, &plan, &out, &progress).expect("export");
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
    for (format, extra) in [("parquet", &[][..]), ("lp", &["--format", "lp"][..])] {
        if format == "parquet" {
            let tmp = tempfile::tempdir().expect("tmp");
            assert_eq!(export(input, &tmp.path().join("out"), extra), values);
        }
        g.bench_function(BenchmarkId::new(format, name), |b| {
            b.iter_batched(
                || tempfile::tempdir().expect("tmp"),
                |tmp| export(input, &tmp.path().join("out"), extra),
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

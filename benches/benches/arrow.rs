//! Row batches to Arrow record batches (`influx_tsm_arrow::record_batch`, which copies the
//! numeric buffers, and `into_record_batch`, which moves them), on the rows of a synthetic
//! shard (50 series x 5 fields x 20,000 points, 64 Ki-row batches) and of the fixture.

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

use benchkit::fixture;
use benchkit::synth::{self, Spec};
use influx_tsm_arrow::Columns;
use influx_tsm_shard::Limits;
use influx_tsm_shard::rows::{MeasurementSchema, RowBatch};
use influx_tsm_shard::shard::{Shard, TimeRange};

fn batches(shard: &Shard) -> Vec<(MeasurementSchema, Vec<RowBatch>)> {
    let mut out = Vec::new();
    for (i, schema) in shard.measurements().iter().enumerate() {
        let mut stream = shard.rows(i, TimeRange::ALL);
        let mut all = Vec::new();
        let mut batch = RowBatch::new(schema);
        while stream
            .next_batch(&mut batch, 64 * 1024, 64 << 20)
            .expect("reads")
        {
            all.push(batch.clone());
        }
        out.push((schema.clone(), all));
    }
    out
}

fn bench_batches(c: &mut Criterion, name: &str, input: &[(MeasurementSchema, Vec<RowBatch>)]) {
    let columns: Vec<Columns> = input.iter().map(|(s, _)| Columns::new(s)).collect();
    let rows: usize = input.iter().flat_map(|(_, b)| b).map(RowBatch::len).sum();
    // Correctness, outside the timed loop: shapes and row counts.
    for ((_, batches), cols) in input.iter().zip(&columns) {
        for b in batches {
            let rb = influx_tsm_arrow::record_batch(cols, b).expect("converts");
            assert_eq!(rb.num_rows(), b.len());
            assert_eq!(rb.num_columns(), cols.columns().len());
        }
    }
    let mut g = c.benchmark_group("arrow");
    g.throughput(Throughput::Elements(rows as u64));
    g.bench_function(BenchmarkId::new("record_batch", name), |b| {
        b.iter(|| {
            let mut n = 0;
            for ((_, batches), cols) in input.iter().zip(&columns) {
                for rows in batches {
                    n += influx_tsm_arrow::record_batch(cols, black_box(rows))
                        .expect("converts")
                        .num_rows();
                }
            }
            n
        })
    });
    g.bench_function(BenchmarkId::new("into_record_batch", name), |b| {
        b.iter_batched(
            || input.to_vec(),
            |owned| {
                let mut n = 0;
                let mut stats = influx_tsm_arrow::Stats::default();
                for ((_, batches), cols) in owned.into_iter().zip(&columns) {
                    for rows in batches {
                        n += influx_tsm_arrow::into_record_batch(cols, rows, &mut stats)
                            .expect("converts")
                            .num_rows();
                    }
                }
                n
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn arrow(c: &mut Criterion) {
    let built = synth::build(Spec {
        series: 50,
        points: 20_000,
        overwrite_every: 0,
        ragged: true,
    });
    let shard = Shard::open(&built.location(), &Limits::default()).expect("opens");
    bench_batches(c, "synthetic_ragged", &batches(&shard));

    let dir = fixture::influxdb_dir("small-a");
    let layout =
        influx_tsm_shard::layout::scan(&dir.join("data"), Some(&dir.join("wal"))).expect("scan");
    let all: Vec<_> = layout
        .shards
        .iter()
        .flat_map(|loc| batches(&Shard::open(loc, &Limits::default()).expect("opens")))
        .collect();
    bench_batches(c, "fixture_small-a", &all);
}

criterion_group!(benches, arrow);
criterion_main!(benches);

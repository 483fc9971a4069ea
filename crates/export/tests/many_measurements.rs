//! A group of shards holding more measurements than a group keeps files open for is
//! written in passes: every measurement still gets its one file, with every row of every
//! shard of the group, in shard order.

use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, TimestampNanosecondType};
use influx_tsm_export::{NoProgress, Options, OutDir, Plan, export};
use influx_tsm_shard::testkit::tsm::TsmWriter;
use influx_tsm_shard::values::Values;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

const MEASUREMENTS: usize = 600;
const SHARDS: u64 = 3;

/// Measurement `m` holds `m % 5 + 1` points in each shard, at times `shard * 1000 + i`,
/// with values `m * 1e6 + shard * 1000 + i`.
fn points(m: usize, shard: u64) -> (Vec<i64>, Vec<f64>) {
    (0..(m % 5 + 1) as i64)
        .map(|i| {
            let t = shard as i64 * 1000 + i;
            (t, m as f64 * 1e6 + t as f64)
        })
        .unzip()
}

fn make_dir(root: &Path) {
    for shard in 1..=SHARDS {
        let dir = root.join(format!("data/db/rp/{shard}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut w = TsmWriter::new();
        for m in 0..MEASUREMENTS {
            let (t, v) = points(m, shard);
            w.write_block(
                format!("m{m:04},host=a#!~#v").as_bytes(),
                &t,
                &Values::Float(v),
            );
        }
        std::fs::write(dir.join("000000001-000000001.tsm"), w.finish()).unwrap();
    }
}

#[test]
fn every_measurement_of_a_wide_group_gets_its_rows() {
    let tmp = tempfile::tempdir().unwrap();
    make_dir(tmp.path());
    let out = tmp.path().join("out");
    let options = Options::builder(tmp.path().join("data"), &out)
        .build()
        .unwrap();
    let plan = Plan::new(&options).unwrap();
    assert_eq!(plan.groups.len(), 1, "the shards are one group");
    let dir = OutDir::prepare(&options).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let results = pool
        .install(|| export(&options, &plan, &dir, &NoProgress))
        .unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].manifest.files.len(), MEASUREMENTS);
    for m in 0..MEASUREMENTS {
        let path = out.join(format!("db/rp/m{m:04}/1-{SHARDS}.parquet"));
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap())
            .unwrap()
            .build()
            .unwrap();
        let (mut times, mut values): (Vec<i64>, Vec<f64>) = (Vec::new(), Vec::new());
        for batch in reader {
            let batch = batch.unwrap();
            let time = batch.column_by_name("time").unwrap();
            times.extend(
                time.as_primitive::<TimestampNanosecondType>()
                    .values()
                    .iter(),
            );
            let v = batch.column_by_name("v").unwrap();
            values.extend(v.as_primitive::<Float64Type>().values().iter());
        }
        let (want_t, want_v): (Vec<i64>, Vec<f64>) = (1..=SHARDS)
            .map(|shard| points(m, shard))
            .fold((Vec::new(), Vec::new()), |(mut t, mut v), (a, b)| {
                t.extend(a);
                v.extend(b);
                (t, v)
            });
        assert_eq!(times, want_t, "m{m:04}");
        assert_eq!(values, want_v, "m{m:04}");
    }
}

//! Property test: random shards (overlapping TSM files with tombstones, and a WAL with
//! writes, deletes and delete-ranges) built with the test writers; the merged view must
//! equal a plain model of InfluxDB's rules: replay everything in order, last write wins,
//! each file's tombstones hide only that file's values, WAL deletes hide only earlier WAL
//! writes.

use std::collections::BTreeMap;

use influx_tsm_shard::Values;
use influx_tsm_shard::layout::scan;
use influx_tsm_shard::rows::RowBatch;
use influx_tsm_shard::shard::{Shard, ShardOptions, TimeRange};
use influx_tsm_shard::testkit::tombstone::write_v4;
use influx_tsm_shard::testkit::tsm::TsmWriter;
use influx_tsm_shard::testkit::wal::WalSegmentWriter;
use influx_tsm_shard::tombstone::Tombstone;
use influx_tsm_shard::values::Value;
use influx_tsm_shard::wal::WalWrite;
use proptest::prelude::*;

/// Three keys: two fields of one series (float `f`, integer `g`) and `f` of another.
const KEYS: [&[u8]; 3] = [b"m,t=a#!~#f", b"m,t=a#!~#g", b"m,t=b#!~#f"];

fn values_of(key: usize, v: &[i64]) -> Values {
    if key == 1 {
        Values::Integer(v.to_vec())
    } else {
        Values::Float(v.iter().map(|&x| x as f64 / 2.0).collect())
    }
}

#[derive(Clone, Debug)]
struct TsmSpec {
    /// Per key: points (time, value); duplicates resolved to the last.
    points: Vec<Vec<(i64, i64)>>,
    block_size: usize,
    tombstones: Vec<(usize, i64, i64)>,
}

#[derive(Clone, Debug)]
enum WalOp {
    Write(usize, Vec<(i64, i64)>),
    DeleteRange(Vec<usize>, i64, i64),
    Delete(Vec<usize>),
}

fn points() -> impl Strategy<Value = Vec<(i64, i64)>> {
    prop::collection::vec((0i64..40, -5i64..5), 0..12)
}

fn tsm_spec() -> impl Strategy<Value = TsmSpec> {
    (
        prop::collection::vec(points(), 3),
        1usize..5,
        prop::collection::vec((0usize..3, -1i64..41, 0i64..15), 0..3),
    )
        .prop_map(|(points, block_size, t)| TsmSpec {
            points,
            block_size,
            tombstones: t
                .into_iter()
                .map(|(k, lo, len)| (k, lo, lo + len))
                .collect(),
        })
}

fn wal_op() -> impl Strategy<Value = WalOp> {
    prop_oneof![
        3 => (0usize..3, prop::collection::vec((0i64..40, -5i64..5), 1..6))
            .prop_map(|(k, p)| WalOp::Write(k, p)),
        1 => (prop::collection::vec(0usize..3, 1..3), -1i64..41, 0i64..20)
            .prop_map(|(k, lo, len)| WalOp::DeleteRange(k, lo, lo + len)),
        1 => prop::collection::vec(0usize..3, 1..3).prop_map(WalOp::Delete),
    ]
}

/// Sorted, last-wins points of a file for one key.
fn dedup(points: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let map: BTreeMap<i64, i64> = points.iter().copied().collect();
    map.into_iter().collect()
}

type Model = BTreeMap<(usize, i64), i64>;

fn model(files: &[TsmSpec], segments: &[Vec<WalOp>]) -> Model {
    let mut out = Model::new();
    for f in files {
        for (k, points) in f.points.iter().enumerate() {
            for (t, v) in dedup(points) {
                let deleted = f
                    .tombstones
                    .iter()
                    .any(|&(tk, lo, hi)| tk == k && lo <= t && t <= hi);
                if !deleted {
                    out.insert((k, t), v);
                }
            }
        }
    }
    let mut cache: Vec<Vec<(i64, i64)>> = vec![Vec::new(); 3];
    for op in segments.iter().flatten() {
        match op {
            WalOp::Write(k, p) => cache[*k].extend(p),
            WalOp::DeleteRange(keys, lo, hi) => {
                for &k in keys {
                    cache[k].retain(|&(t, _)| t < *lo || t > *hi);
                }
            }
            WalOp::Delete(keys) => {
                for &k in keys {
                    cache[k].clear();
                }
            }
        }
    }
    for (k, points) in cache.iter().enumerate() {
        for (t, v) in dedup(points) {
            out.insert((k, t), v);
        }
    }
    out
}

fn build(dir: &std::path::Path, files: &[TsmSpec], segments: &[Vec<WalOp>]) {
    let shard_dir = dir.join("data/db/rp/1");
    let wal_dir = dir.join("wal/db/rp/1");
    std::fs::create_dir_all(&shard_dir).unwrap();
    std::fs::create_dir_all(&wal_dir).unwrap();
    for (i, f) in files.iter().enumerate() {
        let mut w = TsmWriter::new();
        let mut any = false;
        for (k, points) in f.points.iter().enumerate() {
            let points = dedup(points);
            for chunk in points.chunks(f.block_size) {
                let ts: Vec<i64> = chunk.iter().map(|p| p.0).collect();
                let v: Vec<i64> = chunk.iter().map(|p| p.1).collect();
                w.write_block(KEYS[k], &ts, &values_of(k, &v));
                any = true;
            }
        }
        if !any {
            continue; // InfluxDB never writes a TSM file without keys.
        }
        let stem = format!("{:09}-{:09}", i + 1, 1);
        std::fs::write(shard_dir.join(format!("{stem}.tsm")), w.finish()).unwrap();
        if !f.tombstones.is_empty() {
            let t: Vec<Tombstone> = f
                .tombstones
                .iter()
                .map(|&(k, lo, hi)| Tombstone {
                    key: KEYS[k].to_vec(),
                    min_time: lo,
                    max_time: hi,
                })
                .collect();
            std::fs::write(shard_dir.join(format!("{stem}.tombstone")), write_v4(&[&t])).unwrap();
        }
    }
    for (i, ops) in segments.iter().enumerate() {
        let mut w = WalSegmentWriter::new();
        for op in ops {
            match op {
                WalOp::Write(k, p) => {
                    let timestamps = p.iter().map(|x| x.0).collect();
                    let v: Vec<i64> = p.iter().map(|x| x.1).collect();
                    let values = values_of(*k, &v);
                    w.write(&[WalWrite {
                        key: KEYS[*k].to_vec(),
                        timestamps,
                        values,
                    }]);
                }
                WalOp::DeleteRange(keys, lo, hi) => {
                    let keys: Vec<&[u8]> = keys.iter().map(|&k| KEYS[k]).collect();
                    w.delete_range(*lo, *hi, &keys);
                }
                WalOp::Delete(keys) => {
                    let keys: Vec<&[u8]> = keys.iter().map(|&k| KEYS[k]).collect();
                    w.delete(&keys);
                }
            }
        }
        std::fs::write(wal_dir.join(format!("_{:05}.wal", i + 1)), w.finish()).unwrap();
    }
}

fn merged(dir: &std::path::Path, max_rows: usize) -> Model {
    let layout = scan(&dir.join("data"), Some(&dir.join("wal"))).unwrap();
    let mut out = Model::new();
    for loc in &layout.shards {
        let shard = Shard::open_with(loc, &ShardOptions::default().verify_crc(true)).unwrap();
        assert!(shard.problems().is_empty(), "{:?}", shard.problems());
        for (m, schema) in shard.measurements().iter().enumerate() {
            let mut rows = shard.rows(m, TimeRange::ALL);
            let mut batch = RowBatch::new(schema);
            while rows.next_batch(&mut batch, max_rows, usize::MAX).unwrap() {
                let mut row = 0;
                for run in &batch.series {
                    for r in row..row + run.rows {
                        for (f, column) in schema.fields.iter().zip(&batch.fields) {
                            if !column.valid[r] {
                                continue;
                            }
                            let mut key = run.key.to_vec();
                            key.extend_from_slice(b"#!~#");
                            key.extend_from_slice(&f.key);
                            let k = KEYS.iter().position(|x| *x == key.as_slice()).unwrap();
                            let v = match column.values.get(r).unwrap() {
                                Value::Float(x) => (x * 2.0) as i64,
                                Value::Integer(x) => x,
                                other => panic!("unexpected {other:?}"),
                            };
                            assert!(out.insert((k, batch.time[r]), v).is_none(), "duplicate row");
                        }
                    }
                    row += run.rows;
                }
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn merged_view_equals_model(
        files in prop::collection::vec(tsm_spec(), 0..4),
        segments in prop::collection::vec(prop::collection::vec(wal_op(), 0..6), 0..3),
        max_rows in prop_oneof![Just(1usize), Just(3), Just(1000)],
    ) {
        let dir = tempfile::tempdir().unwrap();
        build(dir.path(), &files, &segments);
        let expected = model(&files, &segments);
        let got = merged(dir.path(), max_rows);
        prop_assert_eq!(got, expected);
    }
}

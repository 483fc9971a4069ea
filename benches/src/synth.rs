//! Synthetic shards on disk, written with `influx_tsm_shard::testkit` in InfluxDB's layout
//! (`data/<db>/<rp>/<id>/*.tsm`), whose merged contents are known.

use std::path::PathBuf;

use influx_tsm_shard::Values;
use influx_tsm_shard::testkit::tsm::TsmWriter;

use crate::data::{self, BLOCK};

/// How to build a synthetic shard.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// Series (`air,device=Dnnnnn`).
    pub series: usize,
    /// Points per series.
    pub points: usize,
    /// Write a second, newer TSM file that rewrites every `overwrite_every`-th block of
    /// every key with new values at the same timestamps (0: one file only). Exercises the
    /// per-key merge; the merged counts do not change.
    pub overwrite_every: usize,
    /// Give the integer field `rssi` a value only at every third point, so the fields of a
    /// series are not aligned and rows are joined one by one.
    pub ragged: bool,
}

/// A shard written to a temporary directory.
pub struct SynthShard {
    /// Holds the files; removed on drop.
    pub dir: tempfile::TempDir,
    /// Rows the merged view must return.
    pub rows: usize,
    /// Field values the merged view must return.
    pub values: usize,
}

impl SynthShard {
    /// `<dir>/data`.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The shard's location, as `influx_tsm_shard::layout::scan` finds it.
    ///
    /// # Panics
    /// When the directory cannot be scanned.
    pub fn location(&self) -> influx_tsm_shard::layout::ShardLocation {
        let layout =
            influx_tsm_shard::layout::scan(&self.data_dir(), None).expect("synthetic layout");
        layout.shards.into_iter().next().expect("one shard")
    }
}

const FIELDS: [&str; 5] = ["humid", "pm10", "pm25", "rssi", "temp"];

fn field_values(field: &str, n: usize, seed: u64) -> Values {
    match field {
        "rssi" => Values::Integer(data::integers_small(n, seed)),
        "humid" => Values::Float(
            data::integers_small(n, seed)
                .iter()
                .map(|v| (v + 130) as f64)
                .collect(),
        ),
        _ => Values::Float(data::floats_sensor(n, seed)),
    }
}

/// Writes the shard described by `spec`.
///
/// # Panics
/// When the temporary directory cannot be written.
pub fn build(spec: Spec) -> SynthShard {
    let dir = tempfile::tempdir().expect("temp dir");
    let shard_dir = dir.path().join("data/bench/autogen/1");
    std::fs::create_dir_all(&shard_dir).expect("mkdir");
    let mut older = TsmWriter::new();
    let mut newer = TsmWriter::new();
    let mut values = 0;
    for s in 0..spec.series {
        let ts_all = data::timestamps_jitter(spec.points, s as u64);
        for (f, field) in FIELDS.iter().enumerate() {
            let key = format!("air,device=D{s:05}#!~#{field}");
            let seed = (s * FIELDS.len() + f) as u64;
            let ts: Vec<i64> = if spec.ragged && *field == "rssi" {
                ts_all.iter().copied().step_by(3).collect()
            } else {
                ts_all.clone()
            };
            values += ts.len();
            let v = field_values(field, ts.len(), seed);
            for (b, start) in (0..ts.len()).step_by(BLOCK).enumerate() {
                let end = (start + BLOCK).min(ts.len());
                let mut chunk = Values::new(v.field_type());
                chunk.extend_from(&v, start..end);
                older.write_block(key.as_bytes(), &ts[start..end], &chunk);
                if spec.overwrite_every > 0 && b % spec.overwrite_every == 0 {
                    let again = field_values(field, end - start, seed + 1_000_000);
                    newer.write_block(key.as_bytes(), &ts[start..end], &again);
                }
            }
        }
    }
    std::fs::write(shard_dir.join("000000001-000000001.tsm"), older.finish()).expect("write");
    if spec.overwrite_every > 0 {
        std::fs::write(shard_dir.join("000000002-000000001.tsm"), newer.finish()).expect("write");
    }
    SynthShard {
        dir,
        rows: spec.series * spec.points,
        values,
    }
}

/// Reads every row of every measurement of `shard`; returns (rows, values).
///
/// # Errors
/// When a block cannot be decoded.
pub fn read_all(
    shard: &influx_tsm_shard::shard::Shard,
) -> influx_tsm_shard::Result<(usize, usize)> {
    let (mut rows, mut values) = (0, 0);
    for (i, schema) in shard.measurements().iter().enumerate() {
        let mut batch = influx_tsm_shard::rows::RowBatch::new(schema);
        let mut stream = shard.rows(i, influx_tsm_shard::shard::TimeRange::ALL);
        while stream.next_batch(&mut batch, 64 * 1024, 64 << 20)? {
            rows += batch.len();
            values += batch.value_count();
        }
    }
    Ok((rows, values))
}

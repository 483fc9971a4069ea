//! With `skip_corrupt`, a damaged block costs only its own values: the key's other blocks,
//! the other keys, and older files' values at the same times are still returned, and the
//! block is reported with its file and offset. Without it, the damage is an error.

use influx_tsm_shard::Values;
use influx_tsm_shard::layout::scan;
use influx_tsm_shard::rows::RowBatch;
use influx_tsm_shard::shard::{Shard, ShardOptions, TimeRange};
use influx_tsm_shard::testkit::tsm::TsmWriter;
use influx_tsm_shard::values::Value;

/// (time, value) of every row of the shard's only measurement, and the skipped errors.
type Rows = (Vec<(i64, f64)>, Vec<influx_tsm_shard::Error>);

fn rows(dir: &std::path::Path, options: ShardOptions) -> influx_tsm_shard::Result<Rows> {
    let layout = scan(&dir.join("data"), None)?;
    let shard = Shard::open_with(&layout.shards[0], &options)?;
    let mut out = Vec::new();
    let mut rows = shard.rows(0, TimeRange::ALL);
    let mut batch = RowBatch::new(&shard.measurements()[0]);
    while rows.next_batch(&mut batch, 1000, usize::MAX)? {
        for (i, &t) in batch.time.iter().enumerate() {
            match batch.fields[0].values.get(i) {
                Some(Value::Float(v)) => out.push((t, v)),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    Ok((out, rows.take_skipped()))
}

#[test]
fn a_damaged_block_costs_only_its_values() {
    let dir = tempfile::tempdir().unwrap();
    let shard_dir = dir.path().join("data/db/rp/1");
    std::fs::create_dir_all(&shard_dir).unwrap();
    let key = b"m,t=a#!~#f";

    // Older file: times 4..=6 with value 1.0.
    let mut old = TsmWriter::new();
    old.write_block(key, &[4, 5, 6], &Values::Float(vec![1.0; 3]));
    std::fs::write(shard_dir.join("000000001-000000001.tsm"), old.finish()).unwrap();

    // Newer file: three blocks with values 2.0; the middle one (times 4..=6) is damaged.
    let mut new = TsmWriter::new();
    new.write_block(key, &[1, 2, 3], &Values::Float(vec![2.0; 3]));
    new.write_block(key, &[4, 5, 6], &Values::Float(vec![2.0; 3]));
    new.write_block(key, &[7, 8, 9], &Values::Float(vec![2.0; 3]));
    let mut bytes = new.finish();
    let file = influx_tsm_shard::file::TsmFile::parse(&bytes).unwrap();
    let entry = file.index().next().unwrap().unwrap();
    let damaged = entry.blocks().nth(1).unwrap();
    let last = (damaged.offset + u64::from(damaged.size) - 1) as usize;
    bytes[last] ^= 0xFF;
    let path = shard_dir.join("000000002-000000001.tsm");
    std::fs::write(&path, &bytes).unwrap();

    let strict = ShardOptions::default().verify_crc(true);
    let err = rows(dir.path(), strict).unwrap_err();
    assert!(
        matches!(
            err.kind(),
            influx_tsm_shard::ErrorKind::ChecksumMismatch { .. }
        ),
        "{err}"
    );
    assert_eq!(err.path(), Some(path.as_path()));
    assert_eq!(err.offset(), Some(damaged.offset));

    let (got, skipped) = rows(dir.path(), strict.skip_corrupt(true)).unwrap();
    let expected: Vec<(i64, f64)> = (1..=9)
        .map(|t| (t, if (4..=6).contains(&t) { 1.0 } else { 2.0 }))
        .collect();
    assert_eq!(
        got, expected,
        "the older file's values show through the damaged block"
    );
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].path(), Some(path.as_path()));
    assert_eq!(skipped[0].offset(), Some(damaged.offset));
    assert_eq!(skipped[0].key(), Some(&b"m,t=a"[..]));
}

//! Minimised inputs the fuzzers (fuzz/) found, replayed on every `cargo test`:
//! `fuzz/corpus/<target>/regressions/*`. Every input goes through every byte entry point
//! (no panic, no hang), and `shard` inputs through the merged view with its invariants.
//! A test per fixed bug names the file and says what was wrong.

use std::path::{Path, PathBuf};

use influx_tsm_shard::cache::Cache;
use influx_tsm_shard::file::TsmFile;
use influx_tsm_shard::layout::{ShardLocation, TsmFileLocation};
use influx_tsm_shard::rows::RowBatch;
use influx_tsm_shard::shard::{Shard, ShardOptions, TimeRange};
use influx_tsm_shard::{FieldType, Limits, Result, Strings, Values};

fn regressions() -> Vec<(String, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    let mut out = Vec::new();
    for target in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        let dir = target.path().join("regressions");
        for file in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            out.push((
                target.file_name().to_string_lossy().into_owned(),
                file.path(),
            ));
        }
    }
    out.sort();
    out
}

fn limits() -> Limits {
    Limits::default()
        .max_block_values(4096)
        .max_decompressed_bytes(1 << 20)
}

/// Every byte entry point over `data`; results are ignored, panics are not.
fn every_entry_point(data: &[u8]) {
    let l = limits();
    let _ = influx_tsm_shard::encoding::decode_timestamps(data, 4096, &mut Vec::new());
    let _ = influx_tsm_shard::encoding::decode_floats(data, 4096, &mut Vec::new());
    let _ = influx_tsm_shard::encoding::decode_integers(data, 4096, &mut Vec::new());
    let _ = influx_tsm_shard::encoding::decode_unsigned(data, 4096, &mut Vec::new());
    let _ = influx_tsm_shard::encoding::decode_booleans(data, 4096, &mut Vec::new());
    let _ = influx_tsm_shard::encoding::decode_strings(data, 4096, 1 << 20, &mut Strings::new());
    let (mut ts, mut values) = (Vec::new(), Values::new(FieldType::Float));
    let _ = influx_tsm_shard::block::decode_block(data, 0, &l, &mut ts, &mut values);
    let _ = influx_tsm_shard::verify::verify_tsm(
        data,
        &influx_tsm_shard::verify::VerifyOptions::default(),
        &mut |_| {},
    );
    if let Ok(file) = TsmFile::parse(data) {
        for entry in file.index().take(10_000).flatten() {
            for block in entry.blocks() {
                if let Ok(bytes) = file.block(&block, false) {
                    let _ =
                        influx_tsm_shard::block::decode_block(bytes, 0, &l, &mut ts, &mut values);
                }
            }
        }
    }
    let _ = influx_tsm_shard::tombstone::decode_tombstones(data, &l);
    let _ = Cache::replay([data], &l);
    let _ = influx_tsm_shard::key::SeriesKey::parse(data).tags_unescaped();
}

/// Splits a `shard` input (u16 BE TSM length, u8 tombstone length, TSM, tombstone, WAL)
/// into files in a temporary shard folder.
fn shard_files(input: &[u8], dir: &Path) -> Option<ShardLocation> {
    let (&[a0, a1, b], rest) = input.split_first_chunk::<3>()?;
    let (tsm, rest) = rest.split_at((u16::from_be_bytes([a0, a1]) as usize).min(rest.len()));
    let (tomb, wal) = rest.split_at((b as usize).min(rest.len()));
    for (name, bytes) in [("1-1.tsm", tsm), ("1-1.tombstone", tomb), ("_1.wal", wal)] {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    Some(ShardLocation {
        database: "db".into(),
        retention_policy: "rp".into(),
        id: 1,
        data_dir: dir.into(),
        wal_dir: None,
        tsm_files: vec![TsmFileLocation {
            path: dir.join("1-1.tsm"),
            generation: 1,
            sequence: 1,
            tombstone: (!tomb.is_empty()).then(|| dir.join("1-1.tombstone")),
        }],
        wal_segments: vec![dir.join("_1.wal")],
    })
}

/// Opens and streams the shard; checks the row invariants; returns the first error.
fn stream_shard(location: &ShardLocation, skip_corrupt: bool) -> Result<usize> {
    let options = ShardOptions::default()
        .skip_corrupt(skip_corrupt)
        .verify_crc(skip_corrupt)
        .limits(limits());
    let shard = Shard::open_with(location, &options)?;
    let mut rows = 0;
    for (m, schema) in shard.measurements().iter().enumerate() {
        let mut stream = shard.rows(m, TimeRange::ALL);
        let mut batch = RowBatch::new(schema);
        while stream.next_batch(&mut batch, 100, 1 << 20)? {
            let mut at = 0;
            for run in &batch.series {
                let times = &batch.time[at..at + run.rows];
                assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
                assert!((at..at + run.rows).all(|r| batch.fields.iter().any(|f| f.valid[r])));
                at += run.rows;
            }
            assert_eq!(at, batch.time.len());
            rows += batch.len();
        }
    }
    Ok(rows)
}

#[test]
fn every_regression_input_is_handled() {
    let all = regressions();
    assert!(!all.is_empty(), "no fuzz/corpus/*/regressions/* found");
    for (target, path) in all {
        let data = std::fs::read(&path).unwrap();
        every_entry_point(&data);
        if target == "shard" {
            let dir = tempfile::tempdir().unwrap();
            if let Some(location) = shard_files(&data, dir.path()) {
                for skip in [false, true] {
                    let _ = stream_shard(&location, skip);
                }
            }
        }
    }
}

/// shard/unsorted-rows: a block whose timestamps lie outside its index entry's range
/// (its CRC is wrong, and unchecked without --verify-crc) was merged by its index range,
/// so a series' rows came out of time order. Now the block is an error naming its offset.
#[test]
fn block_outside_its_index_range_is_an_error() {
    let data = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fuzz/corpus/shard/regressions/unsorted-rows"),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let location = shard_files(&data, dir.path()).unwrap();
    let err = stream_shard(&location, false).unwrap_err();
    assert!(err.to_string().contains("outside its index range"), "{err}");
    assert!(err.to_string().contains("581"), "{err}");
}

/// A tombstone file's size is a claim too: above `max_decompressed_bytes` it is refused
/// before decoding (it is mapped, never read whole), and skipped with `skip_corrupt`.
#[test]
fn oversized_tombstone_file_is_refused_before_decoding() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = influx_tsm_shard::testkit::tsm::TsmWriter::new();
    writer.write_block(b"m#!~#f", &[1, 2], &Values::Integer(vec![1, 2]));
    std::fs::write(dir.path().join("1-1.tsm"), writer.finish()).unwrap();
    let keys: Vec<Vec<u8>> = (0..200)
        .map(|i| format!("m#!~#k{i}").into_bytes())
        .collect();
    let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    std::fs::write(
        dir.path().join("1-1.tombstone"),
        influx_tsm_shard::testkit::tombstone::write_v1(&refs),
    )
    .unwrap();
    let location = ShardLocation {
        database: "db".into(),
        retention_policy: "rp".into(),
        id: 1,
        data_dir: dir.path().into(),
        wal_dir: None,
        tsm_files: vec![TsmFileLocation {
            path: dir.path().join("1-1.tsm"),
            generation: 1,
            sequence: 1,
            tombstone: Some(dir.path().join("1-1.tombstone")),
        }],
        wal_segments: Vec::new(),
    };
    let small = ShardOptions::default().limits(Limits::default().max_decompressed_bytes(1024));
    let err = Shard::open_with(&location, &small).err().expect("refused");
    assert!(
        matches!(
            err.kind(),
            influx_tsm_shard::ErrorKind::LimitExceeded { .. }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("1-1.tombstone"), "{err}");
    let shard = Shard::open_with(&location, &small.skip_corrupt(true)).unwrap();
    assert_eq!(shard.problems().len(), 1);
    // With the default limits the same file opens and hides nothing of key m#!~#f.
    let shard = Shard::open_with(&location, &ShardOptions::default()).unwrap();
    assert_eq!(shard.key_count(), 1);
}

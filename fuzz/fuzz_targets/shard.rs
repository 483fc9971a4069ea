#![no_main]
//! The merged view of a shard built from fuzzed files: a TSM file, its tombstone and a
//! WAL segment (input: u16 BE TSM length, u8 tombstone length, then the three files),
//! opened with skip_corrupt off and on.
//! Rows iterate without panics, sorted per series, columns as long as the time column.
use libfuzzer_sys::fuzz_target;
use tsm::Limits;
use tsm::layout::{ShardLocation, TsmFileLocation};
use tsm::rows::RowBatch;
use tsm::shard::{Shard, ShardOptions, TimeRange};

fuzz_target!(|input: &[u8]| {
    let Some((&[a0, a1, b], rest)) = input.split_first_chunk::<3>() else {
        return;
    };
    let (tsm, rest) = rest.split_at((u16::from_be_bytes([a0, a1]) as usize).min(rest.len()));
    let (tomb, wal) = rest.split_at((b as usize).min(rest.len()));
    let dir = tempfile::tempdir().unwrap();
    let path = |n: &str| dir.path().join(n);
    for (n, d) in [("1-1.tsm", tsm), ("1-1.tombstone", tomb), ("_1.wal", wal)] {
        std::fs::write(path(n), d).unwrap();
    }
    let tsm_files = vec![TsmFileLocation {
        path: path("1-1.tsm"),
        generation: 1,
        sequence: 1,
        tombstone: (!tomb.is_empty()).then(|| path("1-1.tombstone")),
    }];
    let location = ShardLocation {
        database: "db".into(),
        retention_policy: "rp".into(),
        id: 1,
        data_dir: dir.path().into(),
        wal_dir: None,
        tsm_files,
        wal_segments: vec![path("_1.wal")],
    };
    for skip in [false, true] {
        let limits = Limits::default()
            .max_block_values(4096)
            .max_decompressed_bytes(1 << 20);
        let options = ShardOptions::default()
            .skip_corrupt(skip)
            .verify_crc(skip)
            .limits(limits);
        let Ok(shard) = Shard::open_with(&location, &options) else {
            continue;
        };
        for (m, schema) in shard.measurements().iter().enumerate() {
            let (mut rows, mut batch) = (shard.rows(m, TimeRange::ALL), RowBatch::new(schema));
            while let Ok(true) = rows.next_batch(&mut batch, 100, 1 << 20) {
                assert_eq!(
                    batch.series.iter().map(|s| s.rows).sum::<usize>(),
                    batch.time.len()
                );
                assert!(batch.fields.iter().all(
                    |f| f.valid.len() == batch.time.len() && f.values.len() == batch.time.len()
                ));
                let mut at = 0;
                for run in &batch.series {
                    assert!(
                        batch.time[at..at + run.rows]
                            .windows(2)
                            .all(|w| w[0] < w[1])
                    );
                    assert!((at..at + run.rows).all(|r| batch.fields.iter().any(|f| f.valid[r])));
                    at += run.rows;
                }
            }
        }
    }
});

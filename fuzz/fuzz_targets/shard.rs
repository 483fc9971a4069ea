#![no_main]
//! The merged view of a shard built from fuzzed files: a TSM file, its tombstone and a
//! WAL segment (input: u16 BE TSM length, u8 tombstone length, then the three files),
//! opened with skip_corrupt off and on.
//! Rows iterate without panics, sorted per series, columns as long as the time column.
//! The shard opened with its keys scanned in ranges of a few dozen index bytes equals the
//! shard opened in one pass: the same error, or the same schemas, problems and rows.
use libfuzzer_sys::fuzz_target;
use influx_tsm_shard::Limits;
use influx_tsm_shard::layout::{ShardLocation, TsmFileLocation};
use influx_tsm_shard::rows::RowBatch;
use influx_tsm_shard::shard::{Shard, ShardOpening, ShardOptions, TimeRange};
use influx_tsm_shard::source::ShardFiles;

/// The shard opened with its keys scanned in ranges of about `range_bytes` index bytes.
fn open_in_ranges(
    location: &ShardLocation,
    options: &ShardOptions,
    range_bytes: u64,
) -> influx_tsm_shard::Result<Shard> {
    let opening = ShardOpening::new(ShardFiles::map(location)?, options)?
        .located(location)
        .range_bytes(range_bytes);
    let scans = (0..opening.key_ranges()).map(|r| opening.scan(r)).collect();
    opening.finish(scans)
}

/// Every row of measurement `m` as text, and the error that ended the stream.
fn rows_of(shard: &Shard, m: usize) -> (Vec<String>, Option<String>) {
    let schema = &shard.measurements()[m];
    let (mut rows, mut batch) = (shard.rows(m, TimeRange::ALL), RowBatch::new(schema));
    let mut out = Vec::new();
    loop {
        match rows.next_batch(&mut batch, 100, 1 << 20) {
            Ok(true) => {}
            Ok(false) => return (out, None),
            Err(err) => return (out, Some(err.to_string())),
        }
        for r in 0..batch.time.len() {
            let values: Vec<String> = batch
                .fields
                .iter()
                .map(|f| format!("{:?}", f.valid[r].then(|| f.values.get(r))))
                .collect();
            out.push(format!("{} {values:?}", batch.time[r]));
        }
    }
}

/// Whether two opens of the same files agree.
fn assert_same(one: &influx_tsm_shard::Result<Shard>, ranged: &influx_tsm_shard::Result<Shard>) {
    match (one, ranged) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.measurements(), b.measurements());
            assert_eq!(a.key_count(), b.key_count());
            let problems = |s: &Shard| -> Vec<String> {
                s.problems().iter().map(|p| p.error.to_string()).collect()
            };
            assert_eq!(problems(a), problems(b));
            for m in 0..a.measurements().len() {
                assert_eq!(a.series_count(m), b.series_count(m));
                assert_eq!(rows_of(a, m), rows_of(b, m));
            }
        }
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        _ => panic!("one pass and key ranges disagree on opening"),
    }
}

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
        let one = Shard::open_with(&location, &options);
        assert_same(&one, &open_in_ranges(&location, &options, 48));
        let Ok(shard) = one else {
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

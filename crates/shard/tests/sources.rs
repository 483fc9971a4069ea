//! A shard opened from bytes the caller holds reads exactly like the same shard mapped
//! from its files, and errors about those bytes name the caller's names.
// A program (or test report) whose output is the point.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};

use influx_tsm_shard::layout::{ShardLocation, scan};
use influx_tsm_shard::rows::RowBatch;
use influx_tsm_shard::shard::{ProblemKind, Shard, ShardOptions, TimeRange};
use influx_tsm_shard::source::{FileSource, ShardFiles, TsmSource};

fn fixture_dirs() -> Vec<PathBuf> {
    influx_tsm_shard::testkit::oracle::influxdb_dirs()
}

/// Every file of `location` read into a `Vec<u8>`, named by its path so that errors read
/// the same as the mapped shard's.
fn read_into_memory(location: &ShardLocation) -> ShardFiles {
    let read = |p: &Path| FileSource::new(p, std::fs::read(p).expect("read"));
    let mut files = ShardFiles::new(&location.data_dir);
    // Reversed: the shard must order the files itself.
    for tsm in location.tsm_files.iter().rev() {
        let mut source = TsmSource::new(read(&tsm.path), tsm.generation, tsm.sequence);
        if let Some(t) = &tsm.tombstone {
            source = source.with_tombstone(read(t));
        }
        files = files.tsm(source);
    }
    for segment in &location.wal_segments {
        files = files.wal(read(segment));
    }
    files
}

/// Every batch of every measurement, and every problem and skipped block as text.
fn everything(shard: &Shard) -> (Vec<RowBatch>, Vec<String>) {
    let mut batches = Vec::new();
    let mut problems: Vec<String> = shard
        .problems()
        .iter()
        .map(|p| format!("{:?}: {}", p.kind, p.error))
        .collect();
    for (i, schema) in shard.measurements().iter().enumerate() {
        let mut rows = shard.rows(i, TimeRange::ALL);
        let mut batch = RowBatch::new(schema);
        // Small batches: series split across batches must split the same way too.
        while rows.next_batch(&mut batch, 1000, 1 << 20).expect("rows") {
            batches.push(batch.clone());
        }
        problems.extend(rows.take_skipped().iter().map(|e| format!("skipped: {e}")));
    }
    (batches, problems)
}

#[test]
fn every_fixture_shard_reads_the_same_from_memory_as_mapped() {
    let options = ShardOptions::default().verify_crc(true).skip_corrupt(true);
    let (mut shards, mut rows, mut problems) = (0, 0, 0);
    for dir in fixture_dirs() {
        let layout = scan(&dir.join("data"), Some(&dir.join("wal"))).expect("scan");
        for location in &layout.shards {
            let mapped = Shard::open_with(location, &options).expect("mapped");
            let memory = Shard::open_from(read_into_memory(location), &options).expect("memory");
            let (a, b) = (everything(&mapped), everything(&memory));
            assert_eq!(a.1, b.1, "problems of {}", location.data_dir.display());
            assert!(a.0 == b.0, "rows of {}", location.data_dir.display());
            assert_eq!(mapped.file_bytes(), memory.file_bytes());
            assert_eq!(mapped.key_count(), memory.key_count());
            shards += 1;
            rows += a.0.iter().map(RowBatch::len).sum::<usize>();
            problems += a.1.len();
        }
    }
    eprintln!("{shards} shards, {rows} rows, {problems} problems: identical");
    assert!(shards > 0 && rows > 0);
}

#[test]
fn file_bytes_counts_tsm_tombstone_and_wal_bytes_without_the_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/small-a/influxdb");
    let layout = scan(&dir.join("data"), Some(&dir.join("wal"))).expect("scan");
    let location = layout
        .shards
        .iter()
        .find(|l| !l.wal_segments.is_empty() && l.tsm_files.iter().any(|t| t.tombstone.is_some()))
        .expect("a shard with WAL segments and tombstones");
    let on_disk: u64 = location
        .tsm_files
        .iter()
        .flat_map(|t| std::iter::once(&t.path).chain(&t.tombstone))
        .chain(&location.wal_segments)
        .map(|p| std::fs::metadata(p).expect("stat").len())
        .sum();
    let mut files = read_into_memory(location);
    // Names that are no paths at all: nothing may be looked up on disk.
    for (i, t) in files.tsm_files.iter_mut().enumerate() {
        t.file = FileSource::new(format!("tsm {i}"), t.file.bytes().to_vec());
    }
    let shard = Shard::open_from(files, &ShardOptions::default()).expect("opens");
    assert_eq!(shard.file_bytes(), on_disk);
}

#[test]
fn a_damaged_file_in_memory_is_named_by_the_callers_name() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/small-a/influxdb/data/fleet_ops/autogen/17");
    let good = std::fs::read(dir.join("000000003-000000001.tsm")).expect("read");
    let mut bad = good.clone();
    bad[0] ^= 0xff;
    let files = ShardFiles::new("shard 17")
        .tsm(TsmSource::new(
            FileSource::new("from the backup", good),
            3,
            1,
        ))
        .tsm(TsmSource::new(FileSource::new("damaged copy", bad), 4, 1));
    let err = Shard::open_from(files.clone(), &ShardOptions::default())
        .err()
        .expect("the damaged file stops the open");
    assert_eq!(err.path(), Some(Path::new("damaged copy")));
    assert_eq!(err.offset(), Some(0));
    assert!(
        err.to_string()
            .starts_with("damaged copy at byte 0: not a TSM file"),
        "{err}"
    );

    // With skip_corrupt the damaged file is a problem, and the good one is read.
    let shard =
        Shard::open_from(files, &ShardOptions::default().skip_corrupt(true)).expect("opens");
    assert_eq!(shard.problems().len(), 1);
    assert_eq!(shard.problems()[0].kind, ProblemKind::Skipped);
    assert_eq!(
        shard.problems()[0].error.path(),
        Some(Path::new("damaged copy"))
    );
    assert!(shard.key_count() > 0);
    assert_eq!(shard.location().tsm_files.len(), 2);
    assert_eq!(shard.location().data_dir, Path::new("shard 17"));
}

#[test]
fn a_damaged_shard_has_the_same_problems_from_memory_as_mapped() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/small-a/influxdb");
    let layout = scan(&dir.join("data"), Some(&dir.join("wal"))).expect("scan");
    let original = layout
        .shards
        .iter()
        .find(|l| !l.wal_segments.is_empty() && !l.tsm_files.is_empty())
        .expect("a shard with TSM files and WAL segments");
    // A copy in which the first block of the newest TSM file has a flipped byte and the
    // last WAL segment lost its last bytes (a torn tail).
    let tmp = tempfile::tempdir().expect("tempdir");
    let copy = |p: &Path| {
        let to = tmp.path().join(p.file_name().expect("file name"));
        std::fs::copy(p, &to).expect("copy");
        to
    };
    let mut location = original.clone();
    for tsm in &mut location.tsm_files {
        tsm.path = copy(&tsm.path);
        tsm.tombstone = tsm.tombstone.as_deref().map(copy);
    }
    location.wal_segments = location.wal_segments.iter().map(|p| copy(p)).collect();
    let newest = &location.tsm_files.last().expect("a TSM file").path;
    let mut bytes = std::fs::read(newest).expect("read");
    let block = {
        let file = influx_tsm_shard::file::TsmFile::parse(&bytes).expect("parses");
        let entry = file.index().next().expect("a key").expect("an entry");
        entry.blocks().next().expect("a block")
    };
    bytes[block.offset as usize + 6] ^= 0x55;
    std::fs::write(newest, bytes).expect("write");
    let last_wal = location.wal_segments.last().expect("a segment");
    let wal = std::fs::read(last_wal).expect("read");
    std::fs::write(last_wal, &wal[..wal.len() - 3]).expect("write");

    let options = ShardOptions::default().verify_crc(true).skip_corrupt(true);
    let mapped = Shard::open_with(&location, &options).expect("mapped");
    let memory = Shard::open_from(read_into_memory(&location), &options).expect("memory");
    let (a, b) = (everything(&mapped), everything(&memory));
    assert!(
        a.1.iter().any(|p| p.starts_with("DroppedByInfluxd")),
        "{:?}",
        a.1
    );
    assert!(
        a.1.iter().any(|p| p.contains("checksum mismatch")),
        "{:?}",
        a.1
    );
    assert_eq!(a.1, b.1);
    assert!(a.0 == b.0, "rows differ");
}

//! The report on damaged copies of the fixture's files.

use std::path::{Path, PathBuf};

use influx_tsm_shard::verify::VerifyOptions;

use super::*;

const SHARD: &str = "../../fixtures/small-a/influxdb";

/// A folder holding a copy of one TSM file, its tombstone and one WAL segment.
fn copies() -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(SHARD);
    let copy = |from: &str, name: &str| {
        let to = dir.path().join(name);
        std::fs::copy(root.join(from), &to).unwrap();
        to
    };
    let tsm = copy("data/airq/autogen/1/000000001-000000001.tsm", "1-1.tsm");
    let tombstone = copy(
        "data/airq/autogen/1/000000001-000000001.tombstone",
        "1-1.tombstone",
    );
    let wal = copy("wal/airq/autogen/1/_00004.wal", "_00004.wal");
    (dir, tsm, tombstone, wal)
}

fn run(path: &Path) -> VerifyReport {
    let input = Input::find(path).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let done = std::sync::atomic::AtomicU64::new(0);
    let report = pool.install(|| {
        verify(&input, &VerifyOptions::default(), &|n| {
            done.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        })
    });
    // Every byte of every file is told to the progress callback once.
    assert_eq!(done.into_inner(), input.bytes());
    report
}

fn file<'a>(report: &'a VerifyReport, path: &Path) -> &'a FileReport {
    report.files.iter().find(|f| f.path == path).unwrap()
}

#[test]
fn clean_copies_have_no_problems() {
    let (dir, tsm, tombstone, wal) = copies();
    let report = run(dir.path());
    assert_eq!(report.files.len(), 3);
    assert_eq!((report.errors, report.warnings), (0, 0));
    assert_eq!(file(&report, &tsm).kind, FileKind::Tsm);
    assert!(file(&report, &tsm).blocks > 0);
    assert_eq!(file(&report, &tombstone).kind, FileKind::Tombstone);
    assert!(file(&report, &wal).items > 0);
}

#[test]
fn flipped_block_byte_is_an_error_at_the_block() {
    let (dir, tsm, _, _) = copies();
    let mut bytes = std::fs::read(&tsm).unwrap();
    // Inside the first block: it starts at byte 5 (after the header) with its CRC.
    bytes[20] ^= 0x40;
    std::fs::write(&tsm, &bytes).unwrap();
    let report = run(dir.path());
    assert_eq!(report.errors, 1, "{report:#?}");
    let damaged = file(&report, &tsm);
    assert!(damaged.is_damaged());
    let problem = &damaged.problems[0];
    assert_eq!(problem.severity, Severity::Error);
    assert_eq!(problem.offset, Some(5));
    assert!(problem.key.is_some(), "{problem:?}");
    assert!(
        problem.message.contains("checksum mismatch")
            && problem.message.contains(&tsm.display().to_string()),
        "{}",
        problem.message
    );
}

#[test]
fn torn_wal_tail_is_a_warning_and_garbage_after_it_an_error() {
    let (dir, _, _, wal) = copies();
    let bytes = std::fs::read(&wal).unwrap();
    std::fs::write(&wal, &bytes[..bytes.len() - 3]).unwrap();
    let report = run(&wal);
    assert_eq!(report.files.len(), 1);
    assert_eq!((report.errors, report.warnings), (0, 1), "{report:#?}");
    let torn = &report.files[0].problems[0];
    assert_eq!(torn.severity, Severity::Warning);
    assert!(torn.message.contains("torn last entry"), "{}", torn.message);

    // A whole segment after a bad entry type: whole entries are lost, not a torn tail.
    let mut bad = bytes.clone();
    bad[0] = 0xff;
    std::fs::write(&wal, &bad).unwrap();
    let report = run(dir.path());
    let damaged = file(&report, &wal);
    assert!(damaged.is_damaged(), "{damaged:?}");
    assert_eq!(damaged.problems[0].offset, Some(0));
    assert_eq!(report.errors, 1);
}

#[test]
fn what_a_path_is() {
    let (dir, tsm, _, _) = copies();
    let other = dir.path().join("notes.txt");
    std::fs::write(&other, "x").unwrap();
    assert!(matches!(
        Input::find(&other),
        Err(err @ Error::NotStorageFile { .. }) if err.is_usage()
    ));
    assert!(matches!(
        Input::find(&dir.path().join("gone")),
        Err(Error::Missing { .. })
    ));
    // The .txt file is passed over in a folder.
    assert!(matches!(Input::find(dir.path()), Ok(Input::Files(f)) if f.len() == 3));
    assert!(
        matches!(Input::find(&tsm), Ok(Input::Files(f)) if f == [(tsm.clone(), FileKind::Tsm)])
    );
    std::fs::create_dir(dir.path().join(crate::state::STATE_DIR)).unwrap();
    let err = Input::find(dir.path()).unwrap_err();
    assert!(matches!(err, Error::UnfinishedExport { .. }) && !err.is_usage());
    assert!(err.to_string().contains("did not finish"), "{err}");
}

#[test]
fn a_backup_is_its_archives_then_their_members() {
    let report = run(Path::new("../../fixtures/small-a/backup-portable"));
    let archives = report.count(FileKind::Archive);
    assert!(archives > 0);
    assert!(report.count(FileKind::Tsm) > 0);
    assert_eq!(report.files[0].kind, FileKind::Archive);
    assert_eq!((report.errors, report.warnings), (0, 0));
}

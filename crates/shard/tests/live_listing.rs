//! A shard folder changed the way a running influxd changes it (a snapshot writes the
//! cache as a new TSM file, then removes the WAL segments; a compaction writes its output,
//! then removes its inputs; writes start a new segment), at every step of
//! `ShardFiles::map_live_watched`: every interleaving gives the data of one moment (all
//! the points that were there before it started, each once, with its newest value), or a
//! listing made again, never a gap; a folder that keeps changing is an error, and a
//! folder the server removed says so.

use std::path::{Path, PathBuf};

use influx_tsm_shard::layout::{ShardLocation, scan};
use influx_tsm_shard::shard::{Shard, ShardOptions};
use influx_tsm_shard::source::{ListingStep, ShardFiles};
use influx_tsm_shard::testkit::oracle::{Points, Scalar, collect_merged_view};
use influx_tsm_shard::testkit::tsm::TsmWriter;
use influx_tsm_shard::testkit::wal::WalSegmentWriter;
use influx_tsm_shard::values::Values;
use influx_tsm_shard::wal::WalWrite;

/// One series' points: (key, times, values).
type Series = (&'static str, Vec<i64>, Vec<f64>);

fn tsm_bytes(series: &[Series]) -> Vec<u8> {
    let mut sorted: Vec<&Series> = series.iter().collect();
    sorted.sort_by_key(|s| s.0);
    let mut w = TsmWriter::new();
    for (key, times, values) in sorted {
        w.write_block(key.as_bytes(), times, &Values::Float(values.clone()));
    }
    w.finish()
}

fn wal_bytes(series: &[Series]) -> Vec<u8> {
    let writes: Vec<WalWrite> = series
        .iter()
        .map(|(key, times, values)| WalWrite {
            key: key.as_bytes().to_vec(),
            timestamps: times.clone(),
            values: Values::Float(values.clone()),
        })
        .collect();
    let mut w = WalSegmentWriter::new();
    w.write(&writes);
    w.finish()
}

const A: &str = "m,host=a#!~#v";
const B: &str = "m,host=b#!~#v";
const C: &str = "m,host=c#!~#v";
const D: &str = "m,host=d#!~#v";

fn gen1() -> Vec<Series> {
    vec![(A, vec![1, 2, 3], vec![1.0, 2.0, 3.0])]
}
fn gen2() -> Vec<Series> {
    vec![(B, vec![1, 2], vec![10.0, 20.0])]
}
/// The un-snapshotted cache: a new series and an overwrite of A at 1.
fn wal1() -> Vec<Series> {
    vec![(C, vec![5, 6], vec![50.0, 60.0]), (A, vec![1], vec![100.0])]
}
/// A write after the listing began: may or may not be read.
fn wal2() -> Vec<Series> {
    vec![(D, vec![7], vec![70.0])]
}

struct Dir {
    data: PathBuf,
    wal: PathBuf,
}

impl Dir {
    fn new(root: &Path) -> Dir {
        let dir = Dir {
            data: root.join("data/db/rp/1"),
            wal: root.join("wal/db/rp/1"),
        };
        std::fs::create_dir_all(&dir.data).unwrap();
        std::fs::create_dir_all(&dir.wal).unwrap();
        dir.put_tsm(1, 1, &gen1());
        dir.put_tsm(2, 1, &gen2());
        std::fs::write(dir.wal.join("_00001.wal"), wal_bytes(&wal1())).unwrap();
        dir
    }

    /// Writes a TSM file as influxd does: a `.tmp` renamed into place.
    fn put_tsm(&self, generation: u64, sequence: u64, series: &[Series]) {
        let name = format!("{generation:09}-{sequence:09}.tsm");
        let tmp = self.data.join(format!("{name}.tmp"));
        std::fs::write(&tmp, tsm_bytes(series)).unwrap();
        std::fs::rename(&tmp, self.data.join(name)).unwrap();
    }

    fn remove_tsm(&self, generation: u64, sequence: u64) {
        let name = format!("{generation:09}-{sequence:09}.tsm");
        std::fs::remove_file(self.data.join(name)).unwrap();
    }

    fn location(&self, root: &Path) -> ShardLocation {
        let layout = scan(&root.join("data"), Some(&root.join("wal"))).unwrap();
        layout.shards.into_iter().next().unwrap()
    }
}

/// What influxd may do while the shard is read.
#[derive(Clone, Copy, Debug)]
enum Change {
    /// The cache (segment 1) to a new generation, then the segment removed.
    Snapshot,
    /// Generations 1 and 2 compacted into 2-2, then removed.
    Compaction,
    /// A snapshot, then all three generations compacted into 3-2.
    SnapshotThenCompaction,
    /// A new segment with new points.
    NewSegment,
}

fn apply(dir: &Dir, change: Change) {
    let snapshot = |dir: &Dir| {
        dir.put_tsm(3, 1, &wal1());
        std::fs::remove_file(dir.wal.join("_00001.wal")).unwrap();
    };
    match change {
        Change::Snapshot => snapshot(dir),
        Change::Compaction => {
            dir.put_tsm(2, 2, &[gen1(), gen2()].concat());
            dir.remove_tsm(1, 1);
            dir.remove_tsm(2, 1);
        }
        Change::SnapshotThenCompaction => {
            snapshot(dir);
            let mut merged = [gen1(), gen2()].concat();
            // The snapshot's value of A at 1 is the newest.
            merged[0].2[0] = 100.0;
            merged.push(wal1()[0].clone());
            dir.put_tsm(3, 2, &merged);
            dir.remove_tsm(1, 1);
            dir.remove_tsm(2, 1);
            dir.remove_tsm(3, 1);
        }
        Change::NewSegment => {
            std::fs::write(dir.wal.join("_00002.wal"), wal_bytes(&wal2())).unwrap();
        }
    }
}

fn points_of(location: &ShardLocation, files: ShardFiles) -> Points {
    let shard = Shard::open_located(location, files, &ShardOptions::default()).unwrap();
    let mut points = Points::new();
    collect_merged_view(&shard, 1000, &mut points);
    points
}

/// Host and time of every point, with its value.
fn values(points: &Points) -> Vec<(String, i64, f64)> {
    points
        .iter()
        .map(|(key, fields)| {
            let Scalar::Float(bits) = fields["v"] else {
                panic!("a float field")
            };
            (key.3[0].1.clone(), key.4, f64::from_bits(bits))
        })
        .collect()
}

/// The points there before any change: A (1 overwritten by the cache), B, C.
fn before() -> Vec<(String, i64, f64)> {
    vec![
        ("a".into(), 1, 100.0),
        ("a".into(), 2, 2.0),
        ("a".into(), 3, 3.0),
        ("b".into(), 1, 10.0),
        ("b".into(), 2, 20.0),
        ("c".into(), 5, 50.0),
        ("c".into(), 6, 60.0),
    ]
}

#[test]
fn every_interleaving_gives_one_moment_or_a_new_listing() {
    let steps = [
        ListingStep::WalListed,
        ListingStep::Mapped(1),
        ListingStep::TsmListed,
        ListingStep::Mapped(2),
        ListingStep::Mapped(3),
        ListingStep::AllMapped,
    ];
    let changes = [
        Change::Snapshot,
        Change::Compaction,
        Change::SnapshotThenCompaction,
        Change::NewSegment,
    ];
    let mut relisted = 0;
    for change in changes {
        for step in steps {
            let tmp = tempfile::tempdir().unwrap();
            let dir = Dir::new(tmp.path());
            let location = dir.location(tmp.path());
            let mut done = false;
            let (files, listed, again) = ShardFiles::map_live_watched(&location, 4, &mut |s| {
                if s == step && !done {
                    done = true;
                    apply(&dir, change);
                }
            })
            .unwrap_or_else(|e| panic!("{change:?} after {step:?}: {e}"));
            assert!(done, "{change:?}: step {step:?} never came");
            relisted += again;
            let mut got = values(&points_of(&listed, files));
            // A write made while the shard was read may or may not be in it.
            got.retain(|(host, _, _)| host != "d");
            assert_eq!(got, before(), "{change:?} after {step:?}");
        }
    }
    // Removals between a listing and its maps were seen and listed again.
    assert!(relisted > 0);
}

#[test]
fn a_folder_that_keeps_changing_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Dir::new(tmp.path());
    let location = dir.location(tmp.path());
    // Each attempt, after the listing: the listed generation 1 compacted away.
    let mut sequence = 1;
    let err = ShardFiles::map_live_watched(&location, 3, &mut |s| {
        if s == ListingStep::TsmListed {
            let from = sequence;
            sequence += 1;
            dir.put_tsm(1, sequence, &gen1());
            dir.remove_tsm(1, from);
        }
    })
    .map(|_| ())
    .expect_err("the listing never holds");
    assert!(
        matches!(
            err.kind(),
            influx_tsm_shard::ErrorKind::Changing { attempts: 3 }
        ),
        "{err}"
    );
    assert_eq!(err.path(), Some(dir.data.as_path()));
    assert!(!err.is_corruption());
}

#[test]
fn a_compaction_output_not_listed_is_listed_again() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Dir::new(tmp.path());
    let location = dir.location(tmp.path());
    // Between the maps and the second listing an older generation's file appears (as when
    // a listing missed both a compaction's inputs and its output): listed again, once.
    let mut done = false;
    let (files, listed, again) = ShardFiles::map_live_watched(&location, 4, &mut |s| {
        if s == ListingStep::AllMapped && !done {
            done = true;
            dir.put_tsm(2, 2, &[gen1(), gen2()].concat());
            dir.remove_tsm(1, 1);
            dir.remove_tsm(2, 1);
        }
    })
    .unwrap();
    assert_eq!(again, 1);
    assert_eq!(values(&points_of(&listed, files)), before());
}

#[test]
fn a_shard_folder_removed_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Dir::new(tmp.path());
    let location = dir.location(tmp.path());
    let err = ShardFiles::map_live_watched(&location, 3, &mut |s| {
        if s == ListingStep::WalListed && dir.data.exists() {
            std::fs::remove_dir_all(&dir.data).unwrap();
        }
    })
    .map(|_| ())
    .expect_err("no folder to read");
    assert!(err.is_vanished(), "{err}");
    assert!(!location.data_dir.exists());
}

//! Every TSM file of every fixture decodes completely: header, footer, index, every
//! block with its CRC, and each block's timestamps agree with its index entry.
// A program (or test report) whose output is the point.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};

use influx_tsm_shard::block::decode_block;
use influx_tsm_shard::file::TsmFile;
use influx_tsm_shard::layout::scan;
use influx_tsm_shard::{Limits, Values};

fn fixture_dirs() -> Vec<PathBuf> {
    influx_tsm_shard::testkit::oracle::influxdb_dirs()
}

#[test]
fn every_block_of_every_tsm_file_decodes() {
    let limits = Limits::default();
    for dir in fixture_dirs() {
        let layout = scan(&dir.join("data"), Some(&dir.join("wal"))).expect("scan");
        let (mut files, mut blocks, mut values) = (0, 0, 0);
        let mut ts = Vec::new();
        let mut vals = Values::Float(Vec::new());
        for shard in &layout.shards {
            for loc in &shard.tsm_files {
                let bytes = std::fs::read(&loc.path).expect("read");
                let file = TsmFile::parse(&bytes).expect("header and footer");
                files += 1;
                for entry in file.index() {
                    let entry = entry.unwrap_or_else(|e| panic!("{}: {e}", loc.path.display()));
                    for block in entry.blocks() {
                        let data = file.block(&block, true).expect("crc");
                        decode_block(data, block.offset + 4, &limits, &mut ts, &mut vals)
                            .unwrap_or_else(|e| panic!("{}: {e}", loc.path.display()));
                        assert_eq!(vals.field_type(), entry.field_type);
                        assert_eq!(ts.first(), Some(&block.min_time));
                        assert_eq!(ts.last(), Some(&block.max_time));
                        assert!(ts.windows(2).all(|w| w[0] < w[1]), "sorted, unique");
                        blocks += 1;
                        values += ts.len();
                    }
                }
            }
        }
        assert!(
            files > 0 && blocks >= files && values >= blocks,
            "{}",
            dir.display()
        );
        eprintln!(
            "{}: {files} TSM files, {blocks} blocks, {values} values",
            dir.display()
        );
    }
}

#[test]
fn layout_of_small_a() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/small-a/influxdb");
    let layout = scan(&dir.join("data"), Some(&dir.join("wal"))).expect("scan");
    // Counts from the fixture's README (../shared/realdata/README.md).
    let count = |db: &str, rp: &str| {
        layout
            .shards
            .iter()
            .filter(|s| s.database == db && s.retention_policy == rp)
            .count()
    };
    assert_eq!(count("airq", "autogen"), 21);
    assert_eq!(count("airq", "hourly"), 3);
    assert_eq!(count("fleet_ops", "autogen"), 3);
    let tsm: usize = layout.shards.iter().map(|s| s.tsm_files.len()).sum();
    let tombstones: usize = layout
        .shards
        .iter()
        .flat_map(|s| &s.tsm_files)
        .filter(|f| f.tombstone.is_some())
        .count();
    let wal: usize = layout.shards.iter().map(|s| s.wal_segments.len()).sum();
    assert_eq!((tsm, tombstones, wal), (42 + 7 + 8, 26 + 7, 25));
    for shard in &layout.shards {
        let order: Vec<_> = shard
            .tsm_files
            .iter()
            .map(|f| (f.generation, f.sequence))
            .collect();
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "TSM files oldest first"
        );
    }
    // fields.idx is known and silently ignored; _series is never a retention policy.
    assert!(
        layout
            .skipped
            .iter()
            .all(|(p, _)| !p.ends_with("fields.idx"))
    );
    assert!(
        layout
            .shards
            .iter()
            .all(|s| s.retention_policy != "_series")
    );
}

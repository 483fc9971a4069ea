//! The merged view of every fixture equals what the real server returned for it
//! (`oracle_typed.jsonl`), value for value, type for type, floats bit for bit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use influx_tsm_shard::layout::scan;
use influx_tsm_shard::rows::RowBatch;
use influx_tsm_shard::shard::{Shard, ShardOpening, ShardOptions, TimeRange};
use influx_tsm_shard::source::ShardFiles;
use influx_tsm_shard::testkit::finish_on_threads;
use influx_tsm_shard::testkit::oracle::{Points, Scalar, assert_same, collect_merged_view};

fn fixtures() -> Vec<PathBuf> {
    influx_tsm_shard::testkit::oracle::fixture_dirs()
}

fn oracle(path: &Path) -> Points {
    influx_tsm_shard::testkit::oracle::load(path)
}

fn utf8(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).expect("fixture names are UTF-8")
}

/// Every row of every shard, through the merged view; and the number of values. With
/// `range_bytes`, each shard's keys are scanned at open in ranges of about that many
/// bytes of index, on threads of their own.
fn merged_view(path: &Path, max_rows: usize, range_bytes: Option<u64>) -> (Points, usize) {
    let dir = path.join("influxdb");
    let layout = scan(&dir.join("data"), Some(&dir.join("wal"))).expect("scan");
    assert!(!layout.shards.is_empty());
    let mut points = Points::new();
    let mut values = 0;
    for loc in &layout.shards {
        let options = ShardOptions::default().verify_crc(true);
        let shard = match range_bytes {
            None => Shard::open_with(loc, &options).expect("open"),
            Some(bytes) => {
                let files = ShardFiles::map(loc).expect("map");
                let opening = ShardOpening::new(files, &options)
                    .expect("open")
                    .located(loc)
                    .range_bytes(bytes);
                finish_on_threads(opening).expect("open")
            }
        };
        values += collect_merged_view(&shard, max_rows, &mut points);
    }
    (points, values)
}

#[test]
fn merged_view_equals_oracle() {
    for fixture in fixtures() {
        let expected = oracle(&fixture);
        let expected_values: usize = expected.values().map(BTreeMap::len).sum();
        // Large batches, and tiny ones that split series across batches; keys scanned
        // at open in one pass, and in ranges of a few hundred index bytes.
        for (max_rows, range_bytes) in [(100_000, None), (7, None), (1000, Some(300))] {
            let (got, values) = merged_view(&fixture, max_rows, range_bytes);
            let name = format!(
                "{} (batches of {max_rows} rows, key ranges of {range_bytes:?} bytes)",
                fixture.display()
            );
            assert_same(&name, &expected, &got);
            assert_eq!(values, expected_values, "{name}: value count");
        }
    }
}

#[test]
fn time_range_filter_is_start_inclusive_end_exclusive() {
    for fixture in fixtures() {
        let all = oracle(&fixture);
        let mut times: Vec<i64> = all.keys().map(|k| k.4).collect();
        times.sort();
        let (start, end) = (times[times.len() / 3], times[2 * times.len() / 3]);
        let dir = fixture.join("influxdb");
        let layout = scan(&dir.join("data"), Some(&dir.join("wal"))).expect("scan");
        let mut got = 0;
        for loc in &layout.shards {
            let shard = Shard::open_with(loc, &ShardOptions::default()).expect("open");
            for (m, schema) in shard.measurements().iter().enumerate() {
                let mut rows = shard.rows(m, TimeRange { start, end });
                let mut batch = RowBatch::new(schema);
                while rows.next_batch(&mut batch, 1000, usize::MAX).expect("rows") {
                    assert!(batch.time.iter().all(|&t| start <= t && t < end));
                    got += batch.len();
                }
            }
        }
        let expected = all.keys().filter(|k| start <= k.4 && k.4 < end).count();
        assert_eq!(got, expected, "{}", fixture.display());
    }
}

/// The same truth reached without the streaming merge: decode every block of every file
/// whole, drop what each file's own tombstones hide, let newer files overwrite older ones,
/// then overlay the replayed WAL. Every oracle value must be accounted for, and nothing
/// else may remain.
#[test]
fn whole_file_decoding_accounts_for_every_oracle_value() {
    use influx_tsm_shard::block::decode_block;
    use influx_tsm_shard::cache::Cache;
    use influx_tsm_shard::file::TsmFile;
    use influx_tsm_shard::key::{SeriesKey, split_composite};
    use influx_tsm_shard::tombstone::{TombstoneSet, decode_tombstones};
    use influx_tsm_shard::{Limits, Values};

    let limits = Limits::default();
    let mut all_hidden = 0usize;
    for fixture in fixtures() {
        let expected = oracle(&fixture);
        let dir = fixture.join("influxdb");
        let layout = scan(&dir.join("data"), Some(&dir.join("wal"))).expect("scan");
        let mut got = Points::new();
        let (mut from_tsm, mut hidden) = (0usize, 0usize);
        for loc in &layout.shards {
            // composite key -> time -> value, newest source last.
            let mut values: BTreeMap<Vec<u8>, BTreeMap<i64, Scalar>> = BTreeMap::new();
            for file in &loc.tsm_files {
                let bytes = std::fs::read(&file.path).expect("read");
                let tsm = TsmFile::parse(&bytes).expect("parse");
                let tombstones = match &file.tombstone {
                    Some(t) => TombstoneSet::new(
                        decode_tombstones(&std::fs::read(t).expect("read"), &limits).expect("t"),
                    ),
                    None => TombstoneSet::default(),
                };
                let (mut ts, mut vals) = (Vec::new(), Values::Float(Vec::new()));
                for entry in tsm.index() {
                    let entry = entry.expect("index");
                    for block in entry.blocks() {
                        let data = tsm.block(&block, true).expect("crc");
                        decode_block(data, block.offset + 4, &limits, &mut ts, &mut vals)
                            .expect("block");
                        for (i, &t) in ts.iter().enumerate() {
                            if tombstones.covers(entry.key, t) {
                                hidden += 1;
                                continue;
                            }
                            let v = Scalar::from(vals.get(i).expect("in range"));
                            values.entry(entry.key.to_vec()).or_default().insert(t, v);
                            from_tsm += 1;
                        }
                    }
                }
            }
            let segments: Vec<Vec<u8>> = loc
                .wal_segments
                .iter()
                .map(|p| std::fs::read(p).expect("wal"))
                .collect();
            let (cache, _) = Cache::replay(segments.iter().map(Vec::as_slice), &limits);
            for (key, entry) in cache.iter() {
                for (i, &t) in entry.timestamps.iter().enumerate() {
                    let v = Scalar::from(entry.values.get(i).expect("in range"));
                    values.entry(key.to_vec()).or_default().insert(t, v);
                }
            }
            for (key, points) in values {
                let (series, field) = split_composite(&key).expect("field separator");
                let series = SeriesKey::parse(series);
                let tags: Vec<(String, String)> = series
                    .tags_unescaped()
                    .into_iter()
                    .map(|(k, v)| (utf8(&k), utf8(&v)))
                    .collect();
                for (t, v) in points {
                    let point = (
                        loc.database.clone(),
                        loc.retention_policy.clone(),
                        utf8(&series.measurement_unescaped()),
                        tags.clone(),
                        t,
                    );
                    got.entry(point).or_default().insert(utf8(field), v);
                }
            }
        }
        assert!(
            from_tsm > 0,
            "{}: the fixture exercises TSM data",
            fixture.display()
        );
        all_hidden += hidden;
        assert_same(
            &format!("{} (whole-file decoding)", fixture.display()),
            &expected,
            &got,
        );
    }
    assert!(all_hidden > 0, "the fixtures exercise tombstones");
}

//! Every tombstone file and every WAL segment of the fixtures (written by a real influxd
//! 1.6.7) decodes without an error, the totals match the fixtures' READMEs, and the
//! replayed WAL agrees with what the server answered (`oracle_typed.jsonl`).
// A program (or test report) whose output is the point.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use influx_tsm_shard::cache::Cache;
use influx_tsm_shard::tombstone::{TombstoneSet, decode_tombstones};
use influx_tsm_shard::wal::{WalEntry, WalSegmentReader};
use influx_tsm_shard::{Limits, Value};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures");

/// What `fixtures/README.md` (and, for small-a, `shared/realdata/README.md`) states.
struct Expected {
    name: &'static str,
    /// `.tombstone` files in airq/autogen, airq/hourly, fleet_ops/autogen.
    tombstones: [usize; 3],
    segments: usize,
    writes: usize,
    delete_ranges: usize,
    /// Field values in WAL write entries: `influx_inspect export`'s WAL lines.
    wal_values: usize,
    /// Of those, deleted later in the WAL: export's "deleted keys still exported".
    wal_values_deleted: usize,
}

const EXPECTED: [Expected; 3] = [
    Expected {
        name: "small-a",
        tombstones: [26, 0, 7],
        segments: 25,
        writes: 25,
        delete_ranges: 44,
        wal_values: 2863,
        wal_values_deleted: 416,
    },
    Expected {
        name: "small-a-tsi",
        tombstones: [26, 0, 7],
        segments: 25,
        writes: 25,
        delete_ranges: 44,
        wal_values: 2863,
        wal_values_deleted: 416,
    },
    Expected {
        name: "small-b",
        tombstones: [15, 0, 7],
        segments: 26,
        writes: 26,
        delete_ranges: 38,
        wal_values: 2520,
        wal_values_deleted: 301,
    },
];

fn fixture(name: &str) -> PathBuf {
    Path::new(FIXTURES).join(name)
}

fn files_with_extension(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == ext) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// `<root>/<data|wal>/<db>/<rp>/<shard>/<file>` -> (db, rp, shard).
fn shard_of(path: &Path) -> (String, String, String) {
    let parts: Vec<String> = path
        .iter()
        .rev()
        .skip(1)
        .take(3)
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    (parts[2].clone(), parts[1].clone(), parts[0].clone())
}

/// (db, tmin, tmax) of every DELETE / DROP SERIES the fixture script ran.
fn planned_deletes(fixture: &Path) -> BTreeSet<(String, i64, i64)> {
    let text = std::fs::read_to_string(fixture.join("input/plan.json")).unwrap();
    let plan: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut out = BTreeSet::new();
    for list in ["deletes", "early_deletes"] {
        for d in plan[list].as_array().unwrap() {
            let db = d["db"].as_str().unwrap().to_owned();
            out.insert((db, d["tmin"].as_i64().unwrap(), d["tmax"].as_i64().unwrap()));
        }
    }
    out
}

#[test]
fn every_tombstone_file_decodes() {
    for expected in &EXPECTED {
        let fixture = fixture(expected.name);
        let files = files_with_extension(&fixture.join("influxdb/data"), "tombstone");
        let count = |db: &str, rp: &str| {
            files
                .iter()
                .filter(|p| shard_of(p).0 == db && shard_of(p).1 == rp)
                .count()
        };
        let counts = [
            count("airq", "autogen"),
            count("airq", "hourly"),
            count("fleet_ops", "autogen"),
        ];
        assert_eq!(counts, expected.tombstones, "{}", expected.name);
        let planned = planned_deletes(&fixture);
        let mut records = 0;
        for path in &files {
            let bytes = std::fs::read(path).unwrap();
            assert_eq!(&bytes[..4], &[0, 0, 0x15, 0x04], "influxd 1.6 writes v4");
            let tombstones = decode_tombstones(&bytes, &Limits::default())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(!tombstones.is_empty(), "{}", path.display());
            let db = shard_of(path).0;
            for t in &tombstones {
                assert!(t.key.windows(4).any(|w| w == b"#!~#"), "{:?}", t.key);
                let range = (db.clone(), t.min_time, t.max_time);
                assert!(
                    planned.contains(&range),
                    "{}: unplanned {range:?}",
                    path.display()
                );
            }
            let set = TombstoneSet::new(tombstones.clone());
            for t in &tombstones {
                assert!(set.covers_range(&t.key, t.min_time, t.max_time));
            }
            records += tombstones.len();
        }
        eprintln!(
            "{}: {} tombstone files, {records} records",
            expected.name,
            files.len()
        );
    }
}

#[test]
fn every_wal_segment_decodes() {
    for expected in &EXPECTED {
        let fixture = fixture(expected.name);
        let files = files_with_extension(&fixture.join("influxdb/wal"), "wal");
        assert_eq!(files.len(), expected.segments, "{}", expected.name);
        let planned = planned_deletes(&fixture);
        let (mut writes, mut deletes, mut delete_ranges, mut values) = (0, 0, 0, 0);
        for path in &files {
            let bytes = std::fs::read(path).unwrap();
            assert!(!bytes.is_empty(), "{}", path.display());
            let mut reader = WalSegmentReader::new(&bytes, Limits::default());
            for entry in reader.by_ref() {
                match entry.unwrap_or_else(|e| panic!("{}: {e}", path.display())) {
                    WalEntry::Write(w) => {
                        writes += 1;
                        values += w.iter().map(|w| w.timestamps.len()).sum::<usize>();
                    }
                    WalEntry::Delete { .. } => deletes += 1,
                    WalEntry::DeleteRange {
                        min_time,
                        max_time,
                        keys,
                    } => {
                        delete_ranges += 1;
                        assert!(!keys.is_empty());
                        let range = (shard_of(path).0, min_time, max_time);
                        assert!(planned.contains(&range), "unplanned range {range:?}");
                    }
                }
            }
            assert_eq!(reader.offset(), bytes.len() as u64, "{}", path.display());
        }
        let got = (writes, deletes, delete_ranges, values);
        let want = (
            expected.writes,
            0,
            expected.delete_ranges,
            expected.wal_values,
        );
        assert_eq!(got, want, "{}", expected.name);
        eprintln!("{}: {} WAL segments, {got:?}", expected.name, files.len());
    }
}

/// A field value that compares exactly (floats by bits).
#[derive(Clone, Debug, PartialEq)]
enum Scalar {
    Float(u64),
    Integer(i64),
    Unsigned(u64),
    Boolean(bool),
    String(Vec<u8>),
}

impl From<Value<'_>> for Scalar {
    fn from(v: Value<'_>) -> Scalar {
        match v {
            Value::Float(f) => Scalar::Float(f.to_bits()),
            Value::Integer(i) => Scalar::Integer(i),
            Value::Unsigned(u) => Scalar::Unsigned(u),
            Value::Boolean(b) => Scalar::Boolean(b),
            Value::String(s) => Scalar::String(s.to_vec()),
        }
    }
}

/// Floats compare by bits, allowing one unit in the last place in case the JSON parser
/// rounds differently from the one that wrote the oracle.
fn same(a: &Scalar, b: &Scalar) -> bool {
    match (a, b) {
        (Scalar::Float(x), Scalar::Float(y)) => x.abs_diff(*y) <= 1,
        _ => a == b,
    }
}

fn escape(s: &str, special: &[char]) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if special.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// (db, rp) -> composite key -> time -> value, from `oracle_typed.jsonl`.
type Oracle = BTreeMap<(String, String), BTreeMap<Vec<u8>, BTreeMap<i64, Scalar>>>;

fn oracle(fixture: &Path) -> Oracle {
    let text = std::fs::read_to_string(fixture.join("oracle_typed.jsonl")).unwrap();
    let mut out = Oracle::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let s = |v: &serde_json::Value| v.as_str().unwrap().to_owned();
        let mut series = escape(&s(&v["m"]), &[',', ' ']);
        for kv in v["tags"].as_array().unwrap() {
            series.push(',');
            series.push_str(&escape(&s(&kv[0]), &[',', ' ', '=']));
            series.push('=');
            series.push_str(&escape(&s(&kv[1]), &[',', ' ', '=']));
        }
        let time = v["time"].as_i64().unwrap();
        let by_key = out.entry((s(&v["db"]), s(&v["rp"]))).or_default();
        for f in v["fields"].as_array().unwrap() {
            let value = match f[1].as_str().unwrap() {
                "float" => Scalar::Float(f[2].as_f64().unwrap().to_bits()),
                "integer" => Scalar::Integer(f[2].as_i64().unwrap()),
                "unsigned" => Scalar::Unsigned(f[2].as_u64().unwrap()),
                "boolean" => Scalar::Boolean(f[2].as_bool().unwrap()),
                "string" => Scalar::String(f[2].as_str().unwrap().as_bytes().to_vec()),
                other => panic!("type {other}"),
            };
            let key = format!("{series}#!~#{}", s(&f[0])).into_bytes();
            by_key.entry(key).or_default().insert(time, value);
        }
    }
    out
}

const DAY: i64 = 86_400_000_000_000;

#[test]
fn replayed_wal_agrees_with_the_server() {
    for expected in &EXPECTED {
        replay_fixture(expected);
    }
}

fn replay_fixture(expected: &Expected) {
    let fixture = fixture(expected.name);
    let root = fixture.join("influxdb");
    let mut shards: BTreeMap<(String, String, String), Vec<PathBuf>> = BTreeMap::new();
    for path in files_with_extension(&root.join("wal"), "wal") {
        shards.entry(shard_of(&path)).or_default().push(path);
    }
    let oracle = oracle(&fixture);
    let (mut checked, mut wal_only) = (0, 0);
    for ((db, rp, id), segments) in &shards {
        let shard = format!("{}: {db}/{rp}/{id}", expected.name);
        let bytes: Vec<Vec<u8>> = segments.iter().map(|p| std::fs::read(p).unwrap()).collect();
        let has_writes = bytes.iter().any(|b| {
            WalSegmentReader::new(b, Limits::default()).any(|e| matches!(e, Ok(WalEntry::Write(_))))
        });
        let (cache, problems) = Cache::replay(bytes.iter().map(Vec::as_slice), &Limits::default());
        assert!(problems.is_empty(), "{shard}: {problems:?}");
        assert_eq!(!cache.is_empty(), has_writes, "{shard}");
        let keys: Vec<&[u8]> = cache.keys().collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));

        // The cache wins over TSM files, so every cached point is what the server answers.
        let want = &oracle[&(db.clone(), rp.clone())];
        for (key, entry) in cache.iter() {
            assert!(entry.timestamps.windows(2).all(|w| w[0] < w[1]));
            let name = String::from_utf8_lossy(key);
            let points = want
                .get(key)
                .unwrap_or_else(|| panic!("{shard}: {name} unknown"));
            for (i, t) in entry.timestamps.iter().enumerate() {
                let got = Scalar::from(entry.values.get(i).unwrap());
                let expected = points
                    .get(t)
                    .unwrap_or_else(|| panic!("{name} at {t} deleted"));
                assert!(
                    same(&got, expected),
                    "{name} at {t}: {got:?} != {expected:?}"
                );
                checked += 1;
            }
        }

        // A shard with no TSM file holds all its data in the WAL: the cache must be the
        // server's whole answer for the shard's day (airq/autogen has 1-day shards).
        let data_dir = root.join("data").join(db).join(rp).join(id);
        if files_with_extension(&data_dir, "tsm").is_empty() {
            assert_eq!((db.as_str(), rp.as_str()), ("airq", "autogen"));
            let (_, first) = cache.iter().next().expect("WAL-only shard has data");
            let day = first.timestamps[0].div_euclid(DAY);
            let mut in_day = 0;
            for (key, points) in want {
                for (t, value) in points.range(day * DAY..(day + 1) * DAY) {
                    let name = String::from_utf8_lossy(key);
                    let entry = cache
                        .get(key)
                        .unwrap_or_else(|| panic!("{shard}: {name} missing"));
                    let i = entry.timestamps.binary_search(t).expect("point in cache");
                    assert!(same(&Scalar::from(entry.values.get(i).unwrap()), value));
                    in_day += 1;
                }
            }
            assert_eq!(cache.value_count(), in_day, "{shard}");
            wal_only += 1;
        }
    }
    assert_eq!(wal_only, 3, "{}", expected.name);
    // influx_inspect export ignores WAL deletes, so it wrote the deleted values back out;
    // replay must drop exactly those.
    assert_eq!(
        checked,
        expected.wal_values - expected.wal_values_deleted,
        "{}",
        expected.name
    );
    eprintln!(
        "{}: {} shards replayed, {checked} cached values checked",
        expected.name,
        shards.len()
    );
}

//! The fixtures under `fixtures/` and what the real server returned for each
//! (`oracle_typed.jsonl`), in a form that compares exactly (feature `oracle`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A field value in a form that compares exactly (floats by bits).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scalar {
    /// A float's bits.
    Float(u64),
    /// A signed integer.
    Integer(i64),
    /// An unsigned integer.
    Unsigned(u64),
    /// A string's bytes.
    String(Vec<u8>),
    /// A boolean.
    Boolean(bool),
}

/// A point: (database, retention policy, measurement, tags, time).
pub type PointKey = (String, String, String, Vec<(String, String)>, i64);

/// Every point the server returned, with its fields.
pub type Points = BTreeMap<PointKey, BTreeMap<String, Scalar>>;

/// The fixture folders that hold an oracle, sorted; plus the folders listed in the
/// environment variable `TSM_EXTRA_FIXTURES` (a path list), so that fresh fixtures made
/// with `fixtures/make_fixture.sh --random-seed --out DIR` are checked without committing
/// them.
///
/// # Panics
/// When `fixtures/` holds none.
pub fn fixture_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("fixtures folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("oracle_typed.jsonl").is_file())
        .collect();
    out.sort();
    assert!(
        !out.is_empty(),
        "no fixtures with an oracle under {}",
        root.display()
    );
    if let Some(extra) = std::env::var_os("TSM_EXTRA_FIXTURES") {
        out.extend(std::env::split_paths(&extra));
    }
    out
}

/// Reads `dir/oracle_typed.jsonl`.
///
/// # Panics
/// When it is missing, not the oracle's JSON, or names a point twice.
pub fn load(dir: &Path) -> Points {
    let text = std::fs::read_to_string(dir.join("oracle_typed.jsonl")).expect("oracle");
    let mut points = Points::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).expect("oracle line is JSON");
        let s = |v: &serde_json::Value| v.as_str().expect("string").to_owned();
        let tags = v["tags"]
            .as_array()
            .expect("tags")
            .iter()
            .map(|kv| (s(&kv[0]), s(&kv[1])))
            .collect();
        let key = (
            s(&v["db"]),
            s(&v["rp"]),
            s(&v["m"]),
            tags,
            v["time"].as_i64().expect("time"),
        );
        let mut fields = BTreeMap::new();
        for f in v["fields"].as_array().expect("fields") {
            let value = match f[1].as_str().expect("type") {
                "float" => Scalar::Float(f[2].as_f64().expect("float").to_bits()),
                "integer" => Scalar::Integer(f[2].as_i64().expect("integer")),
                "unsigned" => Scalar::Unsigned(f[2].as_u64().expect("unsigned")),
                "string" => Scalar::String(f[2].as_str().expect("str").as_bytes().to_vec()),
                "boolean" => Scalar::Boolean(f[2].as_bool().expect("bool")),
                other => panic!("unknown oracle type {other}"),
            };
            fields.insert(s(&f[0]), value);
        }
        assert!(
            points.insert(key, fields).is_none(),
            "oracle repeats a point: {line}"
        );
    }
    points
}

/// The fixtures' InfluxDB directories (`<fixture>/influxdb`, holding `data/` and `wal/`),
/// of the folders [`fixture_dirs`] lists.
pub fn influxdb_dirs() -> Vec<PathBuf> {
    fixture_dirs()
        .into_iter()
        .map(|d| d.join("influxdb"))
        .filter(|d| d.join("data").is_dir())
        .collect()
}

/// Asserts that `got` holds exactly the oracle's points; the message names `name` and
/// the first differences.
///
/// # Panics
/// When they differ.
#[track_caller]
pub fn assert_same(name: &str, expected: &Points, got: &Points) {
    let mut problems = Vec::new();
    for (k, v) in expected {
        match got.get(k) {
            None => problems.push(format!("missing point {k:?}")),
            Some(g) if g != v => problems.push(format!("point {k:?}: oracle {v:?}, got {g:?}")),
            _ => {}
        }
    }
    for k in got.keys().filter(|k| !expected.contains_key(*k)) {
        problems.push(format!("extra point {k:?}: {:?}", got[k]));
    }
    assert!(
        problems.is_empty(),
        "{name}: {} differences, first ones:\n{}",
        problems.len(),
        problems[..problems.len().min(20)].join("\n")
    );
}

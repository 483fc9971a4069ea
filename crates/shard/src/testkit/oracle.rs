//! The fixtures under `fixtures/` and what the real server returned for each
//! (`oracle_typed.jsonl`), in a form that compares exactly (feature `oracle`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::rows::RowBatch;
use crate::shard::{Shard, TimeRange};
use crate::values::Value;

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

impl From<Value<'_>> for Scalar {
    fn from(value: Value<'_>) -> Scalar {
        match value {
            Value::Float(x) => Scalar::Float(x.to_bits()),
            Value::Integer(x) => Scalar::Integer(x),
            Value::Unsigned(x) => Scalar::Unsigned(x),
            Value::Boolean(x) => Scalar::Boolean(x),
            Value::String(x) => Scalar::String(x.to_vec()),
        }
    }
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

/// Adds every row of `shard` to `points`, read through its merged view
/// ([`Shard::rows`]) in batches of at most `max_rows` rows, under the database and
/// retention policy of [`Shard::location`]: the form [`load`] gives the oracle in, for
/// [`assert_same`]. Returns the number of values read.
///
/// # Panics
/// When reading fails, a name is not UTF-8, a row has no field, a row comes twice, or a
/// batch's series runs do not cover it.
pub fn collect_merged_view(shard: &Shard, max_rows: usize, points: &mut Points) -> usize {
    let utf8 = |b: &[u8]| String::from_utf8(b.to_vec()).expect("fixture names are UTF-8");
    let location = shard.location();
    let mut values = 0;
    for (m, schema) in shard.measurements().iter().enumerate() {
        let mut rows = shard.rows(m, TimeRange::ALL);
        let mut batch = RowBatch::new(schema);
        while rows
            .next_batch(&mut batch, max_rows, usize::MAX)
            .expect("rows")
        {
            values += batch.value_count();
            let mut row = 0;
            for run in &batch.series {
                let tags: Vec<(String, String)> = schema
                    .tag_keys
                    .iter()
                    .zip(run.tags())
                    .filter_map(|(k, v)| v.map(|v| (utf8(k), utf8(v))))
                    .collect();
                for r in row..row + run.rows {
                    let key = (
                        location.database.clone(),
                        location.retention_policy.clone(),
                        utf8(&schema.name),
                        tags.clone(),
                        batch.time[r],
                    );
                    let mut fields = BTreeMap::new();
                    for (f, column) in schema.fields.iter().zip(&batch.fields) {
                        if column.valid[r] {
                            let value = column.values.get(r).expect("in range");
                            fields.insert(utf8(&f.key), Scalar::from(value));
                        }
                    }
                    assert!(!fields.is_empty(), "row without fields at {key:?}");
                    assert!(
                        points.insert(key.clone(), fields).is_none(),
                        "row twice: {key:?}"
                    );
                }
                row += run.rows;
            }
            assert_eq!(row, batch.len(), "series runs cover the batch");
        }
    }
    values
}

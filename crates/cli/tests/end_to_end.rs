//! Exports of the small-a fixture, read back with the parquet crate and compared with
//! `oracle_typed.jsonl` (what InfluxDB itself returned for every point).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, Int64Type, TimestampNanosecondType, UInt64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use influx_tsm_export::naming::encode;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::common::{assert_code, copy_tree, describe, files, fixture, oracle_path, run, snapshot};

/// A field value, comparable exactly (floats by bits).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Value {
    Float(u64),
    Integer(i64),
    Unsigned(u64),
    String(String),
    Boolean(bool),
}

impl Value {
    fn type_name(&self) -> &'static str {
        match self {
            Value::Float(_) => "float",
            Value::Integer(_) => "integer",
            Value::Unsigned(_) => "unsigned",
            Value::String(_) => "string",
            Value::Boolean(_) => "boolean",
        }
    }
}

/// (database, retention policy, measurement, sorted tags, time).
pub(crate) type PointKey = (String, String, String, Vec<(String, String)>, i64);
/// Field key -> value.
pub(crate) type Fields = BTreeMap<String, Value>;
pub(crate) type Points = BTreeMap<PointKey, Fields>;

fn oracle() -> Points {
    oracle_at(&oracle_path())
}

/// The points of an `oracle_typed.jsonl` file.
pub(crate) fn oracle_at(path: &Path) -> Points {
    let text = std::fs::read_to_string(path).unwrap();
    let mut points = Points::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let s = |k: &str| v[k].as_str().unwrap().to_string();
        let mut tags: Vec<(String, String)> = v["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t[0].as_str().unwrap().to_string(),
                    t[1].as_str().unwrap().to_string(),
                )
            })
            .collect();
        tags.sort();
        let key = (s("db"), s("rp"), s("m"), tags, v["time"].as_i64().unwrap());
        let mut fields = Fields::new();
        for f in v["fields"].as_array().unwrap() {
            let name = f[0].as_str().unwrap().to_string();
            let value = match f[1].as_str().unwrap() {
                "float" => Value::Float(f[2].as_f64().unwrap().to_bits()),
                "integer" => Value::Integer(f[2].as_i64().unwrap()),
                "unsigned" => Value::Unsigned(f[2].as_u64().unwrap()),
                "string" => Value::String(f[2].as_str().unwrap().to_string()),
                "boolean" => Value::Boolean(f[2].as_bool().unwrap()),
                other => panic!("unknown type {other}"),
            };
            fields.insert(name, value);
        }
        assert!(
            points.insert(key, fields).is_none(),
            "duplicate point in the oracle"
        );
    }
    points
}

/// Key-value metadata, Arrow schema metadata and batches of one Parquet file.
pub(crate) struct ParquetFile {
    pub(crate) kv: BTreeMap<String, String>,
    pub(crate) batches: Vec<RecordBatch>,
}

pub(crate) fn read_parquet(path: &Path) -> ParquetFile {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let kv = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|kv| {
            kv.iter()
                .filter(|kv| kv.key != "ARROW:schema")
                .map(|kv| (kv.key.clone(), kv.value.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let batches = builder
        .build()
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    ParquetFile { kv, batches }
}

pub(crate) fn parquet_files(out: &Path) -> Vec<PathBuf> {
    files(out)
        .into_iter()
        .filter(|f| f.ends_with(".parquet") && !f.starts_with(".influx-tsm"))
        .map(|f| out.join(f))
        .collect()
}

fn value_at(column: &ArrayRef, row: usize) -> Option<Value> {
    if column.is_null(row) {
        return None;
    }
    Some(match column.data_type() {
        DataType::Float64 => {
            Value::Float(column.as_primitive::<Float64Type>().value(row).to_bits())
        }
        DataType::Int64 => Value::Integer(column.as_primitive::<Int64Type>().value(row)),
        DataType::UInt64 => Value::Unsigned(column.as_primitive::<UInt64Type>().value(row)),
        DataType::Utf8 => Value::String(column.as_string::<i32>().value(row).to_string()),
        DataType::Boolean => Value::Boolean(column.as_boolean().value(row)),
        other => panic!("unexpected field type {other}"),
    })
}

fn tag_at(column: &ArrayRef, row: usize) -> Option<String> {
    let dict = column.as_dictionary::<Int32Type>();
    let key = dict.keys().is_valid(row).then(|| dict.keys().value(row))?;
    Some(
        dict.values()
            .as_string::<i32>()
            .value(usize::try_from(key).unwrap())
            .to_string(),
    )
}

/// Every point of every Parquet file under `out`, checking file metadata and schemas on
/// the way.
pub(crate) fn exported(out: &Path) -> Points {
    exported_except(out, &|_| false)
}

/// The shards a file's metadata says it holds (`influxdb.shard`, or `influxdb.shards` for
/// a group of several), in time order.
pub(crate) fn file_shards(kv: &BTreeMap<String, String>) -> Vec<u64> {
    match kv.get("influxdb.shard") {
        Some(one) => vec![one.parse().unwrap()],
        None => kv["influxdb.shards"]
            .split(',')
            .map(|id| id.parse().unwrap())
            .collect(),
    }
}

/// Like [`exported`], leaving out the files whose shards are all ones for which `skip` is
/// true.
pub(crate) fn exported_except(out: &Path, skip: &dyn Fn(u64) -> bool) -> Points {
    let mut points = Points::new();
    for path in parquet_files(out) {
        let file = read_parquet(&path);
        let (db, rp, m) = (
            file.kv["influxdb.database"].clone(),
            file.kv["influxdb.retention_policy"].clone(),
            file.kv["influxdb.measurement"].clone(),
        );
        let shards = file_shards(&file.kv);
        if shards.iter().all(|&s| skip(s)) {
            continue;
        }
        // A file is named after its group: the shard, or the first and last shards.
        let name = match shards.as_slice() {
            [one] => one.to_string(),
            [first, .., last] => format!("{first}-{last}"),
            [] => panic!("{path:?} names no shard"),
        };
        assert_eq!(file.kv["influx-tsm.version"], env!("CARGO_PKG_VERSION"));
        let expected = out
            .join(encode(db.as_bytes()))
            .join(encode(rp.as_bytes()))
            .join(encode(m.as_bytes()))
            .join(format!("{name}.parquet"));
        assert_eq!(path, expected);
        assert!(!file.batches.is_empty(), "{path:?} has no rows");
        for batch in &file.batches {
            let schema = batch.schema();
            assert_eq!(schema.field(0).name(), "time");
            assert_eq!(
                schema.field(0).data_type(),
                &DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
            );
            assert_eq!(batch.column(0).null_count(), 0);
            let time = batch.column(0).as_primitive::<TimestampNanosecondType>();
            for row in 0..batch.num_rows() {
                let mut tags = Vec::new();
                let mut fields = Fields::new();
                for (i, field) in schema.fields().iter().enumerate().skip(1) {
                    let key = field.metadata()["influxdb.key"].clone();
                    match field.metadata()["influxdb.role"].as_str() {
                        "tag" => {
                            if let Some(v) = tag_at(batch.column(i), row) {
                                tags.push((key, v));
                            }
                        }
                        "field" => {
                            if let Some(v) = value_at(batch.column(i), row) {
                                fields.insert(key, v);
                            }
                        }
                        other => panic!("role {other}"),
                    }
                }
                tags.sort();
                let key = (db.clone(), rp.clone(), m.clone(), tags, time.value(row));
                assert!(
                    points.insert(key.clone(), fields).is_none(),
                    "point twice: {key:?}"
                );
            }
        }
    }
    points
}

/// Asserts equal point sets, listing the first differences.
#[track_caller]
pub(crate) fn assert_same_points(actual: &Points, expected: &Points) {
    let mut problems = Vec::new();
    for (key, fields) in expected {
        match actual.get(key) {
            None => problems.push(format!("missing {key:?}")),
            Some(got) if got != fields => problems.push(format!(
                "differs {key:?}\n  want {fields:?}\n  got  {got:?}"
            )),
            Some(_) => {}
        }
    }
    for key in actual.keys().filter(|k| !expected.contains_key(*k)) {
        problems.push(format!("extra {key:?}"));
    }
    assert!(
        problems.is_empty(),
        "{} problems (of {} expected points), first ones:\n{}",
        problems.len(),
        expected.len(),
        problems
            .iter()
            .take(15)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

fn export_fixture(out: &Path, extra: &[&str]) -> serde_json::Value {
    let input = fixture();
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> =
        vec![&"export", &input, &"--out", &out, &"--json"];
    args.extend(extra.iter().map(|a| a as &dyn AsRef<std::ffi::OsStr>));
    let output = run(&args);
    assert_code(&output, 0);
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", describe(&output)))
}

#[test]
fn export_matches_oracle() {
    let dir = tempfile::tempdir().unwrap();
    export_matches_oracle_with(&dir.path().join("out"), &[]);
}

/// Files of one shard each, and of groups small enough that a retention policy has
/// several: the same points, the oracle's.
#[test]
fn export_in_groups_of_any_size_matches_oracle() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("per-shard");
    export_matches_oracle_with(&out, &["--file-per-shard"]);
    assert!(
        parquet_files(&out)
            .iter()
            .all(|p| file_shards(&read_parquet(p).kv).len() == 1)
    );
    // Every shard streamed into its group's files as a big one is.
    let streamed = dir.path().join("streamed");
    export_matches_oracle_with(
        &streamed,
        &["--target-file-size", "24K", "--small-shard-bytes", "1K"],
    );
    let out = dir.path().join("small-groups");
    export_matches_oracle_with(&out, &["--target-file-size", "24K"]);
    let shards: Vec<Vec<u64>> = parquet_files(&out)
        .iter()
        .map(|p| file_shards(&read_parquet(p).kv))
        .collect();
    assert!(shards.iter().any(|s| s.len() > 1), "{shards:?}");
    let folders: std::collections::BTreeSet<PathBuf> = parquet_files(&out)
        .iter()
        .map(|p| p.parent().unwrap().to_path_buf())
        .collect();
    assert!(
        folders.len() < shards.len(),
        "several groups in some folder: {shards:?}"
    );
    // The manifest lists each file's shards, and `verify` checks them against the files.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    for file in manifest["files"].as_array().unwrap() {
        let kv = read_parquet(&out.join(file["path"].as_str().unwrap())).kv;
        assert_eq!(
            file["shards"],
            serde_json::json!(file_shards(&kv)),
            "{file}"
        );
        assert_eq!(file["shard"], file["shards"][0], "{file}");
    }
    assert_code(&run(&[&"verify", &out]), 0);
}

/// Exports the fixture into `out` with `extra` options and checks the points against the
/// oracle.
fn export_matches_oracle_with(out: &Path, extra: &[&str]) {
    let summary = export_fixture(out, extra);
    let expected = oracle();
    let actual = exported(out);
    assert_same_points(&actual, &expected);
    assert_eq!(summary["rows"], expected.len());
    let values: usize = expected.values().map(BTreeMap::len).sum();
    assert_eq!(summary["values"], values);
    assert_eq!(summary["files"], parquet_files(out).len());
    assert_eq!(summary["exit_code"], 0);
    assert!(
        summary["conflicts"].as_array().unwrap().is_empty(),
        "{summary}"
    );
    // Every type of the oracle shows up.
    let types: std::collections::BTreeSet<&str> = actual
        .values()
        .flat_map(|f| f.values().map(Value::type_name))
        .collect();
    assert_eq!(
        types.into_iter().collect::<Vec<_>>(),
        ["boolean", "float", "integer", "string"]
    );
    // Nothing temporary is left.
    assert!(
        files(out).iter().all(|f| !f.ends_with(".tmp")),
        "{:?}",
        files(out)
    );
}

#[test]
fn threads_1_and_4_give_identical_files() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one");
    let four = dir.path().join("four");
    export_fixture(&one, &["--threads", "1"]);
    export_fixture(&four, &["--threads", "4"]);
    let list = |root: &Path| -> Vec<PathBuf> {
        parquet_files(root)
            .into_iter()
            .map(|p| p.strip_prefix(root).unwrap().to_path_buf())
            .collect()
    };
    assert_eq!(list(&one), list(&four));
    for relative in list(&one) {
        let a = read_parquet(&one.join(&relative));
        let b = read_parquet(&four.join(&relative));
        assert_eq!(a.kv, b.kv, "{relative:?}");
        assert_eq!(a.batches, b.batches, "{relative:?}");
    }
}

#[test]
fn compression_codecs_give_the_same_contents() {
    let dir = tempfile::tempdir().unwrap();
    let expected = oracle();
    for codec in ["snappy", "lz4", "none", "zstd(9)"] {
        let out = dir.path().join(codec);
        export_fixture(&out, &["--compression", codec, "--row-group-size", "100"]);
        assert_same_points(&exported(&out), &expected);
    }
}

#[test]
fn dry_run_lists_the_files_an_export_writes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let input = fixture();
    let output = run(&[&"export", &input, &"--out", &out, &"--dry-run", &"--json"]);
    assert_code(&output, 0);
    assert!(!out.exists(), "--dry-run created --out");
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut planned: Vec<String> = plan["shards"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            s["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap().to_string())
        })
        .collect();
    // Each shard lists the files of its group.
    planned.sort();
    planned.dedup();

    let text = run(&[&"export", &input, &"--out", &out, &"--dry-run"]);
    assert_code(&text, 0);
    assert!(String::from_utf8_lossy(&text.stdout).contains("plan: "));
    assert!(!out.exists());

    export_fixture(&out, &[]);
    let mut written: Vec<String> = files(&out)
        .into_iter()
        .filter(|f| f.ends_with(".parquet"))
        .collect();
    written.sort();
    assert_eq!(planned, written);
}

#[test]
fn resume_after_interruption_gives_the_same_files() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole");
    export_fixture(&whole, &[]);

    // A run killed part-way: some shards have no manifest yet, one of them already renamed
    // a file and another left a temporary file behind.
    let cut = dir.path().join("cut");
    copy_tree(&whole, &cut);
    let manifests: Vec<String> = files(&cut)
        .into_iter()
        .filter(|f| f.starts_with(".influx-tsm/done/"))
        .collect();
    assert!(manifests.len() >= 3);
    for manifest in manifests.iter().step_by(2) {
        std::fs::remove_file(cut.join(manifest)).unwrap();
    }
    let parquet: Vec<String> = files(&cut)
        .into_iter()
        .filter(|f| f.ends_with(".parquet"))
        .collect();
    std::fs::remove_file(cut.join(&parquet[0])).unwrap();
    let stale = cut.join(&parquet[1]).with_file_name(".999.parquet.tmp");
    std::fs::write(&stale, "half a file").unwrap();

    let input = fixture();
    let output = run(&[&"export", &input, &"--out", &cut, &"--resume", &"--json"]);
    assert_code(&output, 0);
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(summary["shards_resumed"].as_u64().unwrap() > 0, "{summary}");
    assert!(
        summary["shards_exported"].as_u64().unwrap() > 0,
        "{summary}"
    );
    assert!(!stale.exists());

    let names = |root: &Path| -> Vec<String> {
        files(root)
            .into_iter()
            .filter(|f| !f.starts_with(".influx-tsm/"))
            .collect()
    };
    assert_eq!(names(&cut), names(&whole));
    assert_same_points(&exported(&cut), &exported(&whole));
    // The same shards are finished.
    assert_eq!(
        files(&cut)
            .into_iter()
            .filter(|f| f.starts_with(".influx-tsm/done/"))
            .count(),
        manifests.len()
    );
}

#[test]
fn time_range_is_start_inclusive_end_exclusive() {
    let dir = tempfile::tempdir().unwrap();
    let all = oracle();
    let mut times: Vec<i64> = all.keys().map(|k| k.4).collect();
    times.sort();
    // Bounds on existing points, to check inclusivity exactly.
    let (start, end) = (times[times.len() / 4], times[times.len() * 3 / 4]);
    let expected: Points = all
        .iter()
        .filter(|(k, _)| start <= k.4 && k.4 < end)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let out = dir.path().join("ns");
    export_fixture(
        &out,
        &["--start", &start.to_string(), "--end", &end.to_string()],
    );
    assert_same_points(&exported(&out), &expected);

    // RFC 3339 with an offset: 2024-03-16T14:24:00Z written in +07:00.
    let t1 = 1_710_599_040_000_000_000i64;
    let expected: Points = all
        .iter()
        .filter(|(k, _)| k.4 >= t1)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let out = dir.path().join("rfc3339");
    export_fixture(&out, &["--start", "2024-03-16T21:24:00+07:00"]);
    assert_same_points(&exported(&out), &expected);
}

#[test]
fn filters_select_databases_policies_measurements_and_shards() {
    let dir = tempfile::tempdir().unwrap();
    let all = oracle();
    let keep = |f: &dyn Fn(&PointKey) -> bool| -> Points {
        all.iter()
            .filter(|(k, _)| f(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };

    let out = dir.path().join("db");
    export_fixture(
        &out,
        &["--database", "airq", "--retention-policy", "hourly"],
    );
    assert_same_points(
        &exported(&out),
        &keep(&|k| k.0 == "airq" && k.1 == "hourly"),
    );

    let out = dir.path().join("glob");
    export_fixture(
        &out,
        &[
            "--measurement",
            "air*",
            "--measurement",
            "gate?ay",
            "--exclude-measurement",
            "air_1h",
        ],
    );
    assert_same_points(
        &exported(&out),
        &keep(&|k| k.2 == "air" || k.2 == "gateway"),
    );

    let out = dir.path().join("shard");
    let summary = export_fixture(&out, &["--shard", "17", "--shard", "24"]);
    assert_eq!(summary["shards"], 2);
    for path in parquet_files(&out) {
        let shards = file_shards(&read_parquet(&path).kv);
        assert!(shards.iter().all(|&s| s == 17 || s == 24), "{path:?}");
    }
}

#[test]
fn a_damaged_file_stops_the_export_or_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("influxdb");
    copy_tree(&fixture(), &input);
    let damaged = input.join("data/fleet_ops/autogen/17/000000001-000000001.tsm");
    let mut bytes = std::fs::read(&damaged).unwrap();
    bytes[..4].copy_from_slice(b"JUNK");
    std::fs::write(&damaged, &bytes).unwrap();
    let before = snapshot(&input);

    let out = dir.path().join("stop");
    let output = run(&[&"export", &input, &"--out", &out, &"--threads", &"1"]);
    assert_code(&output, 1);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("000000001-000000001.tsm"), "{stderr}");
    assert!(stderr.contains("at byte 0"), "{stderr}");
    assert!(files(&out).iter().all(|f| !f.ends_with(".tmp")));

    let out = dir.path().join("skip");
    let output = run(&[
        &"export",
        &input,
        &"--out",
        &out,
        &"--skip-corrupt",
        &"--json",
    ]);
    assert_code(&output, 2);
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let skipped = summary["skipped"].as_array().unwrap();
    assert!(!skipped.is_empty());
    assert!(
        skipped[0]["path"]
            .as_str()
            .unwrap()
            .ends_with("000000001-000000001.tsm"),
        "{summary}"
    );
    assert_eq!(skipped[0]["offset"], 0);
    assert!(String::from_utf8_lossy(&output.stderr).contains("skipped"));
    // Everything else is there: every point of other shards.
    let airq: Points = oracle()
        .into_iter()
        .filter(|(k, _)| k.0 == "airq")
        .collect();
    let got: Points = exported(&out)
        .into_iter()
        .filter(|(k, _)| k.0 == "airq")
        .collect();
    assert_same_points(&got, &airq);
    assert_eq!(snapshot(&input), before);
}

/// A copy of the fixture under `parent` with shard folder `data/<from>` copied to
/// `data/<to>` (not listed in meta.db); returns the copy's InfluxDB directory.
fn fixture_with_copied_shard(parent: &Path, from: &str, to: &str) -> PathBuf {
    let input = parent.join("influxdb");
    copy_tree(&fixture(), &input);
    copy_tree(&input.join("data").join(from), &input.join("data").join(to));
    input
}

#[test]
fn internal_monitoring_database_only_on_request() {
    let dir = tempfile::tempdir().unwrap();
    // A copy of a real shard posing as the server's self-monitoring database.
    let input =
        fixture_with_copied_shard(dir.path(), "fleet_ops/autogen/17", "_internal/monitor/99");

    let out = dir.path().join("default");
    let output = run(&[&"export", &input, &"--out", &out, &"--quiet", &"--json"]);
    assert_code(&output, 0);
    assert_same_points(&exported(&out), &oracle());
    assert!(!out.join("_internal").exists());

    let out = dir.path().join("internal");
    let output = run(&[
        &"export",
        &input,
        &"--out",
        &out,
        &"--quiet",
        &"--database",
        &"_internal",
        // The copied shard is not in meta/meta.db; a real _internal shard would be.
        &"--include-unlisted-shards",
    ]);
    assert_code(&output, 0);
    let points = exported(&out);
    assert!(!points.is_empty());
    assert!(
        points
            .keys()
            .all(|k| k.0 == "_internal" && k.1 == "monitor")
    );
}

#[test]
fn shards_the_catalogue_does_not_list_only_on_request() {
    let dir = tempfile::tempdir().unwrap();
    // A shard folder meta/meta.db knows nothing of: the server would never query it.
    let input = fixture_with_copied_shard(dir.path(), "airq/autogen/1", "airq/autogen/99");

    let out = dir.path().join("default");
    let output = run(&[&"export", &input, &"--out", &out, &"--json"]);
    assert_code(&output, 0);
    assert_same_points(&exported(&out), &oracle());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("left out shard airq/autogen/99"),
        "{}",
        describe(&output)
    );
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["unlisted_shards"][0]["shard"], 99);
    assert_eq!(summary["unlisted_shards"][0]["status"], "unlisted");

    let out = dir.path().join("included");
    let output = run(&[
        &"export",
        &input,
        &"--out",
        &out,
        &"--quiet",
        &"--include-unlisted-shards",
    ]);
    assert_code(&output, 0);
    let holds_99 = parquet_files(&out.join("airq/autogen/air"))
        .iter()
        .any(|path| file_shards(&read_parquet(path).kv).contains(&99));
    assert!(holds_99);

    // inspect says which folders the server would read.
    let output = run(&[&"inspect", &input, &"--json"]);
    assert_code(&output, 0);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let status = |db: &str, id: u64| {
        report["shards"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["database"] == db && s["id"] == id)
            .map(|s| s["catalogue"].clone())
    };
    assert_eq!(status("airq", 99), Some(serde_json::json!("unlisted")));
    assert_eq!(status("airq", 1), Some(serde_json::json!("live")));
}

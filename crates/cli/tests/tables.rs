//! One table per measurement, from the command line: the type-conflict policies on the
//! conflicts fixture (every value found, exact casts only, the inexact one counted), file
//! metadata in both the Parquet key-value metadata and the stored Arrow schema, and
//! `verify OUT` against the manifest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampNanosecondType};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;

use crate::common::{assert_code, fixture, run};
use crate::end_to_end::{parquet_files, read_parquet};

fn conflicts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/conflicts")
}

/// (time, sensor) -> (type, value as text) of field `value` in conf/autogen/reading, from
/// the typed oracle.
fn oracle_values() -> BTreeMap<(i64, String), (String, String)> {
    let text = std::fs::read_to_string(conflicts().join("oracle_typed.jsonl")).unwrap();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let p: serde_json::Value = serde_json::from_str(line).unwrap();
        if p["rp"] != "autogen" || p["m"] != "reading" {
            continue;
        }
        let sensor = p["tags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t[0] == "sensor")
            .map(|t| t[1].as_str().unwrap().to_string())
            .unwrap();
        for f in p["fields"].as_array().unwrap() {
            if f[0] == "value" {
                let text = match &f[2] {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                out.insert(
                    (p["time"].as_i64().unwrap(), sensor.clone()),
                    (f[1].as_str().unwrap().to_string(), text),
                );
            }
        }
    }
    out
}

fn export(policy: &str) -> (tempfile::TempDir, PathBuf, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let input = conflicts().join("influxdb");
    let output = run(&[
        &"export",
        &input,
        &"--out",
        &out,
        &"--json",
        &"--type-conflicts",
        &policy,
    ]);
    assert_code(&output, 0);
    let report = serde_json::from_slice(&output.stdout).unwrap();
    (dir, out, report)
}

/// Every (time, sensor, column, cell as text) of `reading`'s `value*` columns.
fn cells(out: &Path) -> Vec<(i64, String, String, String)> {
    let mut cells = Vec::new();
    for path in parquet_files(&out.join("conf/autogen/reading")) {
        for batch in read_parquet(&path).batches {
            cells.extend(batch_cells(&batch));
        }
    }
    cells.sort();
    cells
}

fn batch_cells(batch: &RecordBatch) -> Vec<(i64, String, String, String)> {
    let schema = batch.schema();
    let time = batch.column(0).as_primitive::<TimestampNanosecondType>();
    let sensor = batch.column_by_name("sensor").unwrap();
    let sensor = arrow_cast_dictionary(sensor);
    let mut cells = Vec::new();
    for (i, field) in schema.fields().iter().enumerate() {
        if !field.name().starts_with("value") {
            continue;
        }
        let column = batch.column(i);
        for (row, sensor) in sensor.iter().enumerate() {
            if column.is_null(row) {
                continue;
            }
            let text = match column.data_type() {
                DataType::Float64 => {
                    format!("{:?}", column.as_primitive::<Float64Type>().value(row))
                }
                DataType::Int64 => column.as_primitive::<Int64Type>().value(row).to_string(),
                DataType::Utf8 => column.as_string::<i32>().value(row).to_string(),
                DataType::Boolean => column.as_boolean().value(row).to_string(),
                other => panic!("unexpected {other}"),
            };
            cells.push((time.value(row), sensor.clone(), field.name().clone(), text));
        }
    }
    cells
}

fn arrow_cast_dictionary(array: &arrow_array::ArrayRef) -> Vec<String> {
    let dict = array.as_dictionary::<arrow_array::types::Int32Type>();
    let values = dict.values().as_string::<i32>();
    dict.keys()
        .iter()
        .map(|k| values.value(k.unwrap() as usize).to_string())
        .collect()
}

#[test]
fn split_keeps_every_value_in_its_types_column() {
    let (_dir, out, report) = export("split");
    assert_eq!(report["cast_values"], 0);
    assert_eq!(report["inexact_values"], 0);
    let got = cells(&out);
    let want = oracle_values();
    assert_eq!(got.len(), want.len());
    for (time, sensor, column, text) in &got {
        let (ty, value) = &want[&(*time, sensor.clone())];
        let documented = if ty == "float" {
            "value".to_string()
        } else {
            format!("value_{ty}")
        };
        assert_eq!(column, &documented, "{time} {sensor}");
        let value = if ty == "float" {
            format!("{:?}", value.parse::<f64>().unwrap())
        } else {
            value.clone()
        };
        assert_eq!(text, &value, "{time} {sensor}");
    }
}

#[test]
fn float_casts_integers_exactly_and_counts_the_rest() {
    let (_dir, out, report) = export("float");
    let want = oracle_values();
    let integers: Vec<i64> = want
        .values()
        .filter(|(ty, _)| ty == "integer")
        .map(|(_, v)| v.parse().unwrap())
        .collect();
    // 2^53 + 1 (one per sensor) has no float equal: left null, counted, never rounded.
    let inexact = integers
        .iter()
        .filter(|&&v| (v as f64) as i128 != i128::from(v))
        .count() as u64;
    assert_eq!(inexact, 2);
    assert_eq!(report["inexact_values"], inexact);
    assert_eq!(report["cast_values"], integers.len() as u64 - inexact);
    let got = cells(&out);
    assert_eq!(got.len() as u64, want.len() as u64 - inexact);
    for (time, sensor, column, text) in &got {
        let (ty, value) = &want[&(*time, sensor.clone())];
        match ty.as_str() {
            "float" | "integer" => {
                assert_eq!(column, "value");
                let exact: f64 = value.parse().unwrap();
                assert_eq!(text, &format!("{exact:?}"));
                if ty == "integer" {
                    assert_eq!(exact as i64, value.parse::<i64>().unwrap());
                }
            }
            other => assert_eq!(column, &format!("value_{other}")),
        }
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["type_conflicts"], "float");
    assert_eq!(manifest["totals"]["inexact_values"], inexact);
    let conflict = &manifest["conflicts"][0];
    assert_eq!(conflict["columns"]["integer"], "value");
    assert_eq!(conflict["columns"]["boolean"], "value_boolean");
}

#[test]
fn string_writes_every_type_as_exact_text() {
    let (_dir, out, report) = export("string");
    assert_eq!(report["inexact_values"], 0);
    let got = cells(&out);
    let want = oracle_values();
    assert_eq!(got.len(), want.len());
    for (time, sensor, column, text) in &got {
        assert_eq!(column, "value");
        let (ty, value) = &want[&(*time, sensor.clone())];
        match ty.as_str() {
            "float" => assert_eq!(text.parse::<f64>().unwrap(), value.parse::<f64>().unwrap()),
            _ => assert_eq!(text, value),
        }
    }
}

#[test]
fn file_metadata_is_in_the_arrow_schema_too() {
    let (_dir, out, _) = export("split");
    for path in parquet_files(&out) {
        let file = read_parquet(&path);
        // The stored Arrow schema, as a reader builds it (its batches carry no metadata).
        let schema = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(&path).unwrap(),
        )
        .unwrap()
        .schema()
        .clone();
        // A file of one shard names it, a file of a group its shards.
        let shard_key = if file.kv.contains_key("influxdb.shard") {
            "influxdb.shard"
        } else {
            "influxdb.shards"
        };
        for key in [
            "influxdb.database",
            "influxdb.retention_policy",
            "influxdb.measurement",
            shard_key,
            "influx-tsm.version",
        ] {
            assert_eq!(
                schema.metadata().get(key),
                file.kv.get(key),
                "{}: {key}",
                path.display()
            );
            assert!(file.kv.contains_key(key), "{}: {key}", path.display());
        }
        let name = path.file_stem().unwrap().to_str().unwrap();
        let shards = crate::end_to_end::file_shards(&file.kv);
        let want = match shards.as_slice() {
            [one] => one.to_string(),
            [first, .., last] => format!("{first}-{last}"),
            [] => panic!("no shards"),
        };
        assert_eq!(name, want);
    }
}

#[test]
fn verify_checks_an_export_against_its_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let input = fixture();
    assert_code(&run(&[&"export", &input, &"--out", &out, &"-q"]), 0);
    let verify = |extra: &[&str]| {
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"verify", &out];
        args.extend(extra.iter().map(|a| a as &dyn AsRef<std::ffi::OsStr>));
        run(&args)
    };
    assert_code(&verify(&[]), 0);

    let files = parquet_files(&out);
    // A stray file where a reader's glob would take it in.
    let stray = files[0].with_file_name("999.parquet");
    std::fs::copy(&files[0], &stray).unwrap();
    let output = verify(&["--json"]);
    assert_code(&output, 1);
    let check: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let problems = check["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{check}");
    assert!(
        problems[0]["problem"]
            .as_str()
            .unwrap()
            .contains("not in the manifest")
    );
    std::fs::remove_file(&stray).unwrap();

    // A missing file and a changed one.
    std::fs::remove_file(&files[1]).unwrap();
    let bytes = std::fs::read(&files[2]).unwrap();
    std::fs::write(&files[2], &bytes[..bytes.len() / 2]).unwrap();
    let output = verify(&["--json"]);
    assert_code(&output, 1);
    let check: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(check["problems"].as_array().unwrap().len(), 2, "{check}");
}

#[test]
fn partitions_write_the_tables_of_every_share() {
    // Each share holds only some of `value`'s types; every partition must still write the
    // table of all of them.
    let tmp = tempfile::tempdir().unwrap();
    let one = tmp.path().join("one");
    assert_code(
        &run(&[
            &"export",
            &conflicts().join("influxdb"),
            &"--out",
            &one,
            &"--quiet",
        ]),
        0,
    );
    let shared = tmp.path().join("shared");
    for share in ["1/2", "2/2"] {
        let output = run(&[
            &"export",
            &conflicts().join("influxdb"),
            &"--out",
            &shared,
            &"--quiet",
            &"--partition",
            &share,
        ]);
        assert_code(&output, 0);
    }
    let files = |root: &Path| {
        crate::common::digests(root)
            .into_iter()
            .filter(|(path, _)| !path.starts_with(".influx-tsm"))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(files(&one), files(&shared));
}

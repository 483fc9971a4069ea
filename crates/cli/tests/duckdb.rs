//! A real consumer reads the export: DuckDB (through the Python named by
//! `INFLUX_TSM_PYTHON`, which CI sets up) sees the same rows, non-null counts, times and
//! column types as the parquet crate. Without `INFLUX_TSM_PYTHON` the test fails.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::process::Command;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::TimestampNanosecondType;
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::common::{assert_code, files, fixture, run};

const SCRIPT: &str = r#"
import duckdb, json, sys
out = []
for path in sys.argv[1:]:
    con = duckdb.connect()
    rel = con.sql(f"SELECT * FROM read_parquet('{path}')")
    columns = [[name, str(ty)] for name, ty in zip(rel.columns, rel.types)]
    counts = ", ".join(f'count("{c}")' for c in rel.columns)
    row = con.sql(f"SELECT count(*), sum(epoch_ns(time))::VARCHAR, {counts} FROM read_parquet('{path}')").fetchall()[0]
    out.append({"path": path, "rows": row[0], "time_sum": row[1], "columns": columns, "non_null": list(row[2:])})
print(json.dumps(out))
"#;

/// What DuckDB should report for one file, from the parquet crate's reading.
fn expected(path: &Path) -> serde_json::Value {
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let schema = reader.schema().clone();
    let batches: Vec<_> = reader.build().unwrap().collect::<Result<_, _>>().unwrap();
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let time_sum: i128 = batches
        .iter()
        .flat_map(|b| {
            b.column(0)
                .as_primitive::<TimestampNanosecondType>()
                .values()
                .to_vec()
        })
        .map(i128::from)
        .sum();
    let columns: Vec<serde_json::Value> = schema
        .fields()
        .iter()
        .map(|f| {
            let ty = match f.data_type() {
                DataType::Timestamp(_, Some(_)) => "TIMESTAMPTZ_NS",
                DataType::Dictionary(_, _) | DataType::Utf8 => "VARCHAR",
                DataType::Float64 => "DOUBLE",
                DataType::Int64 => "BIGINT",
                DataType::UInt64 => "UBIGINT",
                DataType::Boolean => "BOOLEAN",
                other => panic!("unexpected type {other}"),
            };
            serde_json::json!([f.name(), ty])
        })
        .collect();
    let non_null: Vec<usize> = (0..schema.fields().len())
        .map(|i| {
            batches
                .iter()
                .map(|b| b.num_rows() - b.column(i).null_count())
                .sum()
        })
        .collect();
    serde_json::json!({
        "path": path.to_str().unwrap(),
        "rows": rows,
        "time_sum": time_sum.to_string(),
        "columns": columns,
        "non_null": non_null,
    })
}

#[test]
fn duckdb_reads_the_export() {
    let python = crate::common::python();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let input = fixture();
    assert_code(&run(&[&"export", &input, &"--out", &out, &"--quiet"]), 0);
    let parquet: Vec<String> = files(&out)
        .into_iter()
        .filter(|f| f.ends_with(".parquet"))
        .map(|f| out.join(f).to_str().unwrap().to_string())
        .collect();
    assert!(!parquet.is_empty());
    let output = Command::new(&python)
        .arg("-c")
        .arg(SCRIPT)
        .args(&parquet)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{python:?} with duckdb failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    let seen: BTreeMap<String, serde_json::Value> = seen
        .into_iter()
        .map(|v| (v["path"].as_str().unwrap().to_string(), v))
        .collect();
    for path in &parquet {
        assert_eq!(seen[path], expected(Path::new(path)), "{path}");
    }
}

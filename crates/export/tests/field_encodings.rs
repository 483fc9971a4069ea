//! Field columns whose data picks each encoding (counters `DELTA_BINARY_PACKED`, noisy
//! floats `BYTE_STREAM_SPLIT` or `PLAIN`, repeating values the dictionary), written as
//! the export writes a file (`writer_properties` from the first batch, `PendingFile`),
//! then read back value for value by arrow-rs and, through the Python named by
//! `INFLUX_TSM_PYTHON` (`tests/run.sh` sets it up), by DuckDB, pyarrow and Polars.
//! Without `INFLUX_TSM_PYTHON`, or with a reader missing, the test fails.
// A program (or test report) whose output is the point.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, Int64Type, TimestampNanosecondType, UInt64Type};
use arrow_array::{
    Array, ArrayRef, BooleanArray, DictionaryArray, Float64Array, Int64Array, RecordBatch,
    StringArray, TimestampNanosecondArray, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema};
use influx_tsm_export::Compression;
use influx_tsm_export::output::{FileSettings, PendingFile, writer_properties};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Encoding;
use parquet::file::reader::{FileReader, SerializedFileReader};
use serde_json::{Value, json};

const ROWS: usize = 150_000;
const BATCH: usize = 65_536;

/// A deterministic pseudo-random sequence (xorshift).
fn noise(n: usize) -> Vec<u64> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        })
        .collect()
}

fn field(name: &str, data_type: DataType, role: &str) -> Field {
    let metadata: std::collections::HashMap<String, String> = [
        ("influxdb.role".to_string(), role.to_string()),
        ("influxdb.key".to_string(), name.to_string()),
    ]
    .into();
    Field::new(name, data_type, role != "time").with_metadata(metadata)
}

/// Two hosts of `ROWS / 2` points each, 10 s apart, in the exporter's column order.
fn table() -> RecordBatch {
    let r = noise(ROWS);
    let half = ROWS / 2;
    let time = TimestampNanosecondArray::from_iter_values(
        (0..ROWS).map(|i| 1_714_521_600_000_000_000 + (i % half) as i64 * 10_000_000_000),
    )
    .with_timezone("UTC");
    let host: DictionaryArray<Int32Type> = (0..ROWS)
        .map(|i| if i < half { "web-01" } else { "db-01" })
        .collect();
    let mut total = 0_i64;
    let bytes: Int64Array = r
        .iter()
        .map(|x| {
            total += 40_000 + (x % 9_000) as i64;
            total
        })
        .collect();
    let mut packets = 1_u64 << 40;
    let packets: UInt64Array = r
        .iter()
        .map(|x| {
            packets += x % 300;
            packets
        })
        .collect();
    // A gauge read at full precision, every value distinct; some points lack it.
    let usage: Float64Array = r
        .iter()
        .enumerate()
        .map(|(i, x)| (i % 97 != 0).then(|| 40.0 + (x >> 11) as f64 / (1u64 << 53) as f64 * 20.0))
        .collect();
    let state: Int64Array = r
        .iter()
        .map(|x| [0, 1, 2, 7][(x >> 20) as usize % 4])
        .collect();
    let reading: Float64Array = r
        .iter()
        .map(|x| 18.0 + ((x >> 8) % 60) as f64 / 10.0)
        .collect();
    let id: StringArray = (0..ROWS)
        .map(|i| (i % 1000 != 0).then(|| format!("container-{}", i / 5000)))
        .collect();
    let ok: BooleanArray = r.iter().map(|x| Some(x % 50 != 0)).collect();
    let tag = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    let schema = Arc::new(Schema::new(vec![
        field("time", time.data_type().clone(), "time"),
        field("host", tag, "tag"),
        field("bytes", DataType::Int64, "field"),
        field("id", DataType::Utf8, "field"),
        field("ok", DataType::Boolean, "field"),
        field("packets", DataType::UInt64, "field"),
        field("reading", DataType::Float64, "field"),
        field("state", DataType::Int64, "field"),
        field("usage", DataType::Float64, "field"),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(time),
        Arc::new(host),
        Arc::new(bytes),
        Arc::new(id),
        Arc::new(ok),
        Arc::new(packets),
        Arc::new(reading),
        Arc::new(state),
        Arc::new(usage),
    ];
    RecordBatch::try_new(schema, columns).unwrap()
}

/// Writes `table` as the export does: properties from the first batch, then the batches.
fn write(table: &RecordBatch, path: &Path) {
    let first = table.slice(0, BATCH);
    let settings = FileSettings {
        compression: Compression::Zstd(1),
        row_group_size: 100_000,
        database: "db",
        retention_policy: "autogen",
        measurement: b"m",
        shards: &[1],
    };
    let properties = writer_properties(&settings, &first).unwrap();
    let mut file = PendingFile::create(path.to_path_buf(), table.schema(), properties).unwrap();
    let mut offset = 0;
    while offset < table.num_rows() {
        let rows = BATCH.min(table.num_rows() - offset);
        file.write(&table.slice(offset, rows)).unwrap();
        offset += rows;
    }
    file.commit().unwrap();
}

/// The encodings of each column's chunks, over every row group.
fn encodings(path: &Path) -> BTreeMap<String, Vec<Encoding>> {
    let reader = SerializedFileReader::new(File::open(path).unwrap()).unwrap();
    let mut out: BTreeMap<String, Vec<Encoding>> = BTreeMap::new();
    for group in reader.metadata().row_groups() {
        for column in group.columns() {
            let seen = out.entry(column.column_path().string()).or_default();
            for encoding in column.encodings() {
                if !seen.contains(&encoding) {
                    seen.push(encoding);
                }
            }
        }
    }
    out
}

/// Each column as JSON values: times in ns, floats as their IEEE bits (exact), nulls as
/// null. The same shape the Python readers print.
fn as_json(batches: &[RecordBatch]) -> BTreeMap<String, Vec<Value>> {
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for batch in batches {
        for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
            let values = out.entry(field.name().clone()).or_default();
            values.extend((0..column.len()).map(|i| value(column, i)));
        }
    }
    out
}

fn value(column: &ArrayRef, i: usize) -> Value {
    if column.is_null(i) {
        return Value::Null;
    }
    match column.data_type() {
        DataType::Timestamp(_, _) => {
            json!(column.as_primitive::<TimestampNanosecondType>().value(i))
        }
        DataType::Dictionary(_, _) => {
            let dict = column.as_dictionary::<Int32Type>();
            let key = dict.keys().value(i) as usize;
            json!(dict.values().as_string::<i32>().value(key))
        }
        DataType::Int64 => json!(column.as_primitive::<Int64Type>().value(i)),
        DataType::UInt64 => json!(column.as_primitive::<UInt64Type>().value(i)),
        DataType::Float64 => json!(column.as_primitive::<Float64Type>().value(i).to_bits()),
        DataType::Utf8 => json!(column.as_string::<i32>().value(i)),
        DataType::Boolean => json!(column.as_boolean().value(i)),
        other => panic!("unexpected type {other}"),
    }
}

const SCRIPT: &str = r#"
import json, struct, sys
import duckdb, polars, pyarrow, pyarrow.parquet as pq

def plain(name, values):
    def one(v):
        if v is None:
            return None
        if isinstance(v, float):
            return struct.unpack("<Q", struct.pack("<d", v))[0]
        return v
    return name, [one(v) for v in values]

path = sys.argv[1]
out = {"versions": {"duckdb": duckdb.__version__, "pyarrow": pyarrow.__version__, "polars": polars.__version__}}

con = duckdb.connect()
rel = con.sql(f"SELECT * REPLACE (epoch_ns(time) AS time) FROM read_parquet('{path}')")
rows = rel.fetchall()
out["duckdb"] = dict(plain(name, [row[i] for row in rows]) for i, name in enumerate(rel.columns))

table = pq.read_table(path)
out["pyarrow"] = dict(
    plain(name, (col.cast(pyarrow.int64()) if pyarrow.types.is_timestamp(col.type) else col).to_pylist())
    for name, col in zip(table.column_names, table.columns))

frame = polars.read_parquet(path)
out["polars"] = dict(
    plain(name, (frame[name].dt.epoch("ns") if name == "time" else frame[name]).to_list())
    for name in frame.columns)
print(json.dumps(out))
"#;

#[test]
fn every_encoding_reads_back_in_every_reader() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.parquet");
    let table = table();
    write(&table, &path);

    let encodings = encodings(&path);
    let has = |column: &str, encoding: Encoding| encodings[column].contains(&encoding);
    for counter in ["bytes", "packets"] {
        assert!(has(counter, Encoding::DELTA_BINARY_PACKED), "{encodings:?}");
        assert!(!has(counter, Encoding::RLE_DICTIONARY), "{encodings:?}");
    }
    for repeating in ["state", "reading", "id"] {
        assert!(has(repeating, Encoding::RLE_DICTIONARY), "{encodings:?}");
    }
    // Fixed data, so a fixed choice: the readers must meet BYTE_STREAM_SPLIT.
    assert!(!has("usage", Encoding::RLE_DICTIONARY), "{encodings:?}");
    assert!(has("usage", Encoding::BYTE_STREAM_SPLIT), "{encodings:?}");
    assert!(has("ok", Encoding::PLAIN), "{encodings:?}");
    assert!(!has("ok", Encoding::RLE_DICTIONARY), "{encodings:?}");
    assert!(has("time", Encoding::DELTA_BINARY_PACKED), "{encodings:?}");
    assert!(has("host", Encoding::RLE_DICTIONARY), "{encodings:?}");

    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
    assert_eq!(reader.schema().fields(), table.schema().fields());
    let batches: Vec<RecordBatch> = reader.build().unwrap().collect::<Result<_, _>>().unwrap();
    let expected = as_json(std::slice::from_ref(&table));
    assert_eq!(as_json(&batches), expected, "arrow-rs");

    let python = std::env::var_os("INFLUX_TSM_PYTHON").expect(
        "INFLUX_TSM_PYTHON is not set: this test reads Parquet with DuckDB (and pyarrow, \
         Polars); run the tests with `bash tests/run.sh`, which sets it up",
    );
    let output = Command::new(&python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{python:?} with duckdb, pyarrow and polars failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: BTreeMap<String, Value> = serde_json::from_slice(&output.stdout).unwrap();
    eprintln!("readers: {}", seen["versions"]);
    for reader in ["duckdb", "pyarrow", "polars"] {
        let columns: BTreeMap<String, Vec<Value>> =
            serde_json::from_value(seen[reader].clone()).unwrap();
        assert_eq!(
            columns.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "{reader}"
        );
        for (name, values) in &expected {
            let got = &columns[name];
            assert_eq!(got.len(), values.len(), "{reader} {name}");
            if let Some(i) = (0..values.len()).find(|&i| got[i] != values[i]) {
                panic!(
                    "{reader} {name} row {i}: {} instead of {}",
                    got[i], values[i]
                );
            }
        }
    }
}

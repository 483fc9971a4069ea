//! A scan read through the Arrow C stream by arrow-rs 59, the Arrow of DataFusion 55 and
//! pyo3-arrow 0.20: a program on that Arrow reads a measurement with no copy and no
//! Arrow of ours in its types.
// The one way between two arrow-rs versions is the C ABI: the consumer's `from_raw`.
#![allow(unsafe_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use arrow_array_59::cast::AsArray;
use arrow_array_59::ffi_stream::ArrowArrayStreamReader;
use arrow_array_59::{Array, RecordBatchReader};
use influx_tsm_arrow::ScanBuilder;
use influx_tsm_shard::testkit::oracle::{Points, Scalar, assert_same, fixture_dirs, load};

/// Reads `stream` with arrow-rs 59 and adds its rows to `points`, by the column metadata.
fn read_with_arrow_59(
    stream: influx_tsm_arrow::ffi::FFI_ArrowArrayStream,
    (db, rp): (&str, &str),
    points: &mut Points,
) -> usize {
    let mut stream = stream;
    // SAFETY: both types are the Arrow C stream interface's `struct ArrowArrayStream`
    // (`#[repr(C)]`, the layout the specification fixes); `from_raw` moves the stream out
    // and leaves `stream` released-empty, which its drop then ignores.
    let reader = unsafe {
        ArrowArrayStreamReader::from_raw(
            (&raw mut stream).cast::<arrow_array_59::ffi_stream::FFI_ArrowArrayStream>(),
        )
    }
    .expect("arrow 59 takes the stream");
    let schema = reader.schema();
    let measurement = schema.metadata()["influxdb.measurement"].clone();
    let mut rows = 0;
    for batch in reader {
        let batch = batch.expect("batch");
        rows += batch.num_rows();
        let time = batch
            .column(0)
            .as_primitive::<arrow_array_59::types::TimestampNanosecondType>();
        for row in 0..batch.num_rows() {
            let mut tags = Vec::new();
            let mut fields = BTreeMap::new();
            for (field, column) in schema.fields().iter().zip(batch.columns()).skip(1) {
                if column.is_null(row) {
                    continue;
                }
                let key = field.metadata()["influxdb.key"].clone();
                match field.metadata()["influxdb.role"].as_str() {
                    "tag" => {
                        let dict = column.as_dictionary::<arrow_array_59::types::Int32Type>();
                        let k = dict.keys().value(row) as usize;
                        let value = dict.values().as_string::<i32>().value(k).to_owned();
                        tags.push((key, value));
                    }
                    "field" => {
                        use arrow_array_59::types::{Float64Type, Int64Type, UInt64Type};
                        let value = if let Some(a) = column.as_primitive_opt::<Float64Type>() {
                            Scalar::Float(a.value(row).to_bits())
                        } else if let Some(a) = column.as_primitive_opt::<Int64Type>() {
                            Scalar::Integer(a.value(row))
                        } else if let Some(a) = column.as_primitive_opt::<UInt64Type>() {
                            Scalar::Unsigned(a.value(row))
                        } else if let Some(a) = column.as_string_opt::<i32>() {
                            Scalar::String(a.value(row).as_bytes().to_vec())
                        } else {
                            Scalar::Boolean(column.as_boolean().value(row))
                        };
                        fields.insert(key, value);
                    }
                    other => panic!("unexpected role {other}"),
                }
            }
            tags.sort();
            let key = (
                db.to_owned(),
                rp.to_owned(),
                measurement.clone(),
                tags,
                time.value(row),
            );
            assert!(
                points.insert(key.clone(), fields).is_none(),
                "row twice: {key:?}"
            );
        }
    }
    rows
}

/// Every measurement of every fixture, read through the C stream by arrow-rs 59, equals
/// the server's oracle: row count and every non-null cell.
#[test]
fn arrow_59_reads_every_measurement_through_the_c_stream() {
    for fixture in fixture_dirs() {
        let expected = load(&fixture);
        let dir: PathBuf = fixture.join("influxdb");
        let mut names: Vec<(String, String, String)> = expected
            .keys()
            .map(|(db, rp, m, _, _)| (db.clone(), rp.clone(), m.clone()))
            .collect();
        names.dedup();
        let mut got = Points::new();
        let mut rows = 0;
        for (db, rp, m) in &names {
            let scan = ScanBuilder::new(db.as_str(), m.as_bytes())
                .retention_policy(rp.as_str())
                .open_dir(&dir)
                .expect("scan");
            let stream = influx_tsm_arrow::ffi::into_stream(scan);
            rows += read_with_arrow_59(stream, (db, rp), &mut got);
        }
        let name = fixture.display().to_string();
        assert_eq!(rows, expected.len(), "{name}: rows");
        assert_same(&name, &expected, &got);
    }
}

/// A damaged block reaches the arrow 59 consumer as an error naming its file.
#[test]
fn an_error_crosses_the_stream_with_its_text() {
    let fixture = fixture_dirs().into_iter().next().expect("a fixture");
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&fixture.join("influxdb"), dir.path());
    // The first block of every TSM file (its CRC and first bytes, after the 5-byte
    // header) damaged: the index is intact, so every scan is built, and the measurement
    // of a first block fails its CRC check when read.
    for file in walk(&dir.path().join("data")) {
        if file.extension().is_some_and(|e| e == "tsm") {
            let mut bytes = std::fs::read(&file).expect("read");
            let end = bytes.len().min(16);
            for b in &mut bytes[5..end] {
                *b ^= 0x5a;
            }
            std::fs::write(&file, bytes).expect("write");
        }
    }
    let mut names: Vec<(String, String, String)> = load(&fixture)
        .keys()
        .map(|(db, rp, m, _, _)| (db.clone(), rp.clone(), m.clone()))
        .collect();
    names.dedup();
    let mut errors = Vec::new();
    for (db, rp, m) in &names {
        let scan = ScanBuilder::new(db.as_str(), m.as_bytes())
            .retention_policy(rp.as_str())
            .shard_options(influx_tsm_shard::shard::ShardOptions::default().verify_crc(true))
            .open_dir(dir.path())
            .expect("the index is intact");
        let mut stream = influx_tsm_arrow::ffi::into_stream(scan);
        // SAFETY: as in `read_with_arrow_59`.
        let reader = unsafe {
            ArrowArrayStreamReader::from_raw(
                (&raw mut stream).cast::<arrow_array_59::ffi_stream::FFI_ArrowArrayStream>(),
            )
        }
        .expect("stream");
        errors.extend(reader.filter_map(Result::err).map(|e| e.to_string()));
    }
    assert!(!errors.is_empty(), "damaged blocks give errors");
    for error in &errors {
        assert!(error.contains(".tsm"), "the error names the file: {error}");
    }
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

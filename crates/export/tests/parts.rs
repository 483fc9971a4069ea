//! Parts written separately and joined give the rows, schema, metadata and page index of
//! the file written in one piece.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, DictionaryArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use influx_tsm_export::output::PendingFile;
use influx_tsm_export::parts::{PartJoiner, join_parts, part_path};
use influx_tsm_export::{Error, InternalError};
use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

fn schema() -> SchemaRef {
    let tag = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    Arc::new(Schema::new(vec![
        Field::new("time", DataType::Int64, false),
        Field::new("host", tag, true),
        Field::new("value", DataType::Float64, true),
    ]))
}

/// Rows `first..first + rows`, host `h{row / 7}`, value `row * 0.5` (every 5th null).
fn batch(first: i64, rows: i64) -> RecordBatch {
    let range = first..first + rows;
    let hosts: Vec<String> = range.clone().map(|r| format!("h{}", r / 7)).collect();
    let mut distinct = hosts.clone();
    distinct.dedup();
    let keys: Vec<i32> = hosts
        .iter()
        .map(|h| distinct.iter().position(|d| d == h).unwrap() as i32)
        .collect();
    let host =
        DictionaryArray::<Int32Type>::try_new(keys.into(), Arc::new(StringArray::from(distinct)))
            .unwrap();
    let value: Float64Array = range
        .clone()
        .map(|r| (r % 5 != 0).then_some(r as f64 * 0.5))
        .collect();
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(range)) as ArrayRef,
            Arc::new(host),
            Arc::new(value),
        ],
    )
    .unwrap()
}

fn properties() -> WriterProperties {
    WriterProperties::builder()
        .set_max_row_group_row_count(Some(1000))
        .set_data_page_row_count_limit(100)
        .set_key_value_metadata(Some(vec![KeyValue::new("k".to_string(), "v".to_string())]))
        .build()
}

fn read(path: &Path) -> (Vec<RecordBatch>, parquet::file::metadata::ParquetMetaData) {
    let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(
        File::open(path).unwrap(),
        ArrowReaderOptions::new()
            .with_page_index_policy(parquet::file::metadata::PageIndexPolicy::Required),
    )
    .unwrap();
    let metadata = builder.metadata().as_ref().clone();
    let batches = builder.build().unwrap().map(Result::unwrap).collect();
    (batches, metadata)
}

#[test]
fn joined_parts_equal_one_file() {
    let dir = tempfile::tempdir().unwrap();
    // One piece: 4,500 rows in batches of 900.
    let whole = dir.path().join("whole.parquet");
    let mut file = PendingFile::create(whole.clone(), schema(), properties()).unwrap();
    for b in 0..5 {
        file.write(&batch(b * 900, 900)).unwrap();
    }
    file.commit().unwrap();

    // Three parts of 1,700, 1,000 and 1,800 rows, joined.
    let dest = dir.path().join("joined.parquet");
    let cuts = [(0, 1700), (1700, 1000), (2700, 1800)];
    let mut parts = Vec::new();
    for (i, (first, rows)) in cuts.into_iter().enumerate() {
        let part = part_path(&dest, i);
        let mut file = PendingFile::create(part.clone(), schema(), properties()).unwrap();
        file.write(&batch(first, rows)).unwrap();
        file.commit().unwrap();
        parts.push(part);
    }
    let bytes = join_parts(&dest, schema(), properties(), &parts).unwrap();
    assert_eq!(bytes, std::fs::metadata(&dest).unwrap().len());
    for part in &parts {
        assert!(!part.exists(), "part {} left behind", part.display());
    }
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "only the two files remain: {names:?}");

    let (ours, joined_meta) = read(&dest);
    let (theirs, whole_meta) = read(&whole);
    let concat = |b: &[RecordBatch]| arrow_select_concat(b);
    assert_eq!(concat(&ours), concat(&theirs));
    assert_eq!(
        joined_meta.file_metadata().key_value_metadata(),
        whole_meta.file_metadata().key_value_metadata(),
        "the Arrow schema and the key-value metadata"
    );
    // 1,700 rows make two row groups, then one, then two: each part ends one.
    let sizes: Vec<i64> = joined_meta
        .row_groups()
        .iter()
        .map(|rg| rg.num_rows())
        .collect();
    assert_eq!(sizes, [1000, 700, 1000, 1000, 800]);
    for (rg, rows) in sizes.iter().enumerate() {
        let page_index = joined_meta.page_index_for_row_group(rg);
        for col in 0..3 {
            assert!(
                page_index.column_index(col).is_some(),
                "row group {rg} column {col}"
            );
            let pages = page_index
                .offset_index(col)
                .expect("offset index")
                .page_locations();
            // The page offsets were moved with the chunk: each page lies inside it.
            let chunk = joined_meta.row_group(rg).column(col);
            let (start, len) = chunk.byte_range();
            assert!(!pages.is_empty());
            assert_eq!(pages[0].first_row_index, 0);
            for page in pages {
                let offset = page.offset as u64;
                assert!(
                    offset >= start && offset + page.compressed_page_size as u64 <= start + len,
                    "row group {rg} column {col}: page at {offset} outside {start}+{len}"
                );
                assert!(page.first_row_index < *rows);
            }
        }
    }
}

#[test]
fn a_damaged_part_fails_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("joined.parquet");
    let good = part_path(&dest, 0);
    let mut file = PendingFile::create(good.clone(), schema(), properties()).unwrap();
    file.write(&batch(0, 10)).unwrap();
    file.commit().unwrap();
    let bad = part_path(&dest, 1);
    std::fs::write(&bad, b"not parquet").unwrap();
    let err = join_parts(&dest, schema(), properties(), &[good.clone(), bad.clone()]).unwrap_err();
    assert!(err.to_string().contains("part1"), "{err}");
    assert!(!dest.exists() && !good.exists() && !bad.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// All batches as one, for comparison.
fn arrow_select_concat(batches: &[RecordBatch]) -> Vec<(i64, Option<String>, Option<u64>)> {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int64Type};
    let mut out = Vec::new();
    for b in batches {
        let time = b.column(0).as_primitive::<Int64Type>();
        let host = b.column(1).as_dictionary::<Int32Type>();
        let names = host.values().as_string::<i32>();
        let value = b.column(2).as_primitive::<Float64Type>();
        for i in 0..b.num_rows() {
            out.push((
                time.value(i),
                host.is_valid(i)
                    .then(|| names.value(host.keys().value(i) as usize).to_string()),
                value.is_valid(i).then(|| value.value(i).to_bits()),
            ));
        }
    }
    out
}

/// Writes parts of `cuts` (first row, rows) beside `dest`; returns their paths.
fn write_parts(dest: &Path, cuts: &[(i64, i64)]) -> Vec<std::path::PathBuf> {
    cuts.iter()
        .enumerate()
        .map(|(i, &(first, rows))| {
            let part = part_path(dest, i);
            let mut file = PendingFile::create(part.clone(), schema(), properties()).unwrap();
            file.write(&batch(first, rows)).unwrap();
            file.commit().unwrap();
            part
        })
        .collect()
}

#[test]
fn parts_reported_out_of_order_and_from_threads_join_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let cuts = [(0, 700), (700, 300), (1000, 1200), (2200, 50), (2250, 900)];
    let in_order = dir.path().join("in-order.parquet");
    let parts = write_parts(&in_order, &cuts);
    join_parts(&in_order, schema(), properties(), &parts).unwrap();

    let dest = dir.path().join("joined.parquet");
    let parts = write_parts(&dest, &cuts);
    let joiner = PartJoiner::new(&dest, schema(), properties());
    // Part 3 had no rows: none is reported for it, and its file is not used.
    let reports = [
        (4, Some(parts[4].clone())),
        (1, Some(parts[1].clone())),
        (3, None),
    ];
    std::thread::scope(|threads| {
        for (index, file) in reports {
            let joiner = &joiner;
            threads.spawn(move || joiner.part_done(index, file));
        }
    });
    joiner.part_done(0, Some(parts[0].clone()));
    joiner.part_done(2, Some(parts[2].clone()));
    let bytes = joiner.finish(cuts.len()).unwrap().expect("rows");
    assert_eq!(bytes, std::fs::metadata(&dest).unwrap().len());
    let without_part_3 = dir.path().join("without-3.parquet");
    let mut expected = write_parts(&without_part_3, &cuts);
    expected.remove(3);
    join_parts(&without_part_3, schema(), properties(), &expected).unwrap();
    assert_eq!(
        std::fs::read(&dest).unwrap(),
        std::fs::read(&without_part_3).unwrap()
    );
    assert!(parts.iter().enumerate().all(|(i, p)| i == 3 || !p.exists()));
}

/// Three parts written beside `dir/joined.parquet`, parts 0 and 2 reported to a joiner,
/// part 1 not.
fn joiner_without_part_1(dir: &Path) -> (std::path::PathBuf, Vec<std::path::PathBuf>, PartJoiner) {
    let dest = dir.join("joined.parquet");
    let parts = write_parts(&dest, &[(0, 100), (100, 100), (200, 100)]);
    let joiner = PartJoiner::new(&dest, schema(), properties());
    joiner.part_done(0, Some(parts[0].clone()));
    joiner.part_done(2, Some(parts[2].clone()));
    (dest, parts, joiner)
}

#[test]
fn a_part_never_reported_fails_the_join_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (dest, parts, joiner) = joiner_without_part_1(dir.path());
    let err = joiner.finish(3).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Internal(InternalError::PartMissing {
                part: 1,
                parts: 3,
                ..
            })
        ),
        "{err}"
    );
    assert!(!dest.exists() && !parts[0].exists() && !parts[2].exists());
    std::fs::remove_file(&parts[1]).unwrap();
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn an_aborted_join_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_, parts, joiner) = joiner_without_part_1(dir.path());
    joiner.abort();
    std::fs::remove_file(&parts[1]).unwrap();
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

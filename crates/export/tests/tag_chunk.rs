//! Tag columns written by `TagChunkWriter` against the same batches written by arrow-rs's
//! own `ArrowWriter`: the values read back, the chunk statistics and the size statistics
//! must be the same; the page index (our page boundaries differ from arrow-rs's) must
//! describe each page's actual rows.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{Array, ArrayRef, DictionaryArray, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use influx_tsm_export::output::PendingFile;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use parquet::basic::{BoundaryOrder, Compression, ZstdLevel};
use parquet::file::metadata::{ColumnChunkMetaData, ParquetMetaData};
use parquet::file::page_index::column_index::ColumnIndexMetaData;
use parquet::file::properties::WriterProperties;
use parquet::file::statistics::Statistics;
use proptest::prelude::*;

fn schema() -> SchemaRef {
    let tag = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    Arc::new(Schema::new(vec![
        Field::new("n", DataType::Int64, false),
        Field::new("tag", tag, true),
    ]))
}

/// One batch: `runs` of (value or null, rows), numbered rows in `n`. The batch
/// dictionary holds the distinct values in an order of its own (reversed), plus one
/// value no row uses, as influx-tsm-arrow's would not but a caller's might.
fn batch(runs: &[(Option<&str>, usize)], first: i64) -> RecordBatch {
    let mut distinct: Vec<&str> = Vec::new();
    for (value, _) in runs {
        if let Some(v) = value
            && !distinct.contains(v)
        {
            distinct.push(v);
        }
    }
    distinct.reverse();
    distinct.push("unused");
    let position: HashMap<&str, i32> = distinct
        .iter()
        .enumerate()
        .map(|(i, v)| (*v, i as i32))
        .collect();
    let mut keys = Vec::new();
    for (value, rows) in runs {
        for _ in 0..*rows {
            keys.push(value.map(|v| position[v]));
        }
    }
    let rows = keys.len() as i64;
    let keys = arrow_array::Int32Array::from(keys);
    let tag = DictionaryArray::<Int32Type>::try_new(keys, Arc::new(StringArray::from(distinct)))
        .expect("dictionary");
    let n = Int64Array::from_iter_values(first..first + rows);
    RecordBatch::try_new(schema(), vec![Arc::new(n) as ArrayRef, Arc::new(tag)]).expect("batch")
}

/// Writes `batches` with `properties` through influx-tsm (`ours`) and arrow-rs (`theirs`).
fn write_both(dir: &Path, batches: &[RecordBatch], properties: &WriterProperties) {
    let mut ours = PendingFile::create(dir.join("ours.parquet"), schema(), properties.clone())
        .expect("create");
    for b in batches {
        ours.write(b).expect("write ours");
    }
    ours.commit().expect("commit");
    let file = File::create(dir.join("theirs.parquet")).expect("create theirs");
    let mut theirs =
        ArrowWriter::try_new(file, schema(), Some(properties.clone())).expect("writer");
    for b in batches {
        theirs.write(b).expect("write theirs");
    }
    theirs.close().expect("close theirs");
}

/// The tag values of a file, row by row, and its metadata with the page index.
fn read(path: &Path) -> (Vec<Option<String>>, Arc<ParquetMetaData>) {
    let options = ArrowReaderOptions::new()
        .with_page_index_policy(parquet::file::metadata::PageIndexPolicy::Required);
    let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(
        File::open(path).expect("open"),
        options,
    )
    .expect("reader");
    let metadata = builder.metadata().clone();
    let mut values = Vec::new();
    for batch in builder.build().expect("build") {
        let batch = batch.expect("batch");
        let tag = arrow_cast_to_strings(batch.column(1));
        values.extend(tag);
    }
    (values, metadata)
}

/// Through `INFLUX_TSM_PYTHON` (a Python with duckdb; `tests/run.sh` sets it up): DuckDB reads the tag
/// column of `path` as `expected`, and its filter on the last value (which uses the
/// statistics and page index to skip data) counts the same rows.
fn duckdb_agrees(path: &Path, expected: &[Option<String>]) {
    let python = std::env::var_os("INFLUX_TSM_PYTHON").expect(
        "INFLUX_TSM_PYTHON is not set: this test reads Parquet with DuckDB (and pyarrow, \
         Polars); run the tests with `bash tests/run.sh`, which sets it up",
    );
    const SCRIPT: &str = r#"
import duckdb, json, sys
path, probe = sys.argv[1], sys.argv[2]
con = duckdb.connect()
values = [r[0] for r in con.execute("select tag from read_parquet(?) order by n", [path]).fetchall()]
count = con.execute("select count(*) from read_parquet(?) where tag = ?", [path, probe]).fetchall()[0][0]
print(json.dumps({"values": values, "count": count}))
"#;
    let probe = expected
        .iter()
        .rev()
        .flatten()
        .next()
        .cloned()
        .unwrap_or_default();
    let output = std::process::Command::new(&python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(path)
        .arg(&probe)
        .output()
        .expect("run python");
    assert!(
        output.status.success(),
        "duckdb could not read {}: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let values: Vec<Option<String>> =
        serde_json::from_value(seen["values"].clone()).expect("values");
    assert_eq!(values, expected, "DuckDB's reading of {}", path.display());
    let count = expected
        .iter()
        .filter(|v| v.as_deref() == Some(probe.as_str()))
        .count();
    assert_eq!(seen["count"], count, "DuckDB's count of {probe:?}");
}

fn arrow_cast_to_strings(array: &ArrayRef) -> Vec<Option<String>> {
    let dict = array
        .as_any()
        .downcast_ref::<DictionaryArray<Int32Type>>()
        .expect("read back as a dictionary");
    let values = dict
        .values()
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("utf8 values");
    (0..dict.len())
        .map(|i| dict.key(i).map(|k| values.value(k).to_string()))
        .collect()
}

/// Min, max, null count, min exact, max exact.
type ChunkStats = (Option<Vec<u8>>, Option<Vec<u8>>, Option<u64>, bool, bool);

fn byte_stats(chunk: &ColumnChunkMetaData) -> ChunkStats {
    match chunk.statistics() {
        Some(Statistics::ByteArray(s)) => (
            s.min_opt().map(|v| v.data().to_vec()),
            s.max_opt().map(|v| v.data().to_vec()),
            s.null_count_opt(),
            s.min_is_exact(),
            s.max_is_exact(),
        ),
        other => panic!("tag statistics missing or not byte arrays: {other:?}"),
    }
}

/// Compares our file with arrow-rs's and checks our page index against the rows; returns
/// our file's metadata.
fn check(batches: &[RecordBatch], properties: &WriterProperties) -> Arc<ParquetMetaData> {
    let dir = tempfile::tempdir().expect("tempdir");
    write_both(dir.path(), batches, properties);
    let (ours, ours_meta) = read(&dir.path().join("ours.parquet"));
    duckdb_agrees(&dir.path().join("ours.parquet"), &ours);
    let (theirs, theirs_meta) = read(&dir.path().join("theirs.parquet"));
    let expected: Vec<Option<String>> = batches
        .iter()
        .flat_map(|b| arrow_cast_to_strings(b.column(1)))
        .collect();
    assert_eq!(theirs, expected, "arrow-rs reads back what it was given");
    assert_eq!(
        ours, expected,
        "our tag column reads back what it was given"
    );
    assert_eq!(ours_meta.num_row_groups(), theirs_meta.num_row_groups());

    let mut first_row = 0usize;
    for (g, (ours_rg, theirs_rg)) in ours_meta
        .row_groups()
        .iter()
        .zip(theirs_meta.row_groups())
        .enumerate()
    {
        assert_eq!(ours_rg.num_rows(), theirs_rg.num_rows());
        let (o, t) = (ours_rg.column(1), theirs_rg.column(1));
        assert_eq!(
            byte_stats(o),
            byte_stats(t),
            "chunk statistics, row group {g}"
        );
        assert_eq!(o.num_values(), t.num_values());
        assert_eq!(o.compression(), t.compression());
        assert_eq!(
            o.unencoded_byte_array_data_bytes(),
            t.unencoded_byte_array_data_bytes()
        );
        assert_eq!(
            o.definition_level_histogram(),
            t.definition_level_histogram()
        );
        // When the dictionary overflows, arrow-rs notices at its own mini-batch boundaries,
        // so which pages fall back to PLAIN may differ; both are valid.
        if properties.dictionary_page_size_limit() >= 1 << 16 {
            assert_eq!(
                o.page_encoding_stats_mask(),
                t.page_encoding_stats_mask(),
                "page encodings, row group {g}"
            );
        }
        let mut encodings: Vec<_> = o.encodings().collect();
        let mut their_encodings: Vec<_> = t.encodings().collect();
        encodings.sort_by_key(|e| format!("{e:?}"));
        their_encodings.sort_by_key(|e| format!("{e:?}"));
        assert_eq!(encodings, their_encodings);

        // The page index describes the rows of each page.
        let rows = ours_rg.num_rows() as usize;
        let group = &ours[first_row..first_row + rows];
        let page_index = ours_meta.page_index_for_row_group(g);
        let offsets = page_index.offset_index(1).expect("offset index");
        let column_index = page_index.column_index(1).expect("column index");
        let ascending = column_index.get_boundary_order() == Some(BoundaryOrder::ASCENDING);
        let ColumnIndexMetaData::BYTE_ARRAY(index) = column_index else {
            panic!("no byte-array column index for the tag column: {column_index:?}");
        };
        let locations = offsets.page_locations();
        let limit = properties
            .column_index_truncate_length()
            .unwrap_or(usize::MAX);
        for (p, location) in locations.iter().enumerate() {
            let start = location.first_row_index as usize;
            let end = locations
                .get(p + 1)
                .map_or(rows, |next| next.first_row_index as usize);
            assert!(
                start < end && end <= rows,
                "page {p} rows {start}..{end} of {rows}"
            );
            let page = &group[start..end];
            let nulls = page.iter().filter(|v| v.is_none()).count() as i64;
            assert_eq!(index.null_count(p), Some(nulls), "page {p} null count");
            let present: Vec<&[u8]> = page.iter().flatten().map(|v| v.as_bytes()).collect();
            assert_eq!(
                index.is_null_page(p),
                present.is_empty(),
                "page {p} null page"
            );
            if let (Some(min), Some(max)) = (present.iter().min(), present.iter().max()) {
                let index_min: &[u8] = index.min_value(p).expect("min");
                let index_max: &[u8] = index.max_value(p).expect("max");
                assert!(index_min <= *min && index_max >= *max, "page {p} bounds");
                if min.len() <= limit {
                    assert_eq!(index_min, *min, "page {p} min");
                }
                if max.len() <= limit {
                    assert_eq!(index_max, *max, "page {p} max");
                }
            }
            if let Some(bytes) = offsets.unencoded_byte_array_data_bytes() {
                let actual: usize = present.iter().map(|v| v.len()).sum();
                assert_eq!(bytes[p], actual as i64, "page {p} unencoded bytes");
            }
        }
        let pages_min: Vec<_> = (0..locations.len())
            .filter(|p| !index.is_null_page(*p))
            .map(|p| {
                (
                    index.min_value(p).map(<[u8]>::to_vec),
                    index.max_value(p).map(<[u8]>::to_vec),
                )
            })
            .collect();
        if ascending {
            assert!(
                pages_min
                    .windows(2)
                    .all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1)
            );
        }
        first_row += rows;
    }
    ours_meta
}

fn properties() -> parquet::file::properties::WriterPropertiesBuilder {
    WriterProperties::builder().set_compression(Compression::ZSTD(ZstdLevel::default()))
}

#[test]
fn sorted_series_over_batches_and_row_groups() {
    let batches: Vec<RecordBatch> = (0..6)
        .map(|b| {
            let names: Vec<String> = (0..5).map(|s| format!("dev-{:04}", b * 5 + s)).collect();
            let runs: Vec<(Option<&str>, usize)> =
                names.iter().map(|n| (Some(n.as_str()), 900)).collect();
            batch(&runs, b * 4500)
        })
        .collect();
    check(
        &batches,
        &properties()
            .set_max_row_group_row_count(Some(10_000))
            .build(),
    );
}

#[test]
fn nulls_and_all_null_chunks() {
    let batches = vec![
        batch(&[(None, 10), (Some("a"), 5), (None, 3), (Some("b"), 1)], 0),
        batch(&[(None, 40)], 19),
        batch(&[(Some("b"), 2), (Some("a"), 2), (None, 1)], 59),
        batch(&[(None, 100)], 64),
    ];
    for rows in [7, 20, 64, 1000] {
        check(
            &batches,
            &properties()
                .set_max_row_group_row_count(Some(rows))
                .set_data_page_row_count_limit(3)
                .build(),
        );
    }
}

#[test]
fn long_values_are_truncated_like_arrow_rs() {
    let long_ascii = "x".repeat(100);
    let long_multibyte = format!("{}{}", "é".repeat(31), "€€€€€€€€");
    let last_char = format!("{}\u{10FFFF}\u{10FFFF}", "a".repeat(62));
    let surrogate_edge = format!("{}\u{D7FF}\u{D7FF}zz", "b".repeat(60));
    let all_max = "\u{10FFFF}".repeat(20);
    let cases = [
        &long_ascii,
        &long_multibyte,
        &last_char,
        &surrogate_edge,
        &all_max,
    ];
    for value in cases {
        let batches = vec![batch(
            &[(Some("a"), 3), (Some(value), 4), (Some("zzz"), 1)],
            0,
        )];
        check(&batches, &properties().build());
        let batches = vec![batch(&[(Some(value), 4)], 0)];
        check(&batches, &properties().build());
    }
}

#[test]
fn dictionary_overflow_falls_back_to_plain() {
    let names: Vec<String> = (0..200).map(|i| format!("value-{i:03}")).collect();
    let runs: Vec<(Option<&str>, usize)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (if i % 7 == 3 { None } else { Some(n.as_str()) }, 1 + i % 5))
        .collect();
    let batches = vec![batch(&runs[..120], 0), batch(&runs[120..], 10_000)];
    for dictionary_limit in [1, 64, 500] {
        let metadata = check(
            &batches,
            &properties()
                .set_dictionary_page_size_limit(dictionary_limit)
                .set_data_page_size_limit(50)
                .build(),
        );
        let data_pages = metadata.row_group(0).column(1).page_encoding_stats_mask();
        assert!(
            data_pages.is_some_and(|m| m.is_set(parquet::basic::Encoding::PLAIN)),
            "limit {dictionary_limit}: no PLAIN data page, the fallback was not exercised"
        );
    }
}

#[test]
fn every_codec() {
    let batches = vec![batch(
        &[(Some("a"), 30_000), (None, 5), (Some("b"), 25_000)],
        0,
    )];
    for codec in [
        Compression::UNCOMPRESSED,
        Compression::SNAPPY,
        Compression::LZ4_RAW,
        Compression::ZSTD(ZstdLevel::try_new(3).expect("level")),
    ] {
        check(
            &batches,
            &WriterProperties::builder().set_compression(codec).build(),
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn random_runs_match_arrow_rs(
        runs in prop::collection::vec((prop::option::weighted(0.8, 0usize..12), 1usize..40), 1..60),
        splits in prop::collection::vec(1usize..60, 0..4),
        page_rows in 1usize..50,
        group_rows in 1usize..300,
        dictionary_limit in prop::sample::select(vec![1usize, 40, 1 << 20]),
    ) {
        let pool: Vec<String> = (0..12).map(|i| format!("{}{}", "v".repeat(i * 7), i)).collect();
        let runs: Vec<(Option<&str>, usize)> =
            runs.iter().map(|(v, n)| (v.map(|i| pool[i].as_str()), *n)).collect();
        let mut batches = Vec::new();
        let mut rest = &runs[..];
        let mut first = 0i64;
        for split in splits {
            let at = split.min(rest.len());
            if at == 0 || at == rest.len() {
                continue;
            }
            let part = batch(&rest[..at], first);
            first += part.num_rows() as i64;
            batches.push(part);
            rest = &rest[at..];
        }
        batches.push(batch(rest, first));
        check(
            &batches,
            &properties()
                .set_max_row_group_row_count(Some(group_rows))
                .set_data_page_row_count_limit(page_rows)
                .set_dictionary_page_size_limit(dictionary_limit)
                .build(),
        );
    }
}

/// Each writer property the tag-column writer does not implement is refused when the file
/// is created, naming the property; the defaults and the properties it does honour are not.
#[test]
fn unsupported_properties_are_refused() {
    use parquet::basic::Encoding;
    use parquet::file::properties::{EnabledStatistics, WriterVersion};
    use parquet::schema::types::ColumnPath;

    let tag = ColumnPath::from("tag");
    type Change = fn(
        parquet::file::properties::WriterPropertiesBuilder,
        ColumnPath,
    ) -> parquet::file::properties::WriterPropertiesBuilder;
    let refused: [(&str, Change); 10] = [
        ("writer version 2", |b, _| {
            b.set_writer_version(WriterVersion::PARQUET_2_0)
        }),
        ("dictionary encoding turned off", |b, c| {
            b.set_column_dictionary_enabled(c, false)
        }),
        ("statistics other than page level", |b, c| {
            b.set_column_statistics_enabled(c, EnabledStatistics::Chunk)
        }),
        ("statistics other than page level", |b, c| {
            b.set_column_statistics_enabled(c, EnabledStatistics::None)
        }),
        ("a disabled offset index", |b, _| {
            b.set_offset_index_disabled(true)
        }),
        ("bloom filters", |b, c| {
            b.set_column_bloom_filter_enabled(c, true)
        }),
        ("statistics in page headers", |b, c| {
            b.set_column_write_page_header_statistics(c, true)
        }),
        ("distinct-value counts", |b, _| {
            b.set_write_row_group_number_distinct_values(true)
        }),
        ("a fallback encoding other than PLAIN", |b, c| {
            b.set_column_encoding(c, Encoding::DELTA_BYTE_ARRAY)
        }),
        ("tag columns compressed with", |b, c| {
            b.set_column_compression(c, Compression::GZIP(Default::default()))
        }),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (i, (what, change)) in refused.into_iter().enumerate() {
        let properties = change(properties(), tag.clone()).build();
        let dest = dir.path().join(format!("{i}.parquet"));
        let err = match PendingFile::create(dest.clone(), schema(), properties) {
            Ok(_) => panic!("{what}: accepted"),
            Err(err) => err,
        };
        let chain = anyhow_chain(&err);
        assert!(chain.contains(what), "{what}: {chain}");
        assert!(!dest.exists(), "{what}: a file appeared");
    }
    // What it implements is accepted, and the column is still written through it.
    let honoured: [Change; 4] = [
        |b, c| b.set_column_encoding(c, Encoding::PLAIN),
        |b, c| b.set_column_dictionary_page_size_limit(c, 64),
        |b, _| b.set_data_page_row_count_limit(3),
        |b, _| b.set_statistics_truncate_length(Some(8)),
    ];
    for change in honoured {
        let properties = change(properties(), tag.clone()).build();
        check(
            &[batch(&[(Some("a"), 5), (None, 2), (Some("b"), 4)], 0)],
            &properties,
        );
    }
}

/// The error and its sources, joined like anyhow's `{:#}`.
fn anyhow_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

//! The record batch readers against the shipped fixtures (and their server oracle) and
//! against small shards written with `influx-tsm-shard`'s testkit.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, Int64Type, UInt64Type};
use arrow_array::{Array, RecordBatch, RecordBatchReader};
use arrow_schema::{ArrowError, DataType};
use influx_tsm_arrow::{
    CastStats, Columns, Error, META_KEY, META_ROLE, MeasurementReader, MeasurementScan,
    ReadOptions, ScanBuilder, TypeConflicts,
};
use influx_tsm_shard::layout::scan;
use influx_tsm_shard::rows::RowBatch;
use influx_tsm_shard::shard::{Shard, ShardOptions, TimeRange};
use influx_tsm_shard::testkit::oracle::{Points, Scalar, assert_same};
use influx_tsm_shard::testkit::tsm::TsmWriter;
use influx_tsm_shard::{Strings, Values};

fn fixtures() -> Vec<PathBuf> {
    influx_tsm_shard::testkit::oracle::fixture_dirs()
}

fn small_a() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/small-a/influxdb")
}

fn oracle(path: &Path) -> Points {
    influx_tsm_shard::testkit::oracle::load(path)
}

/// The points of `batch`, read through the column metadata (role and original key), as
/// a consumer that knows nothing of `influx-tsm-shard` would.
fn add_points(points: &mut Points, db: &str, rp: &str, batch: &RecordBatch) {
    let schema = batch.schema();
    let measurement = schema.metadata()["influxdb.measurement"].clone();
    let time = batch
        .column(0)
        .as_primitive::<arrow_array::types::TimestampNanosecondType>();
    for row in 0..batch.num_rows() {
        let mut tags = Vec::new();
        let mut fields = BTreeMap::new();
        for (field, column) in schema.fields().iter().zip(batch.columns()).skip(1) {
            if column.is_null(row) {
                continue;
            }
            let key = field.metadata()[META_KEY].clone();
            match field.metadata()[META_ROLE].as_str() {
                "tag" => {
                    let dict = column.as_dictionary::<Int32Type>();
                    let values = dict.values().as_string::<i32>();
                    let k = dict.keys().value(row) as usize;
                    tags.push((key, values.value(k).to_owned()));
                }
                "field" => {
                    let value = match column.data_type() {
                        DataType::Float64 => {
                            Scalar::Float(column.as_primitive::<Float64Type>().value(row).to_bits())
                        }
                        DataType::Int64 => {
                            Scalar::Integer(column.as_primitive::<Int64Type>().value(row))
                        }
                        DataType::UInt64 => {
                            Scalar::Unsigned(column.as_primitive::<UInt64Type>().value(row))
                        }
                        DataType::Utf8 => {
                            Scalar::String(column.as_string::<i32>().value(row).as_bytes().to_vec())
                        }
                        DataType::Boolean => Scalar::Boolean(column.as_boolean().value(row)),
                        other => panic!("unexpected field type {other}"),
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
        assert!(!fields.is_empty(), "row without fields at {key:?}");
        assert!(
            points.insert(key.clone(), fields).is_none(),
            "row twice: {key:?}"
        );
    }
}

fn collect(reader: impl RecordBatchReader) -> Vec<RecordBatch> {
    let schema = reader.schema();
    let batches: Vec<RecordBatch> = reader.map(|b| b.expect("batch")).collect();
    for b in &batches {
        assert_eq!(b.schema(), schema, "every batch has the reader's schema");
        assert!(b.num_rows() > 0, "no empty batches");
    }
    batches
}

/// (db, rp, measurement) of every shard of `dir`, and the shard ids of each.
fn measurements(dir: &Path) -> BTreeMap<(String, String, Vec<u8>), BTreeSet<u64>> {
    let layout = scan(&dir.join("data"), Some(&dir.join("wal"))).expect("scan");
    let mut out: BTreeMap<_, BTreeSet<u64>> = BTreeMap::new();
    for loc in &layout.shards {
        let shard = Shard::open_with(loc, &ShardOptions::default()).expect("open");
        for m in shard.measurements() {
            out.entry((
                loc.database.clone(),
                loc.retention_policy.clone(),
                m.name.clone(),
            ))
            .or_default()
            .insert(loc.id);
        }
    }
    out
}

/// Read without a pool and on a caller's two-thread rayon pool (where a big shard's key
/// ranges are scanned in parallel): both must equal the oracle.
#[test]
fn scan_of_every_measurement_equals_the_oracle() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("pool");
    for fixture in fixtures() {
        let expected = oracle(&fixture);
        let dir = fixture.join("influxdb");
        for (batch_rows, on_pool) in [
            (influx_tsm_arrow::DEFAULT_BATCH_ROWS, false),
            (7, false),
            (influx_tsm_arrow::DEFAULT_BATCH_ROWS, true),
        ] {
            let read = || {
                let mut got = Points::new();
                for (db, rp, m) in measurements(&dir).into_keys() {
                    let reader = ScanBuilder::new(db.as_str(), m.as_slice())
                        .retention_policy(rp.as_str())
                        .shard_options(ShardOptions::default().verify_crc(true))
                        .read_options(ReadOptions::default().batch_rows(batch_rows))
                        .open_dir(&dir)
                        .expect("scan");
                    for batch in collect(reader) {
                        assert!(batch.num_rows() <= batch_rows);
                        add_points(&mut got, &db, &rp, &batch);
                    }
                }
                got
            };
            let got = if on_pool { pool.install(read) } else { read() };
            let name = format!(
                "{} (batches of {batch_rows}, on a pool: {on_pool})",
                fixture.display()
            );
            let values: usize = got.values().map(BTreeMap::len).sum();
            let expected_values: usize = expected.values().map(BTreeMap::len).sum();
            assert_eq!(got.len(), expected.len(), "{name}: rows");
            assert_eq!(values, expected_values, "{name}: values");
            assert_same(&name, &expected, &got);
        }
    }
}

/// The batches the exporter's per-shard path makes: `record_batch` over `Shard::rows`.
fn per_shard_batches(shard: &Shard, index: usize, options: ReadOptions) -> Vec<RecordBatch> {
    let schema = &shard.measurements()[index];
    let columns = Columns::new(schema);
    let mut rows = shard.rows(index, options.range);
    let mut batch = RowBatch::new(schema);
    let mut out = Vec::new();
    while rows
        .next_batch(&mut batch, options.batch_rows, options.batch_bytes)
        .expect("rows")
    {
        if !batch.is_empty() {
            out.push(influx_tsm_arrow::record_batch(&columns, &batch).expect("convert"));
        }
    }
    out
}

#[test]
fn one_shard_readers_equal_the_per_shard_record_batch_path() {
    let dir = small_a();
    let layout = scan(&dir.join("data"), Some(&dir.join("wal"))).expect("scan");
    let options = ReadOptions::default().batch_rows(50);
    let mut compared = 0;
    for loc in &layout.shards {
        let shard = Arc::new(Shard::open_with(loc, &ShardOptions::default()).expect("open"));
        for (index, schema) in shard.measurements().iter().enumerate() {
            let expected = per_shard_batches(&shard, index, options);
            let exported_schema = Columns::new(schema).schema().clone();

            let reader = MeasurementReader::new(&shard, &schema.name, options).expect("reader");
            assert_eq!(reader.schema(), exported_schema);
            assert_eq!(collect(reader), expected);

            let owned = MeasurementScan::from_shard(shard.clone(), &schema.name, options)
                .expect("owned reader");
            assert_eq!(owned.schema(), exported_schema);
            assert_eq!(collect(owned), expected);

            let scanned = ScanBuilder::new(loc.database.as_str(), schema.name.as_slice())
                .retention_policy(loc.retention_policy.as_str())
                .shards([loc.id])
                .read_options(options)
                .build(&layout)
                .expect("scan");
            assert_eq!(scanned.schema(), exported_schema);
            assert_eq!(collect(scanned), expected);
            compared += 1;
        }
    }
    assert!(compared > 20, "compared {compared} measurements");
}

#[test]
fn time_range_and_shard_filter_give_exactly_the_subset() {
    let dir = small_a();
    let layout = scan(&dir.join("data"), Some(&dir.join("wal"))).expect("scan");
    let (db, rp, m) = ("airq", "autogen", b"air".as_slice());
    let ids: Vec<u64> = measurements(&dir)[&(db.into(), rp.into(), m.to_vec())]
        .iter()
        .copied()
        .collect();
    assert!(ids.len() > 4, "air is in {} shards", ids.len());
    let chosen: BTreeSet<u64> = ids.iter().copied().step_by(2).collect();

    // Every point of the chosen shards, read one shard at a time.
    let mut all = Points::new();
    for loc in layout.shards.iter().filter(|l| chosen.contains(&l.id)) {
        let shard = Shard::open(loc, &Default::default()).expect("open");
        let reader = MeasurementReader::new(&shard, m, ReadOptions::default()).expect("reader");
        for batch in collect(reader) {
            add_points(&mut all, db, rp, &batch);
        }
    }
    let mut times: Vec<i64> = all.keys().map(|k| k.4).collect();
    times.sort();
    let range = TimeRange {
        start: times[times.len() / 3],
        end: times[2 * times.len() / 3],
    };
    let expected: Points = all
        .into_iter()
        .filter(|(k, _)| range.contains(k.4))
        .collect();
    assert!(!expected.is_empty());

    let reader = ScanBuilder::new(db, m)
        .retention_policy(rp)
        .shards(chosen.iter().copied())
        .time_range(range)
        .open_dir(&dir)
        .expect("scan");
    let mut got = Points::new();
    for batch in collect(reader) {
        add_points(&mut got, db, rp, &batch);
    }
    assert_same("subset", &expected, &got);
}

#[test]
fn shards_are_read_in_time_order_and_pruned_by_the_catalogue() {
    let dir = small_a();
    let range = {
        let expected = oracle(&dir.join(".."));
        let mut times: Vec<i64> = expected
            .keys()
            .filter(|k| k.0 == "airq" && k.1 == "autogen" && k.2 == "air")
            .map(|k| k.4)
            .collect();
        times.sort();
        TimeRange {
            start: times[times.len() / 2],
            end: i64::MAX,
        }
    };
    // With the catalogue (open_dir) and without it (no pruning, shard id order).
    let mut batches = Vec::new();
    for with_meta in [true, false] {
        let builder = ScanBuilder::new("airq", "air")
            .retention_policy("autogen")
            .time_range(range);
        let reader = if with_meta {
            builder.open_dir(&dir).expect("scan")
        } else {
            builder
                .build(&scan(&dir.join("data"), Some(&dir.join("wal"))).expect("scan"))
                .expect("scan")
        };
        batches.push(collect(reader));
    }
    assert_eq!(
        batches[0], batches[1],
        "pruning shards only skips empty ones"
    );
    // Each of these small shards fits one batch; shards of one retention policy do not
    // overlap, so in time order each batch ends before the next begins.
    let spans: Vec<(i64, i64)> = batches[0]
        .iter()
        .map(|b| {
            let t = b
                .column(0)
                .as_primitive::<arrow_array::types::TimestampNanosecondType>();
            let min = t.values().iter().copied().min().expect("rows");
            let max = t.values().iter().copied().max().expect("rows");
            (min, max)
        })
        .collect();
    assert!(spans.windows(2).all(|w| w[0].1 < w[1].0), "{spans:?}");
    assert!(spans.iter().all(|&(min, _)| min >= range.start));
    assert!(spans.len() > 1);
}

/// Writes a shard folder `data/db/rp/<id>/` holding one TSM file with `keys` (sorted).
fn write_shard(root: &Path, id: u64, keys: &[(&[u8], &[i64], Values)]) {
    let folder = root.join("data/db/rp").join(id.to_string());
    std::fs::create_dir_all(&folder).expect("mkdir");
    let mut writer = TsmWriter::new();
    for (key, times, values) in keys {
        writer.write_block(key, times, values);
    }
    std::fs::write(folder.join("000000001-000000001.tsm"), writer.finish()).expect("write");
}

fn layout_of(root: &Path) -> influx_tsm_shard::layout::Layout {
    scan(&root.join("data"), None).expect("scan")
}

#[test]
fn scan_schema_is_the_union_and_missing_columns_are_null() {
    let root = tempfile::tempdir().expect("tempdir");
    write_shard(
        root.path(),
        1,
        &[(
            b"m,host=a#!~#value",
            &[10, 20],
            Values::Float(vec![1.5, 2.5]),
        )],
    );
    write_shard(
        root.path(),
        2,
        &[
            (b"m,region=x#!~#count", &[30], Values::Integer(vec![7])),
            (
                b"m,region=x#!~#host",
                &[30],
                Values::String([&b"h"[..]].into_iter().collect::<Strings>()),
            ),
        ],
    );
    let reader = ScanBuilder::new("db", "m")
        .build(&layout_of(root.path()))
        .expect("scan");
    let schema = reader.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    // The field `host` clashes with the tag `host` only in the union: named as Columns does.
    assert_eq!(
        names,
        ["time", "host", "region", "count", "host_1", "value"]
    );
    assert_eq!(
        schema.field(4).metadata()[META_ROLE],
        "field",
        "{:?}",
        schema.field(4)
    );
    let batches = collect(reader);
    assert_eq!(batches.len(), 2, "one batch per shard");
    let (first, second) = (&batches[0], &batches[1]);
    assert_eq!(first.num_rows(), 2);
    for column in [2, 3, 4] {
        assert_eq!(first.column(column).null_count(), 2, "column {column}");
    }
    assert_eq!(
        first.column(5).as_primitive::<Float64Type>().values(),
        &[1.5, 2.5]
    );
    assert_eq!(second.num_rows(), 1);
    assert!(second.column(1).is_null(0) && second.column(5).is_null(0));
    assert_eq!(second.column(3).as_primitive::<Int64Type>().value(0), 7);
    assert_eq!(second.column(4).as_string::<i32>().value(0), "h");
}

#[test]
fn a_field_stored_with_several_types_keeps_every_value() {
    let root = tempfile::tempdir().expect("tempdir");
    write_shard(
        root.path(),
        1,
        &[(b"m,host=a#!~#value", &[10], Values::Float(vec![1.5]))],
    );
    write_shard(
        root.path(),
        2,
        &[(
            b"m,host=a#!~#value",
            &[20, 30],
            Values::Integer(vec![2, (1 << 53) + 1]),
        )],
    );
    let layout = layout_of(root.path());
    let read = |policy: TypeConflicts| {
        let reader = ScanBuilder::new("db", "m")
            .type_conflicts(policy)
            .build(&layout)
            .expect("scan");
        let schema = reader.schema();
        let columns: Vec<String> = schema
            .fields()
            .iter()
            .map(|f| format!("{}:{}", f.name(), f.data_type()))
            .collect();
        let mut reader = reader;
        let batches: Vec<RecordBatch> = reader.by_ref().map(|b| b.expect("batch")).collect();
        (columns, batches, reader.cast_stats())
    };

    // Split: the float (InfluxQL's type) keeps the name, the integers get their own column.
    let (columns, batches, stats) = read(TypeConflicts::Split);
    assert_eq!(columns[2..], ["value:Float64", "value_integer:Int64"]);
    assert_eq!(stats, CastStats::default());
    assert_eq!(
        batches[0].column(2).as_primitive::<Float64Type>().value(0),
        1.5
    );
    assert!(batches[0].column(3).is_null(0));
    assert!(batches[1].column(2).is_null(0) && batches[1].column(2).is_null(1));
    assert_eq!(
        batches[1].column(3).as_primitive::<Int64Type>().values(),
        &[2, (1 << 53) + 1]
    );
    for field in &batches[1].schema().fields()[2..] {
        assert_eq!(field.metadata()["influxdb.key"], "value");
    }
    assert_eq!(
        batches[1].schema().field(3).metadata()["influxdb.type"],
        "integer"
    );

    // Float: one column; 2^53 + 1 has no float equal, so it is null and counted.
    let (columns, batches, stats) = read(TypeConflicts::Float);
    assert_eq!(columns[2..], ["value:Float64"]);
    let second = batches[1].column(2).as_primitive::<Float64Type>();
    assert_eq!(second.value(0), 2.0);
    assert!(second.is_null(1));
    assert_eq!((stats.cast, stats.inexact), (1, 1));

    // String: every value, exactly.
    let (columns, batches, _) = read(TypeConflicts::String);
    assert_eq!(columns[2..], ["value:Utf8"]);
    assert_eq!(batches[0].column(2).as_string::<i32>().value(0), "1.5");
    assert_eq!(
        batches[1].column(2).as_string::<i32>().value(1),
        "9007199254740993"
    );
}

#[test]
fn a_missing_measurement_is_a_typed_error() {
    let err = ScanBuilder::new("airq", "no such measurement")
        .open_dir(&small_a())
        .err()
        .expect("error");
    assert!(matches!(err, Error::MeasurementNotFound { .. }), "{err}");
}

#[test]
fn a_damaged_block_surfaces_as_an_external_tsm_error() {
    let root = tempfile::tempdir().expect("tempdir");
    write_shard(
        root.path(),
        1,
        &[(
            b"m,host=a#!~#value",
            &[10, 20, 30],
            Values::Float(vec![1.5, 2.5, 3.5]),
        )],
    );
    // Flip a byte inside the block (header 5 bytes, CRC 4 bytes): the index still opens.
    let path = root.path().join("data/db/rp/1/000000001-000000001.tsm");
    let mut bytes = std::fs::read(&path).expect("read");
    bytes[12] ^= 0xff;
    std::fs::write(&path, bytes).expect("write");

    let mut reader = ScanBuilder::new("db", "m")
        .shard_options(ShardOptions::default().verify_crc(true))
        .build(&layout_of(root.path()))
        .expect("the index is intact");
    match reader.next() {
        Some(Err(ArrowError::ExternalError(err))) => {
            let err = err
                .downcast_ref::<influx_tsm_shard::Error>()
                .expect("a influx_tsm_shard::Error");
            assert!(err.is_corruption(), "{err}");
        }
        other => panic!("expected a damaged-block error, got {other:?}"),
    }
    assert!(reader.next().is_none(), "nothing after an error");
}

/// Copies a directory tree.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[test]
fn unselected_shards_are_never_opened() {
    let root = tempfile::tempdir().expect("tempdir");
    copy_tree(&small_a(), root.path());
    // A shard that cannot be opened: a TSM file that is not one.
    let broken = root.path().join("data/airq/autogen/999");
    std::fs::create_dir_all(&broken).expect("mkdir");
    std::fs::write(broken.join("000000001-000000001.tsm"), b"not a tsm file").expect("write");

    let all = ScanBuilder::new("airq", "air")
        .retention_policy("autogen")
        .open_dir(root.path());
    assert!(
        matches!(all, Err(Error::Tsm(_))),
        "the broken shard is read"
    );

    let others =
        measurements(&small_a())[&("airq".into(), "autogen".into(), b"air".to_vec())].clone();
    ScanBuilder::new("airq", "air")
        .retention_policy("autogen")
        .shards(others)
        .open_dir(root.path())
        .expect("shard 999 not selected, not opened");
    let (_, _, hourly) = measurements(&small_a())
        .into_keys()
        .find(|(db, rp, _)| db == "airq" && rp == "hourly")
        .expect("a measurement in airq/hourly");
    ScanBuilder::new("airq", hourly)
        .retention_policy("hourly")
        .open_dir(root.path())
        .expect("another retention policy");
}

fn assert_send_static<T: Send + 'static>(_: &T) {}

#[test]
fn the_owned_scan_is_send_and_outlives_its_layout() {
    let dir = small_a();
    let layout = scan(&dir.join("data"), Some(&dir.join("wal"))).expect("scan");
    let reader = ScanBuilder::new("airq", "air")
        .retention_policy("autogen")
        .build(&layout)
        .expect("scan");
    drop(layout);
    assert_send_static(&reader);
    let boxed: Box<dyn RecordBatchReader + Send> = Box::new(reader);
    let rows: usize =
        std::thread::spawn(move || boxed.map(|b| b.expect("batch").num_rows()).sum::<usize>())
            .join()
            .expect("thread");
    let expected = oracle(&dir.join(".."))
        .keys()
        .filter(|k| k.0 == "airq" && k.1 == "autogen" && k.2 == "air")
        .count();
    assert_eq!(rows, expected);

    let shard = Arc::new(
        Shard::open(
            &scan(&dir.join("data"), None).expect("scan").shards[0],
            &Default::default(),
        )
        .expect("open"),
    );
    let name = shard.measurements()[0].name.clone();
    let owned = MeasurementScan::from_shard(shard, &name, ReadOptions::default()).expect("owned");
    assert_send_static(&owned);
}

/// `only_fields` is InfluxQL's `SELECT f`: for every fixture, measurement and field, the
/// scan equals the oracle's points that have `f`, with `f` alone; and a selection with no
/// field (a tag, `time`) keeps every row.
#[test]
fn only_fields_equals_the_oracle_restricted_to_the_field() {
    for fixture in fixtures() {
        let expected = oracle(&fixture);
        let dir = fixture.join("influxdb");
        for (db, rp, m) in measurements(&dir).into_keys() {
            let scan = || ScanBuilder::new(db.as_str(), m.as_slice()).retention_policy(rp.as_str());
            let whole = collect(scan().open_dir(&dir).expect("scan"));
            let schema = whole[0].schema();
            let field_columns: Vec<(String, String)> = schema
                .fields()
                .iter()
                .filter(|f| f.metadata()[META_ROLE] == "field")
                .map(|f| (f.name().clone(), f.metadata()[META_KEY].clone()))
                .collect();
            let measurement = String::from_utf8_lossy(&m).into_owned();
            for (column, key) in &field_columns {
                let mut got = Points::new();
                let reader = scan()
                    .only_fields([column.as_bytes()])
                    .open_dir(&dir)
                    .expect("scan");
                for batch in collect(reader) {
                    add_points(&mut got, &db, &rp, &batch);
                }
                let want: Points = expected
                    .iter()
                    .filter(|((d, r, meas, _, _), _)| *d == db && *r == rp && *meas == measurement)
                    .filter_map(|(k, fields)| {
                        let value = fields.get(key)?;
                        // A type-split column holds one type of the key's values only.
                        let mut only = BTreeMap::new();
                        only.insert(key.clone(), value.clone());
                        Some((k.clone(), only))
                    })
                    .collect();
                let name = format!(
                    "{} {db}.{rp}.{measurement} only {column}",
                    fixture.display()
                );
                if field_columns.iter().filter(|(_, k)| k == key).count() == 1 {
                    assert_eq!(got.len(), want.len(), "{name}: rows");
                    assert_same(&name, &want, &got);
                } else {
                    // Split by type: every point of the key is read, each in its column.
                    assert!(got.keys().all(|k| want.contains_key(k)), "{name}: rows");
                }
            }
            let tags_only = collect(scan().only_fields(["time"]).open_dir(&dir).expect("scan"));
            let rows =
                |batches: &[RecordBatch]| batches.iter().map(RecordBatch::num_rows).sum::<usize>();
            assert_eq!(
                rows(&tags_only),
                rows(&whole),
                "{db}.{rp}: no field selected keeps every row"
            );
        }
    }
}

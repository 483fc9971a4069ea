//! Hand-made row batches through `influx_tsm_arrow`: types, nulls, clashes, metadata, tags.

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, Int64Type, TimestampNanosecondType, UInt64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use influx_tsm_arrow::{Columns, Error, Role, Stats};
use influx_tsm_shard::rows::{FieldColumn, FieldSchema, MeasurementSchema, RowBatch, SeriesRun};
use influx_tsm_shard::{FieldType, Strings, Values};

fn field(key: impl AsRef<[u8]>, field_type: FieldType) -> FieldSchema {
    FieldSchema {
        key: key.as_ref().to_vec(),
        field_type,
    }
}

fn run(key: &str, tags: &[Option<&[u8]>], rows: usize) -> SeriesRun {
    SeriesRun {
        key: key.as_bytes().to_vec(),
        tags: tags.iter().map(|t| t.map(<[u8]>::to_vec)).collect(),
        rows,
    }
}

fn strings(values: &[&[u8]]) -> Values {
    Values::String(values.iter().copied().collect::<Strings>())
}

/// `weather` with tags `city`, `station` and one field of every type; two series, the
/// second lacking `station`; some fields missing on some points.
fn weather() -> (MeasurementSchema, RowBatch) {
    let schema = MeasurementSchema {
        name: b"weather".to_vec(),
        tag_keys: vec![b"city".to_vec(), b"station".to_vec()],
        fields: vec![
            field("count", FieldType::Unsigned),
            field("note", FieldType::String),
            field("ok", FieldType::Boolean),
            field("rain", FieldType::Integer),
            field("temp", FieldType::Float),
        ],
    };
    let rows = RowBatch {
        series: [
            run(
                "weather,city=Hà\\ Nội,station=s1",
                &[Some("Hà Nội".as_bytes()), Some(b"s1")],
                2,
            ),
            run("weather,city=Huế", &[Some("Huế".as_bytes()), None], 3),
        ]
        .into_iter()
        .collect(),
        time: vec![10, 20, 5, 6, 7],
        fields: vec![
            FieldColumn {
                valid: vec![true, true, false, true, true],
                values: Values::Unsigned(vec![1, u64::MAX, 0, 3, 4]),
            },
            FieldColumn {
                valid: vec![true, false, false, true, false],
                values: strings(&[b"sunny", b"", b"", "mưa".as_bytes(), b""]),
            },
            FieldColumn {
                valid: vec![true, true, true, true, true],
                values: Values::Boolean(vec![true, false, true, false, true]),
            },
            FieldColumn {
                valid: vec![false, true, true, true, true],
                values: Values::Integer(vec![0, -1, i64::MIN, i64::MAX, 0]),
            },
            FieldColumn {
                valid: vec![true, true, true, false, true],
                values: Values::Float(vec![21.5, -0.0, f64::INFINITY, 0.0, 1e300]),
            },
        ],
    };
    (schema, rows)
}

fn column_names(batch: &RecordBatch) -> Vec<String> {
    batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

fn tag_values(batch: &RecordBatch, column: usize) -> Vec<Option<String>> {
    let dict = batch.column(column).as_dictionary::<Int32Type>();
    let values = dict.values().as_string::<i32>();
    dict.keys()
        .iter()
        .map(|k| k.map(|k| values.value(usize::try_from(k).unwrap()).to_string()))
        .collect()
}

#[test]
fn types_and_order() {
    let (schema, rows) = weather();
    let batch = influx_tsm_arrow::record_batch(&Columns::new(&schema), &rows).unwrap();
    assert_eq!(
        column_names(&batch),
        [
            "time", "city", "station", "count", "note", "ok", "rain", "temp"
        ]
    );
    let types: Vec<DataType> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    assert_eq!(
        types,
        [
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            dict.clone(),
            dict,
            DataType::UInt64,
            DataType::Utf8,
            DataType::Boolean,
            DataType::Int64,
            DataType::Float64,
        ]
    );
    assert!(!batch.schema().field(0).is_nullable());
    assert_eq!(batch.num_rows(), 5);
    assert_eq!(batch.schema(), influx_tsm_arrow::schema(&schema));
}

#[test]
fn values_and_nulls() {
    let (schema, rows) = weather();
    let batch = influx_tsm_arrow::record_batch(&Columns::new(&schema), &rows).unwrap();

    let time = batch.column(0).as_primitive::<TimestampNanosecondType>();
    assert_eq!(time.values(), &[10, 20, 5, 6, 7]);
    assert_eq!(time.null_count(), 0);

    let count = batch.column(3).as_primitive::<UInt64Type>();
    assert_eq!(
        count.iter().collect::<Vec<_>>(),
        [Some(1), Some(u64::MAX), None, Some(3), Some(4)]
    );

    let note = batch.column(4).as_string::<i32>();
    assert_eq!(
        note.iter().collect::<Vec<_>>(),
        [Some("sunny"), None, None, Some("mưa"), None]
    );

    let ok = batch.column(5).as_boolean();
    assert_eq!(
        ok.iter().collect::<Vec<_>>(),
        [Some(true), Some(false), Some(true), Some(false), Some(true)]
    );
    assert!(
        ok.nulls().is_none(),
        "an all-valid column has no null buffer"
    );

    let rain = batch.column(6).as_primitive::<Int64Type>();
    assert_eq!(
        rain.iter().collect::<Vec<_>>(),
        [None, Some(-1), Some(i64::MIN), Some(i64::MAX), Some(0)]
    );

    let temp = batch.column(7).as_primitive::<Float64Type>();
    assert_eq!(temp.value(0), 21.5);
    assert!(temp.value(1).is_sign_negative(), "-0.0 keeps its sign");
    assert_eq!(temp.value(2), f64::INFINITY);
    assert!(temp.is_null(3));
    assert_eq!(temp.value(4), 1e300);
}

#[test]
fn dictionary_tags_with_nulls() {
    let (schema, rows) = weather();
    let batch = influx_tsm_arrow::record_batch(&Columns::new(&schema), &rows).unwrap();
    let city = Some("Hà Nội".to_string());
    let hue = Some("Huế".to_string());
    assert_eq!(
        tag_values(&batch, 1),
        [city.clone(), city, hue.clone(), hue.clone(), hue]
    );
    let s1 = Some("s1".to_string());
    assert_eq!(tag_values(&batch, 2), [s1.clone(), s1, None, None, None]);
    // One dictionary entry per distinct value.
    assert_eq!(
        batch.column(1).as_dictionary::<Int32Type>().values().len(),
        2
    );
    assert_eq!(
        batch.column(2).as_dictionary::<Int32Type>().values().len(),
        1
    );
}

#[test]
fn repeated_tag_values_share_an_entry() {
    let schema = MeasurementSchema {
        name: b"m".to_vec(),
        tag_keys: vec![b"a".to_vec(), b"b".to_vec()],
        fields: vec![field("v", FieldType::Integer)],
    };
    let rows = RowBatch {
        series: [
            run("m,a=x,b=1", &[Some(b"x"), Some(b"1")], 1),
            run("m,a=x,b=2", &[Some(b"x"), Some(b"2")], 2),
            run("m,a=y,b=1", &[Some(b"y"), Some(b"1")], 1),
        ]
        .into_iter()
        .collect(),
        time: vec![1, 1, 2, 1],
        fields: vec![FieldColumn {
            valid: vec![true; 4],
            values: Values::Integer(vec![1, 2, 3, 4]),
        }],
    };
    let batch = influx_tsm_arrow::record_batch(&Columns::new(&schema), &rows).unwrap();
    let a = batch.column(1).as_dictionary::<Int32Type>();
    assert_eq!(a.values().len(), 2);
    assert_eq!(a.keys().values(), &[0, 0, 0, 1]);
    let b = batch.column(2).as_dictionary::<Int32Type>();
    assert_eq!(b.keys().values(), &[0, 1, 1, 0]);
}

#[test]
fn clashes_get_suffixes_and_keep_their_keys() {
    let schema = MeasurementSchema {
        name: b"m".to_vec(),
        tag_keys: vec![b"host".to_vec(), b"time".to_vec()],
        fields: vec![
            field("host", FieldType::Float),
            field("host_1", FieldType::Integer),
            field("time", FieldType::String),
        ],
    };
    let columns = Columns::new(&schema);
    let names: Vec<&str> = columns.columns().iter().map(|c| c.name.as_str()).collect();
    // `host_1` is a real field key, so the clashing field `host` skips to `host_2`.
    assert_eq!(
        names,
        ["time", "host", "time_1", "host_2", "host_1", "time_2"]
    );
    let roles: Vec<Role> = columns.columns().iter().map(|c| c.role).collect();
    assert_eq!(
        roles,
        [
            Role::Time,
            Role::Tag,
            Role::Tag,
            Role::Field,
            Role::Field,
            Role::Field
        ]
    );
    let renamed: Vec<&str> = columns
        .columns()
        .iter()
        .filter(|c| c.is_renamed())
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(renamed, ["time_1", "host_2", "time_2"]);

    let metadata: Vec<(String, String)> = columns
        .schema()
        .fields()
        .iter()
        .map(|f| {
            (
                f.metadata()["influxdb.role"].clone(),
                f.metadata()["influxdb.key"].clone(),
            )
        })
        .collect();
    let expected = [
        ("time", "time"),
        ("tag", "host"),
        ("tag", "time"),
        ("field", "host"),
        ("field", "host_1"),
        ("field", "time"),
    ];
    assert_eq!(
        metadata,
        expected
            .map(|(r, k)| (r.to_string(), k.to_string()))
            .to_vec()
    );
    assert_eq!(columns.schema().metadata()["influxdb.measurement"], "m");

    // Data lands in the right columns.
    let rows = RowBatch {
        series: [run("m,host=h,time=t", &[Some(b"h"), Some(b"t")], 1)]
            .into_iter()
            .collect(),
        time: vec![7],
        fields: vec![
            FieldColumn {
                valid: vec![true],
                values: Values::Float(vec![0.5]),
            },
            FieldColumn {
                valid: vec![true],
                values: Values::Integer(vec![9]),
            },
            FieldColumn {
                valid: vec![true],
                values: strings(&[b"then"]),
            },
        ],
    };
    let batch = influx_tsm_arrow::record_batch(&columns, &rows).unwrap();
    assert_eq!(tag_values(&batch, 1), [Some("h".to_string())]);
    assert_eq!(tag_values(&batch, 2), [Some("t".to_string())]);
    assert_eq!(
        batch
            .column_by_name("host_2")
            .unwrap()
            .as_primitive::<Float64Type>()
            .value(0),
        0.5
    );
    assert_eq!(
        batch
            .column_by_name("host_1")
            .unwrap()
            .as_primitive::<Int64Type>()
            .value(0),
        9
    );
    assert_eq!(
        batch
            .column_by_name("time_2")
            .unwrap()
            .as_string::<i32>()
            .value(0),
        "then"
    );
}

#[test]
fn non_utf8_is_replaced_and_counted() {
    let schema = MeasurementSchema {
        name: b"m\xff".to_vec(),
        tag_keys: vec![b"k\xfe".to_vec()],
        fields: vec![
            field("s", FieldType::String),
            field(b"s\xff", FieldType::Float),
        ],
    };
    let rows = RowBatch {
        series: [
            run("a", &[Some(b"ok")], 1),
            run("b", &[Some(b"bad\xc3")], 2),
        ]
        .into_iter()
        .collect(),
        time: vec![1, 2, 3],
        fields: vec![
            FieldColumn {
                valid: vec![true, true, false],
                values: strings(&[b"fine", b"x\xffy", b"\xff"]),
            },
            FieldColumn {
                valid: vec![true; 3],
                values: Values::Float(vec![1.0, 2.0, 3.0]),
            },
        ],
    };
    let columns = Columns::new(&schema);
    let mut stats = Stats::default();
    let batch = influx_tsm_arrow::record_batch_counted(&columns, &rows, &mut stats).unwrap();
    // One non-null string replaced (the invalid placeholder under a null is not counted);
    // two rows of a tag value replaced.
    assert_eq!(stats.replaced_field_values, 1);
    assert_eq!(stats.replaced_tag_values, 2);
    let s = batch.column(2).as_string::<i32>();
    assert_eq!(s.value(0), "fine");
    assert_eq!(s.value(1), "x\u{FFFD}y");
    assert!(s.is_null(2));
    assert_eq!(tag_values(&batch, 1)[1].as_deref(), Some("bad\u{FFFD}"));

    // Keys that are not UTF-8: lossy names, exact hex in the metadata.
    let names: Vec<&str> = columns.columns().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["time", "k\u{FFFD}", "s", "s\u{FFFD}"]);
    let tag = columns.schema().field(1).metadata();
    assert_eq!(tag["influxdb.key_hex"], "6bfe");
    assert!(
        !columns
            .schema()
            .field(2)
            .metadata()
            .contains_key("influxdb.key_hex")
    );
    assert_eq!(
        columns.schema().metadata()["influxdb.measurement_hex"],
        "6dff"
    );
}

#[test]
fn lossy_names_that_collide_are_made_distinct() {
    let schema = MeasurementSchema {
        name: b"m".to_vec(),
        tag_keys: vec![],
        fields: vec![
            field(b"a\xfe", FieldType::Float),
            field(b"a\xff", FieldType::Float),
        ],
    };
    let columns = Columns::new(&schema);
    let names: Vec<&str> = columns.columns().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["time", "a\u{FFFD}", "a\u{FFFD}_1"]);
}

#[test]
fn owned_and_borrowed_conversions_agree() {
    let (schema, rows) = weather();
    let columns = Columns::new(&schema);
    let borrowed = influx_tsm_arrow::record_batch(&columns, &rows).unwrap();
    let owned = influx_tsm_arrow::into_record_batch(&columns, rows, &mut Stats::default()).unwrap();
    assert_eq!(borrowed, owned);
}

/// Capacities of the time column and the numeric field columns (`count`, `rain`, `temp`).
fn capacities(rows: &RowBatch) -> [usize; 4] {
    let cap = |v: &Values| match v {
        Values::Float(v) => v.capacity(),
        Values::Integer(v) => v.capacity(),
        Values::Unsigned(v) => v.capacity(),
        _ => 0,
    };
    [
        rows.time.capacity(),
        cap(&rows.fields[0].values),
        cap(&rows.fields[3].values),
        cap(&rows.fields[4].values),
    ]
}

#[test]
fn reclaim_takes_back_buffers_nothing_else_holds() {
    let (schema, mut rows) = weather();
    let columns = Columns::new(&schema);
    let owned = rows.take();
    assert_eq!(capacities(&rows), [0; 4]);
    let batch =
        influx_tsm_arrow::into_record_batch(&columns, owned, &mut Stats::default()).unwrap();
    influx_tsm_arrow::reclaim(batch, &mut rows);
    assert!(
        capacities(&rows).iter().all(|c| *c >= 5),
        "{:?}",
        capacities(&rows)
    );
    assert!(rows.is_empty() && rows.fields.iter().all(|f| f.values.is_empty()));

    // A column still held elsewhere stays where it is, intact.
    let (_, full) = weather();
    let mut into = RowBatch::new(&schema);
    let batch = influx_tsm_arrow::into_record_batch(&columns, full, &mut Stats::default()).unwrap();
    let temp = batch.column(7).clone();
    influx_tsm_arrow::reclaim(batch, &mut into);
    let caps = capacities(&into);
    assert!(caps[0] >= 5 && caps[1] >= 5 && caps[2] >= 5, "{caps:?}");
    assert_eq!(caps[3], 0, "the held float column must not be taken back");
    assert_eq!(
        temp.as_primitive::<Float64Type>().values(),
        &[21.5, -0.0, f64::INFINITY, 0.0, 1e300]
    );

    // A batch of another shape changes nothing.
    let mut other = RowBatch::new(&MeasurementSchema {
        name: b"m".to_vec(),
        tag_keys: vec![],
        fields: vec![field("v", FieldType::Boolean)],
    });
    let (_, full) = weather();
    let batch = influx_tsm_arrow::into_record_batch(&columns, full, &mut Stats::default()).unwrap();
    influx_tsm_arrow::reclaim(batch, &mut other);
    assert!(other.is_empty());
}

#[test]
fn empty_batches_and_measurements_without_tags() {
    let schema = MeasurementSchema {
        name: b"m".to_vec(),
        tag_keys: vec![],
        fields: vec![field("v", FieldType::Boolean)],
    };
    let columns = Columns::new(&schema);
    let batch = influx_tsm_arrow::record_batch(&columns, &RowBatch::new(&schema)).unwrap();
    assert_eq!(batch.num_rows(), 0);
    assert_eq!(batch.num_columns(), 2);
}

#[test]
fn a_tag_no_series_has_is_all_null() {
    let schema = MeasurementSchema {
        name: b"m".to_vec(),
        tag_keys: vec![b"t".to_vec()],
        fields: vec![field("v", FieldType::Float)],
    };
    let rows = RowBatch {
        series: [run("m", &[None], 2)].into_iter().collect(),
        time: vec![1, 2],
        fields: vec![FieldColumn {
            valid: vec![true; 2],
            values: Values::Float(vec![1.0, 2.0]),
        }],
    };
    let batch = influx_tsm_arrow::record_batch(&Columns::new(&schema), &rows).unwrap();
    assert_eq!(batch.column(1).null_count(), 2);
}

#[test]
fn shape_errors() {
    let (schema, rows) = weather();
    let columns = Columns::new(&schema);

    let mut short_run = rows.clone();
    short_run.series = rows
        .series
        .iter()
        .map(|r| SeriesRun {
            rows: 2,
            ..r.to_owned()
        })
        .collect();
    assert!(matches!(
        influx_tsm_arrow::record_batch(&columns, &short_run),
        Err(Error::Shape(_))
    ));

    let mut wrong_type = rows.clone();
    wrong_type.fields[0].values = Values::Integer(vec![0; 5]);
    let err = influx_tsm_arrow::record_batch(&columns, &wrong_type).unwrap_err();
    assert_eq!(
        err.to_string(),
        "row batch does not match its schema: field \"count\" holds integer values, schema says unsigned"
    );

    let mut short_valid = rows.clone();
    short_valid.fields[2].valid.pop();
    assert!(matches!(
        influx_tsm_arrow::record_batch(&columns, &short_valid),
        Err(Error::Shape(_))
    ));

    let mut missing_tag = rows.clone();
    missing_tag.series = rows
        .series
        .iter()
        .map(|r| {
            let mut run = r.to_owned();
            run.tags.pop();
            run
        })
        .collect();
    assert!(matches!(
        influx_tsm_arrow::record_batch(&columns, &missing_tag),
        Err(Error::Shape(_))
    ));
}

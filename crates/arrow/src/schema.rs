//! A measurement's columns: names, roles, types and the Arrow schema they make.
//!
//! Column order is `time`, then one column per tag key, then one per field key, each
//! group sorted bytewise by key (the order [`MeasurementSchema`] already has).
//!
//! Names never clash. The `time` column is always `time`; a tag takes its key as name; a
//! field takes its key unless a tag (or `time`) took it already. A column whose wanted
//! name is taken gets `name_1`, `name_2`, ... (InfluxQL's precedent), choosing the
//! smallest suffix that is neither taken nor wanted by another column, so renaming one
//! column never pushes another off its own key. Every column carries its role and
//! original key as Arrow field metadata, so a reader can always tell a renamed field
//! from a tag.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use influx_tsm_shard::FieldType;
use influx_tsm_shard::rows::MeasurementSchema;

/// Field metadata key: the column's role, `time`, `tag` or `field`.
pub const META_ROLE: &str = "influxdb.role";
/// Field metadata key: the column's original InfluxDB key (`time` for the time column).
/// Keys that are not UTF-8 appear with U+FFFD replacements here; see [`META_KEY_HEX`].
pub const META_KEY: &str = "influxdb.key";
/// Field metadata key present only when the original key is not valid UTF-8: the key's
/// exact bytes in lowercase hex.
pub const META_KEY_HEX: &str = "influxdb.key_hex";
/// Field metadata key of field columns: the InfluxDB type of the column's values
/// (`float`, `integer`, `unsigned`, `string` or `boolean`).
pub const META_TYPE: &str = "influxdb.type";
/// Field metadata key present only on a column that holds values of other stored types
/// cast to its own ([`TypeConflicts::Float`](crate::TypeConflicts::Float) or
/// [`TypeConflicts::String`](crate::TypeConflicts::String)): those types, comma-separated.
pub const META_CAST_FROM: &str = "influxdb.cast_from";
/// Schema metadata key: the measurement name (lossy when not UTF-8).
pub const META_MEASUREMENT: &str = "influxdb.measurement";
/// Schema metadata key present only when the measurement name is not valid UTF-8: its
/// exact bytes in lowercase hex.
pub const META_MEASUREMENT_HEX: &str = "influxdb.measurement_hex";

/// The Arrow type of tag columns: dictionary-encoded strings.
pub fn tag_data_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// The Arrow type of the time column: nanoseconds since the epoch, in UTC.
pub fn time_data_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

/// The Arrow type of a field of `field_type`.
pub fn field_data_type(field_type: FieldType) -> DataType {
    match field_type {
        FieldType::Float => DataType::Float64,
        FieldType::Integer => DataType::Int64,
        FieldType::Unsigned => DataType::UInt64,
        FieldType::Boolean => DataType::Boolean,
        FieldType::String => DataType::Utf8,
    }
}

/// What a column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Role {
    /// The point's timestamp.
    Time,
    /// A tag value of the point's series.
    Tag,
    /// A field value of the point.
    Field,
}

impl Role {
    /// `time`, `tag` or `field`: the value of the [`META_ROLE`] metadata.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Time => "time",
            Role::Tag => "tag",
            Role::Field => "field",
        }
    }
}

/// One column of a measurement's record batches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// The Arrow column name: the key, or the key with a `_N` suffix after a clash.
    pub name: String,
    /// What the column holds.
    pub role: Role,
    /// The original key, exactly as stored (`time` for the time column).
    pub key: Vec<u8>,
    /// The field's type, for [`Role::Field`] columns.
    pub field_type: Option<FieldType>,
}

impl Column {
    /// Whether the column's name differs from its key (a clash, or a key that is not
    /// UTF-8).
    pub fn is_renamed(&self) -> bool {
        self.name.as_bytes() != self.key.as_slice()
    }
}

/// The columns of one measurement of one shard, and the Arrow schema they make.
#[derive(Clone, Debug)]
pub struct Columns {
    schema: SchemaRef,
    measurement: Vec<u8>,
    columns: Vec<Column>,
    tag_count: usize,
}

impl Columns {
    /// The columns for `measurement`: `time`, its tags, its fields.
    pub fn new(measurement: &MeasurementSchema) -> Columns {
        let fields = measurement
            .fields
            .iter()
            .map(|f| FieldSpec {
                key: f.key.clone(),
                field_type: f.field_type,
                derived_name: None,
                cast_from: Vec::new(),
            })
            .collect();
        Columns::build(&measurement.name, &measurement.tag_keys, fields)
    }

    /// The columns `time`, one per tag key, one per field spec, in that order.
    pub(crate) fn build(
        measurement: &[u8],
        tag_keys: &[Vec<u8>],
        fields: Vec<FieldSpec>,
    ) -> Columns {
        let mut wanted: Vec<(String, bool)> = Vec::with_capacity(1 + tag_keys.len() + fields.len());
        wanted.push(("time".to_string(), true));
        for key in tag_keys {
            wanted.push((String::from_utf8_lossy(key).into_owned(), true));
        }
        for field in &fields {
            wanted.push(match &field.derived_name {
                Some(name) => (name.clone(), false),
                None => (String::from_utf8_lossy(&field.key).into_owned(), true),
            });
        }
        let mut names = assign_names(&wanted).into_iter();
        let mut next_name = || names.next().expect("one name per column");
        let mut columns = Vec::with_capacity(wanted.len());
        columns.push(Column {
            name: next_name(),
            role: Role::Time,
            key: b"time".to_vec(),
            field_type: None,
        });
        for key in tag_keys {
            columns.push(Column {
                name: next_name(),
                role: Role::Tag,
                key: key.clone(),
                field_type: None,
            });
        }
        let mut arrow_fields: Vec<Field> = columns.iter().map(|c| arrow_field(c, &[])).collect();
        for spec in fields {
            let column = Column {
                name: next_name(),
                role: Role::Field,
                key: spec.key,
                field_type: Some(spec.field_type),
            };
            arrow_fields.push(arrow_field(&column, &spec.cast_from));
            columns.push(column);
        }
        let mut metadata = HashMap::new();
        metadata.insert(
            META_MEASUREMENT.to_string(),
            String::from_utf8_lossy(measurement).into_owned(),
        );
        if std::str::from_utf8(measurement).is_err() {
            metadata.insert(META_MEASUREMENT_HEX.to_string(), hex(measurement));
        }
        Columns {
            schema: Arc::new(Schema::new_with_metadata(arrow_fields, metadata)),
            measurement: measurement.to_vec(),
            columns,
            tag_count: tag_keys.len(),
        }
    }

    /// The Arrow schema of the record batches.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The measurement name, as stored.
    pub fn measurement(&self) -> &[u8] {
        &self.measurement
    }

    /// Every column, in schema order: time, tags, fields.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The time column.
    pub fn time(&self) -> &Column {
        &self.columns[0]
    }

    /// The tag columns, aligned with [`MeasurementSchema::tag_keys`].
    pub fn tags(&self) -> &[Column] {
        &self.columns[1..1 + self.tag_count]
    }

    /// The field columns, aligned with [`MeasurementSchema::fields`].
    pub fn fields(&self) -> &[Column] {
        &self.columns[1 + self.tag_count..]
    }
}

/// What one field column is built from.
pub(crate) struct FieldSpec {
    /// The field key.
    pub(crate) key: Vec<u8>,
    /// The column's type.
    pub(crate) field_type: FieldType,
    /// The wanted name when it is not the key: another type's column of a key stored with
    /// several types.
    pub(crate) derived_name: Option<String>,
    /// Stored types cast to `field_type` in this column.
    pub(crate) cast_from: Vec<FieldType>,
}

/// Gives each wanted name a distinct one, in order; see the module docs. A name that is
/// not a key of its own (`false`: a derived name such as `key_string`) gives way to every
/// key: those are placed first, so a derived name never pushes a key off its own name.
fn assign_names(wanted: &[(String, bool)]) -> Vec<String> {
    let reserved: HashSet<&str> = wanted.iter().map(|(w, _)| w.as_str()).collect();
    let mut taken: HashSet<String> = HashSet::with_capacity(wanted.len());
    let mut names = vec![String::new(); wanted.len()];
    let order = (0..wanted.len())
        .filter(|&i| wanted[i].1)
        .chain((0..wanted.len()).filter(|&i| !wanted[i].1));
    for i in order {
        let want = &wanted[i].0;
        let name = if taken.contains(want) {
            (1u64..)
                .map(|n| format!("{want}_{n}"))
                .find(|c| !taken.contains(c) && !reserved.contains(c.as_str()))
                .expect("some suffix is free")
        } else {
            want.clone()
        };
        taken.insert(name.clone());
        names[i] = name;
    }
    names
}

fn arrow_field(column: &Column, cast_from: &[FieldType]) -> Field {
    let (data_type, nullable) = match column.role {
        Role::Time => (time_data_type(), false),
        Role::Tag => (tag_data_type(), true),
        Role::Field => (
            field_data_type(column.field_type.expect("field columns have a type")),
            true,
        ),
    };
    let mut metadata = HashMap::new();
    metadata.insert(META_ROLE.to_string(), column.role.as_str().to_string());
    metadata.insert(
        META_KEY.to_string(),
        String::from_utf8_lossy(&column.key).into_owned(),
    );
    if std::str::from_utf8(&column.key).is_err() {
        metadata.insert(META_KEY_HEX.to_string(), hex(&column.key));
    }
    if let Some(field_type) = column.field_type {
        metadata.insert(META_TYPE.to_string(), field_type.name().to_string());
    }
    if !cast_from.is_empty() {
        let names: Vec<&str> = cast_from.iter().map(|t| t.name()).collect();
        metadata.insert(META_CAST_FROM.to_string(), names.join(","));
    }
    Field::new(&column.name, data_type, nullable).with_metadata(metadata)
}

/// Lowercase hex of `bytes`, two digits per byte: the workspace's one writer of hex (the
/// metadata of names that are not UTF-8 here; in the export, the hash in a cut file name,
/// `tables.json` and upload records). What [`unhex`] reads back. This is the lowest crate
/// that writes hex, and eight lines do not earn a dependency.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// The bytes of `text`, two hex digits per byte (either case), as [`hex`] writes them;
/// `None` for an odd length or anything but hex digits.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    // `from_str_radix` alone would take a sign (`+f`).
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(wanted: &[&str]) -> Vec<String> {
        assign_names(
            &wanted
                .iter()
                .map(|s| (s.to_string(), true))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn clashes_take_the_first_free_suffix() {
        assert_eq!(names(&["time", "a", "b"]), ["time", "a", "b"]);
        assert_eq!(names(&["time", "a", "a"]), ["time", "a", "a_1"]);
        assert_eq!(
            names(&["time", "time", "a", "time"]),
            ["time", "time_1", "a", "time_2"]
        );
        // `a_1` is someone's own key, so the clashing `a` skips it.
        assert_eq!(
            names(&["time", "a", "a", "a_1"]),
            ["time", "a", "a_2", "a_1"]
        );
    }

    #[test]
    fn derived_names_give_way_to_keys() {
        let wanted = [
            ("time", true),
            ("mem", true),
            ("mem_string", false),
            ("mem_string", true),
        ];
        let wanted: Vec<(String, bool)> = wanted
            .iter()
            .map(|(w, own)| (w.to_string(), *own))
            .collect();
        assert_eq!(
            assign_names(&wanted),
            ["time", "mem", "mem_string_1", "mem_string"]
        );
    }

    #[test]
    fn hex_is_lowercase() {
        assert_eq!(hex(&[0x00, 0xff, 0x1a]), "00ff1a");
    }
}

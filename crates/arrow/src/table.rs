//! One table per measurement: the columns every shard's batches of a measurement share.
//!
//! A shard knows only its own schema of a measurement: the tag keys its series use and
//! each field's type in that shard. InfluxDB 1.x enforces a field's type per shard only,
//! so the same key may hold integers in one shard and floats or strings in another. A
//! [`Table`] is the union over the shards that will be read, fixed before the first
//! batch: every tag key, every field key, and for a key stored with several types the
//! columns [`TypeConflicts`] asks for. Each shard's batches are then brought to it by a
//! [`Projection`]: a column the shard lacks is all null, a value of another stored type
//! goes to its own column or is cast, exactly or not at all.
//!
//! Which type keeps the key's own name follows InfluxQL: across shards, a `SELECT`
//! returns a conflicted field with the type of highest precedence, float, then integer,
//! then unsigned, then string, then boolean (influxql `DataType.LessThan`, applied by
//! `tsdb.Shards.FieldDimensions` in InfluxDB 1.8).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray, UInt64Array,
    new_null_array,
};
use arrow_schema::ArrowError;
use influx_tsm_shard::FieldType;
use influx_tsm_shard::rows::{MeasurementSchema, RowBatch};

use crate::error::{Error, Result};
use crate::schema::{Columns, FieldSpec};

/// How a field key stored with several types across shards becomes columns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TypeConflicts {
    /// One column per stored type, no value changed. The type InfluxQL would return
    /// keeps the key as its name; every other type gets a column named `<key>_<type>`
    /// (`mem_string`, `mem_boolean`; `_1`, `_2`, ... appended if that name is a key of
    /// its own).
    #[default]
    Split,
    /// Integers and unsigned integers join the floats in one `Float64` column named by
    /// the key. A value a float cannot hold exactly (beyond 2^53) is left null there and
    /// counted ([`CastStats::inexact`]). Strings and booleans stay in their own columns,
    /// as with [`TypeConflicts::Split`].
    Float,
    /// Every stored type becomes one `Utf8` column named by the key: integers in decimal,
    /// floats in the shortest form that reads back to the same float (`1.5`, `70.0`,
    /// `1e21`), booleans as `true` / `false`. Always exact.
    String,
}

impl TypeConflicts {
    /// `split`, `float` or `string`.
    pub fn name(self) -> &'static str {
        match self {
            TypeConflicts::Split => "split",
            TypeConflicts::Float => "float",
            TypeConflicts::String => "string",
        }
    }

    /// The policy named `name` ([`TypeConflicts::name`]).
    pub fn from_name(name: &str) -> Option<TypeConflicts> {
        Some(match name {
            "split" => TypeConflicts::Split,
            "float" => TypeConflicts::Float,
            "string" => TypeConflicts::String,
            _ => return None,
        })
    }
}

/// InfluxQL's precedence of field types across shards: lower wins.
pub fn influxql_precedence(field_type: FieldType) -> u8 {
    match field_type {
        FieldType::Float => 0,
        FieldType::Integer => 1,
        FieldType::Unsigned => 2,
        FieldType::String => 3,
        FieldType::Boolean => 4,
    }
}

/// Collects a measurement's schemas from shards; [`TableBuilder::finish`] makes the
/// [`Table`].
#[derive(Clone, Debug, Default)]
pub struct TableBuilder {
    measurement: Vec<u8>,
    tag_keys: BTreeSet<Vec<u8>>,
    /// Field key -> stored types, in InfluxQL precedence order.
    fields: BTreeMap<Vec<u8>, Vec<FieldType>>,
}

impl TableBuilder {
    /// An empty table of `measurement`.
    pub fn new(measurement: &[u8]) -> TableBuilder {
        TableBuilder {
            measurement: measurement.to_vec(),
            ..TableBuilder::default()
        }
    }

    /// Adds one shard's schema of the measurement.
    pub fn add(&mut self, schema: &MeasurementSchema) {
        self.tag_keys.extend(schema.tag_keys.iter().cloned());
        for field in &schema.fields {
            self.add_field(&field.key, field.field_type);
        }
    }

    /// Adds a tag key.
    pub fn add_tag_key(&mut self, key: &[u8]) {
        if !self.tag_keys.contains(key) {
            self.tag_keys.insert(key.to_vec());
        }
    }

    /// Adds a field key with one of its stored types.
    pub fn add_field(&mut self, key: &[u8], field_type: FieldType) {
        let types = match self.fields.get_mut(key) {
            Some(types) => types,
            None => self.fields.entry(key.to_vec()).or_default(),
        };
        if !types.contains(&field_type) {
            types.push(field_type);
            types.sort_by_key(|t| influxql_precedence(*t));
        }
    }

    /// The table: `time`, the tag keys, then per field key (sorted) its columns, the
    /// InfluxQL type's first.
    pub fn finish(self, policy: TypeConflicts) -> Table {
        let mut specs = Vec::new();
        let mut fields = Vec::new();
        for (key, stored) in self.fields {
            for (i, (field_type, from)) in columns_of(&stored, policy).into_iter().enumerate() {
                // The first column is the InfluxQL type's, named by the key.
                let derived_name = (i > 0)
                    .then(|| format!("{}_{}", String::from_utf8_lossy(&key), field_type.name()));
                let cast_from: Vec<FieldType> =
                    from.iter().copied().filter(|t| *t != field_type).collect();
                specs.push(FieldSpec {
                    key: key.clone(),
                    field_type,
                    derived_name,
                    cast_from,
                });
                fields.push(TableField {
                    key: key.clone(),
                    column_type: field_type,
                    stored: from,
                });
            }
        }
        let tag_keys: Vec<Vec<u8>> = self.tag_keys.into_iter().collect();
        Table {
            columns: Arc::new(Columns::build(&self.measurement, &tag_keys, specs)),
            tag_keys,
            fields,
            policy,
        }
    }
}

/// The columns of one key stored as `stored` (precedence order): each column's type and
/// the stored types it takes.
fn columns_of(stored: &[FieldType], policy: TypeConflicts) -> Vec<(FieldType, Vec<FieldType>)> {
    if stored.len() < 2 {
        return stored.iter().map(|t| (*t, vec![*t])).collect();
    }
    match policy {
        TypeConflicts::Split => stored.iter().map(|t| (*t, vec![*t])).collect(),
        TypeConflicts::String => vec![(FieldType::String, stored.to_vec())],
        TypeConflicts::Float => {
            let numeric = |t: &FieldType| {
                matches!(
                    t,
                    FieldType::Float | FieldType::Integer | FieldType::Unsigned
                )
            };
            let numbers: Vec<FieldType> = stored.iter().copied().filter(numeric).collect();
            let mut columns = Vec::new();
            match numbers.as_slice() {
                [] => {}
                [one] => columns.push((*one, numbers.clone())),
                _ => columns.push((FieldType::Float, numbers.clone())),
            }
            columns.extend(
                stored
                    .iter()
                    .filter(|t| !numeric(t))
                    .map(|t| (*t, vec![*t])),
            );
            columns
        }
    }
}

/// One field column of a [`Table`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableField {
    /// The field key.
    pub key: Vec<u8>,
    /// The column's type.
    pub column_type: FieldType,
    /// The stored types whose values land in this column (`column_type` among them
    /// unless every value is cast).
    pub stored: Vec<FieldType>,
}

/// The columns every batch of one measurement shares, whatever shard it comes from.
#[derive(Clone, Debug)]
pub struct Table {
    columns: Arc<Columns>,
    tag_keys: Vec<Vec<u8>>,
    fields: Vec<TableField>,
    policy: TypeConflicts,
}

impl Table {
    /// The table's columns and Arrow schema.
    pub fn columns(&self) -> &Columns {
        &self.columns
    }

    /// The field columns, aligned with [`Columns::fields`].
    pub fn fields(&self) -> &[TableField] {
        &self.fields
    }

    /// The tag keys, aligned with [`Columns::tags`].
    pub fn tag_keys(&self) -> &[Vec<u8>] {
        &self.tag_keys
    }

    /// The policy the table was built with.
    pub fn policy(&self) -> TypeConflicts {
        self.policy
    }

    /// How a shard's batches of `schema` become this table's.
    ///
    /// # Errors
    /// [`Error::NotInTable`] when the shard has a tag key, or a field key with a stored
    /// type, that the table does not hold: its values would be lost.
    pub fn projection(&self, schema: &MeasurementSchema) -> Result<Projection> {
        let not_in_table = |what: String| Error::NotInTable {
            measurement: String::from_utf8_lossy(self.columns.measurement()).into_owned(),
            what,
        };
        for key in &schema.tag_keys {
            if self.tag_keys.binary_search(key).is_err() {
                return Err(not_in_table(format!(
                    "tag key {:?}",
                    String::from_utf8_lossy(key)
                )));
            }
        }
        for field in &schema.fields {
            let placed = self
                .fields
                .iter()
                .any(|f| f.key == field.key && f.stored.contains(&field.field_type));
            if !placed {
                return Err(not_in_table(format!(
                    "field {:?} of type {}",
                    String::from_utf8_lossy(&field.key),
                    field.field_type.name()
                )));
            }
        }
        let tag_count = schema.tag_keys.len();
        let mut sources = Vec::with_capacity(self.columns.columns().len());
        sources.push(Source::Column(0));
        for key in &self.tag_keys {
            sources.push(match schema.tag_keys.binary_search(key) {
                Ok(i) => Source::Column(1 + i),
                Err(_) => Source::Null,
            });
        }
        for field in &self.fields {
            let found = schema
                .fields
                .binary_search_by(|f| f.key.as_slice().cmp(&field.key))
                .ok()
                .filter(|&i| field.stored.contains(&schema.fields[i].field_type));
            sources.push(match found {
                None => Source::Null,
                Some(i) if schema.fields[i].field_type == field.column_type => {
                    Source::Column(1 + tag_count + i)
                }
                Some(i) => Source::Cast {
                    column: 1 + tag_count + i,
                    to: field.column_type,
                },
            });
        }
        let identity = sources.len() == 1 + tag_count + schema.fields.len()
            && sources
                .iter()
                .enumerate()
                .all(|(i, s)| *s == Source::Column(i));
        Ok(Projection {
            columns: self.columns.clone(),
            sources,
            field_offset: 1 + tag_count,
            identity,
        })
    }
}

/// Where one table column comes from in a shard's batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    /// The shard batch's column, as it is.
    Column(usize),
    /// The shard batch's column, cast.
    Cast { column: usize, to: FieldType },
    /// Nothing: all null.
    Null,
}

/// Values [`Projection::apply`] changed or could not place.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CastStats {
    /// Values cast to another type exactly.
    pub cast: u64,
    /// Values that no value of the column's type equals (an integer beyond 2^53 under
    /// [`TypeConflicts::Float`]): left null in the table.
    pub inexact: u64,
}

impl CastStats {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &CastStats) {
        self.cast += other.cast;
        self.inexact += other.inexact;
    }
}

/// Brings one shard's batches of a measurement to its [`Table`]; see
/// [`Table::projection`].
#[derive(Clone, Debug)]
pub struct Projection {
    columns: Arc<Columns>,
    sources: Vec<Source>,
    /// Index of the shard batch's first field column.
    field_offset: usize,
    identity: bool,
}

impl Projection {
    /// Whether the shard's batches are already the table's (same columns, same types).
    pub fn is_identity(&self) -> bool {
        self.identity
    }

    /// `batch` (in the shard's [`Columns`]) as a batch of the table, counting casts into
    /// `stats`.
    ///
    /// # Errors
    /// When `batch` does not have the shard's columns.
    pub fn apply(&self, batch: &RecordBatch, stats: &mut CastStats) -> Result<RecordBatch> {
        let schema = self.columns.schema().clone();
        if self.identity {
            return Ok(batch.clone().with_schema(schema)?);
        }
        let rows = batch.num_rows();
        let column = |i: usize| {
            (i < batch.num_columns())
                .then(|| batch.column(i).clone())
                .ok_or_else(|| {
                    Error::Shape(format!(
                        "batch has {} columns, the projection reads column {i}",
                        batch.num_columns()
                    ))
                })
        };
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.sources.len());
        for (source, field) in self.sources.iter().zip(schema.fields()) {
            arrays.push(match *source {
                Source::Column(i) => column(i)?,
                Source::Cast { column: i, to } => cast(&column(i)?, to, stats)?,
                Source::Null => new_null_array(field.data_type(), rows),
            });
        }
        Ok(RecordBatch::try_new(schema, arrays)?)
    }

    /// Gives a table batch made by [`Projection::apply`] back to `into` (the shard's
    /// [`RowBatch`]) with [`crate::reclaim`]: the shard's buffers that were moved into the
    /// table batch unchanged are reused for the next batch.
    pub fn reclaim(&self, batch: RecordBatch, into: &mut RowBatch) {
        if self.identity {
            crate::batch::reclaim(batch, into);
            return;
        }
        let (_, arrays, _) = batch.into_parts();
        for (array, source) in arrays.into_iter().zip(&self.sources) {
            match *source {
                Source::Column(0) => crate::batch::put_back(&mut into.time, array),
                Source::Column(i) if i >= self.field_offset => {
                    if let Some(field) = into.fields.get_mut(i - self.field_offset) {
                        crate::batch::put_back_values(&mut field.values, array);
                    }
                }
                _ => {}
            }
        }
    }
}

/// `array` cast to `to`'s Arrow type; values with no exact equal become null and are
/// counted.
fn cast(array: &ArrayRef, to: FieldType, stats: &mut CastStats) -> Result<ArrayRef> {
    let any = array.as_any();
    let present = (array.len() - array.null_count()) as u64;
    let out: ArrayRef = match to {
        FieldType::Float => {
            let values: Vec<Option<f64>> = if let Some(a) = any.downcast_ref::<Int64Array>() {
                a.iter().map(|v| v.and_then(float_of_i64)).collect()
            } else if let Some(a) = any.downcast_ref::<UInt64Array>() {
                a.iter().map(|v| v.and_then(float_of_u64)).collect()
            } else {
                return Err(unsupported(array, to));
            };
            let converted = values.iter().filter(|v| v.is_some()).count() as u64;
            stats.cast += converted;
            stats.inexact += present - converted;
            Arc::new(Float64Array::from(values))
        }
        FieldType::String => {
            let strings: Vec<Option<String>> = if let Some(a) = any.downcast_ref::<Float64Array>() {
                a.iter().map(|v| v.map(|v| format!("{v:?}"))).collect()
            } else if let Some(a) = any.downcast_ref::<Int64Array>() {
                a.iter().map(|v| v.map(|v| v.to_string())).collect()
            } else if let Some(a) = any.downcast_ref::<UInt64Array>() {
                a.iter().map(|v| v.map(|v| v.to_string())).collect()
            } else if let Some(a) = any.downcast_ref::<BooleanArray>() {
                a.iter().map(|v| v.map(|v| v.to_string())).collect()
            } else {
                return Err(unsupported(array, to));
            };
            stats.cast += present;
            Arc::new(StringArray::from(strings))
        }
        _ => return Err(unsupported(array, to)),
    };
    Ok(out)
}

fn unsupported(array: &ArrayRef, to: FieldType) -> Error {
    Error::Arrow(ArrowError::CastError(format!(
        "no cast from {} to {}",
        array.data_type(),
        to.name()
    )))
}

/// `v` as a float, if a float equals it.
fn float_of_i64(v: i64) -> Option<f64> {
    let f = v as f64;
    // 2^63 itself is out of range; `as` saturates, so compare in floats first.
    (f < 9_223_372_036_854_775_808.0 && f as i64 == v).then_some(f)
}

/// `v` as a float, if a float equals it.
fn float_of_u64(v: u64) -> Option<f64> {
    let f = v as f64;
    (f < 18_446_744_073_709_551_616.0 && f as u64 == v).then_some(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use influx_tsm_shard::rows::FieldSchema;

    fn schema(tags: &[&str], fields: &[(&str, FieldType)]) -> MeasurementSchema {
        MeasurementSchema {
            name: b"m".to_vec(),
            tag_keys: tags.iter().map(|t| t.as_bytes().to_vec()).collect(),
            fields: fields
                .iter()
                .map(|(k, t)| FieldSchema {
                    key: k.as_bytes().to_vec(),
                    field_type: *t,
                })
                .collect(),
        }
    }

    fn names(table: &Table) -> Vec<String> {
        table
            .columns()
            .schema()
            .fields()
            .iter()
            .map(|f| format!("{}:{}", f.name(), f.data_type()))
            .collect()
    }

    fn table(policy: TypeConflicts) -> Table {
        let mut b = TableBuilder::new(b"m");
        b.add(&schema(
            &["host"],
            &[("mem", FieldType::Integer), ("ok", FieldType::Boolean)],
        ));
        b.add(&schema(&["dc"], &[("mem", FieldType::String)]));
        b.add(&schema(
            &[],
            &[("mem", FieldType::Float), ("mem", FieldType::Boolean)],
        ));
        b.finish(policy)
    }

    #[test]
    fn split_gives_each_type_a_column_influxql_type_first() {
        assert_eq!(
            names(&table(TypeConflicts::Split)),
            [
                "time:Timestamp(ns, \"UTC\")",
                "dc:Dictionary(Int32, Utf8)",
                "host:Dictionary(Int32, Utf8)",
                "mem:Float64",
                "mem_integer:Int64",
                "mem_string:Utf8",
                "mem_boolean:Boolean",
                "ok:Boolean",
            ]
        );
    }

    #[test]
    fn float_merges_numbers_only() {
        let t = table(TypeConflicts::Float);
        assert_eq!(
            names(&t)[3..],
            [
                "mem:Float64",
                "mem_string:Utf8",
                "mem_boolean:Boolean",
                "ok:Boolean"
            ]
        );
        let mem = &t.columns().schema().fields()[3];
        assert_eq!(mem.metadata()["influxdb.cast_from"], "integer");
        assert_eq!(mem.metadata()["influxdb.type"], "float");
    }

    #[test]
    fn string_merges_everything() {
        assert_eq!(
            names(&table(TypeConflicts::String))[3..],
            ["mem:Utf8", "ok:Boolean"]
        );
    }

    #[test]
    fn a_shard_outside_the_table_is_refused() {
        let t = table(TypeConflicts::Split);
        let err = t
            .projection(&schema(&[], &[("mem", FieldType::Unsigned)]))
            .unwrap_err();
        assert!(matches!(err, Error::NotInTable { .. }), "{err}");
        assert!(t.projection(&schema(&["rack"], &[])).is_err());
    }

    #[test]
    fn casts_are_exact_or_null() {
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![
            Some(1),
            None,
            Some(1 << 53),
            Some((1 << 53) + 1),
            Some(i64::MAX),
            Some(i64::MIN),
        ]));
        let mut stats = CastStats::default();
        let floats = cast(&ints, FieldType::Float, &mut stats).unwrap();
        let floats = floats.as_any().downcast_ref::<Float64Array>().unwrap();
        let got: Vec<Option<f64>> = floats.iter().collect();
        assert_eq!(
            got,
            [
                Some(1.0),
                None,
                Some(9_007_199_254_740_992.0),
                None,
                None,
                Some(-9_223_372_036_854_775_808.0)
            ]
        );
        assert_eq!(
            stats,
            CastStats {
                cast: 3,
                inexact: 2
            }
        );

        let unsigned: ArrayRef = Arc::new(UInt64Array::from(vec![u64::MAX, 1 << 60]));
        let floats = cast(&unsigned, FieldType::Float, &mut stats).unwrap();
        assert_eq!(floats.null_count(), 1);

        let f: ArrayRef = Arc::new(Float64Array::from(vec![
            Some(1.5),
            Some(70.0),
            Some(1e21),
            None,
        ]));
        let s = cast(&f, FieldType::String, &mut CastStats::default()).unwrap();
        let s = s.as_any().downcast_ref::<StringArray>().unwrap();
        let got: Vec<Option<&str>> = s.iter().collect();
        assert_eq!(got, [Some("1.5"), Some("70.0"), Some("1e21"), None]);
        for v in got.iter().flatten() {
            assert!(v.parse::<f64>().is_ok());
        }
    }
}

//! One table per (database, retention policy, measurement) for the whole export.
//!
//! Every Parquet file of a measurement has the same Arrow schema, so the folder
//! `OUT/<db>/<rp>/<measurement>/` reads as one table with any reader's defaults: the
//! union of the tag keys and field keys of every exported shard, a field stored with
//! several types laid out by [`TypeConflicts`]. The tables are made from the shards'
//! indexes before the first file is written ([`crate::export`] opens each shard once for
//! it) and saved in the output's state, so a resumed export writes the rest of the files
//! with the schemas of the first run's.

use std::collections::BTreeMap;
use std::sync::Arc;

use influx_tsm_arrow::{Table, TableBuilder, TypeConflicts};
use influx_tsm_shard::FieldType;
use influx_tsm_shard::rows::MeasurementSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, OutDirError, Result};
use crate::naming::{hex, unhex};

/// (database, retention policy, measurement as stored)
pub type TableKey = (String, String, Vec<u8>);

/// The export's tables.
#[derive(Clone, Debug, Default)]
pub struct Tables {
    policy: TypeConflicts,
    tables: BTreeMap<TableKey, Arc<Table>>,
}

impl Tables {
    /// The tables of the measurements in `schemas` (database, retention policy, a
    /// shard's schema of a measurement), under `policy`.
    pub fn build<'a>(
        policy: TypeConflicts,
        schemas: impl IntoIterator<Item = (&'a str, &'a str, &'a MeasurementSchema)>,
    ) -> Tables {
        let mut builders: BTreeMap<TableKey, TableBuilder> = BTreeMap::new();
        for (database, retention_policy, schema) in schemas {
            builders
                .entry((
                    database.to_string(),
                    retention_policy.to_string(),
                    schema.name.clone(),
                ))
                .or_insert_with(|| TableBuilder::new(&schema.name))
                .add(schema);
        }
        Tables {
            policy,
            tables: builders
                .into_iter()
                .map(|(key, builder)| (key, Arc::new(builder.finish(policy))))
                .collect(),
        }
    }

    /// The table of `measurement` in `database`/`retention_policy`.
    pub fn get(
        &self,
        database: &str,
        retention_policy: &str,
        measurement: &[u8],
    ) -> Option<&Arc<Table>> {
        // BTreeMap lookups need the owned key type; measurements are few per shard.
        self.tables.get(&(
            database.to_string(),
            retention_policy.to_string(),
            measurement.to_vec(),
        ))
    }

    /// Every table, in (database, retention policy, measurement) order.
    pub fn iter(&self) -> impl Iterator<Item = (&TableKey, &Arc<Table>)> {
        self.tables.iter()
    }

    /// The policy the tables were made with.
    pub fn policy(&self) -> TypeConflicts {
        self.policy
    }

    /// The tables as the JSON text the output's state keeps (keys in hex: they are bytes).
    pub(crate) fn to_state(&self) -> Result<String> {
        let saved = SavedTables {
            version: STATE_VERSION,
            type_conflicts: self.policy.name().to_string(),
            tables: self
                .tables
                .iter()
                .map(
                    |((database, retention_policy, measurement), table)| SavedTable {
                        database: database.clone(),
                        retention_policy: retention_policy.clone(),
                        measurement: hex(measurement),
                        tag_keys: table.tag_keys().iter().map(|k| hex(k)).collect(),
                        fields: table
                            .fields()
                            .iter()
                            .flat_map(|f| {
                                f.stored.iter().map(|t| (hex(&f.key), t.name().to_string()))
                            })
                            .collect(),
                    },
                )
                .collect(),
        };
        serde_json::to_string_pretty(&saved).map_err(|source| Error::State {
            what: "cannot write the tables".into(),
            source,
        })
    }

    /// Tables saved by [`Tables::to_state`].
    pub(crate) fn from_state(text: &str) -> Result<Tables> {
        Tables::union_of_states([text])
    }

    /// The union of tables saved by [`Tables::to_state`] (the nodes of a cluster export
    /// each save the tables of their own shards): every tag key, field and stored type of
    /// any of them. They must have been made under one policy.
    pub(crate) fn union_of_states<'a>(texts: impl IntoIterator<Item = &'a str>) -> Result<Tables> {
        let bad = |what: String| Error::OutDir(OutDirError::SavedTables { what });
        let mut policy = None;
        let mut builders: BTreeMap<TableKey, TableBuilder> = BTreeMap::new();
        for text in texts {
            let saved: SavedTables = serde_json::from_str(text).map_err(|source| Error::State {
                what: "cannot parse the saved tables".into(),
                source,
            })?;
            if saved.version != STATE_VERSION {
                return Err(bad(format!(
                    "version {} is not {STATE_VERSION}",
                    saved.version
                )));
            }
            let named = TypeConflicts::from_name(&saved.type_conflicts)
                .ok_or_else(|| bad(format!("unknown policy {:?}", saved.type_conflicts)))?;
            if *policy.get_or_insert(named) != named {
                return Err(bad("tables made under different --type-conflicts".into()));
            }
            for t in saved.tables {
                let measurement =
                    unhex(&t.measurement).ok_or_else(|| bad(t.measurement.clone()))?;
                let builder = builders
                    .entry((t.database, t.retention_policy, measurement.clone()))
                    .or_insert_with(|| TableBuilder::new(&measurement));
                for key in &t.tag_keys {
                    builder.add_tag_key(&unhex(key).ok_or_else(|| bad(key.clone()))?);
                }
                for (key, type_name) in &t.fields {
                    let key = unhex(key).ok_or_else(|| bad(key.clone()))?;
                    let field_type = FieldType::from_name(type_name)
                        .ok_or_else(|| bad(format!("unknown type {type_name:?}")))?;
                    builder.add_field(&key, field_type);
                }
            }
        }
        let policy = policy.unwrap_or_default();
        Ok(Tables {
            policy,
            tables: builders
                .into_iter()
                .map(|(key, builder)| (key, Arc::new(builder.finish(policy))))
                .collect(),
        })
    }

    /// Checks that every schema in `schemas` fits its table: a resumed export must not
    /// meet a tag key, field or type the first run did not see.
    ///
    /// # Errors
    /// [`Error::OutDir`] naming the measurement and what does not fit.
    pub(crate) fn check<'a>(
        &self,
        cluster: bool,
        schemas: impl IntoIterator<Item = (&'a str, &'a str, &'a MeasurementSchema)>,
    ) -> Result<()> {
        for (database, retention_policy, schema) in schemas {
            let changed = |what: String| {
                Error::OutDir(OutDirError::TablesChanged {
                    cluster,
                    database: database.to_string(),
                    retention_policy: retention_policy.to_string(),
                    what,
                })
            };
            match self.get(database, retention_policy, &schema.name) {
                None => {
                    return Err(changed(format!(
                        "has a new measurement {:?}",
                        String::from_utf8_lossy(&schema.name)
                    )));
                }
                Some(table) => {
                    if let Err(err) = table.projection(schema) {
                        return Err(changed(err.to_string()));
                    }
                }
            }
        }
        Ok(())
    }
}

const STATE_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct SavedTables {
    version: u32,
    type_conflicts: String,
    tables: Vec<SavedTable>,
}

#[derive(Serialize, Deserialize)]
struct SavedTable {
    database: String,
    retention_policy: String,
    /// Hex.
    measurement: String,
    /// Hex.
    tag_keys: Vec<String>,
    /// (key in hex, stored type)
    fields: Vec<(String, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use influx_tsm_shard::rows::FieldSchema;

    fn schema(name: &[u8], tags: &[&[u8]], fields: &[(&[u8], FieldType)]) -> MeasurementSchema {
        MeasurementSchema {
            name: name.to_vec(),
            tag_keys: tags.iter().map(|t| t.to_vec()).collect(),
            fields: fields
                .iter()
                .map(|(k, t)| FieldSchema {
                    key: k.to_vec(),
                    field_type: *t,
                })
                .collect(),
        }
    }

    #[test]
    fn saved_tables_read_back_the_same() {
        let a = schema(b"m\xff", &[b"host"], &[(b"v", FieldType::Integer)]);
        let b = schema(
            b"m\xff",
            &[b"dc"],
            &[(b"v", FieldType::String), (b"w\x00", FieldType::Float)],
        );
        let c = schema(b"n", &[], &[(b"x", FieldType::Boolean)]);
        let tables = Tables::build(
            TypeConflicts::Float,
            [("db", "rp", &a), ("db", "rp", &b), ("db", "other", &c)],
        );
        let again = Tables::from_state(&tables.to_state().unwrap()).unwrap();
        assert_eq!(again.policy(), TypeConflicts::Float);
        let keys: Vec<_> = tables.iter().map(|(k, _)| k.clone()).collect();
        let keys_again: Vec<_> = again.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(keys, keys_again);
        for ((_, t), (_, u)) in tables.iter().zip(again.iter()) {
            assert_eq!(t.columns().schema(), u.columns().schema());
            assert_eq!(t.fields(), u.fields());
        }
        again
            .check(false, [("db", "rp", &a), ("db", "rp", &b)])
            .unwrap();
        let new_type = schema(b"m\xff", &[], &[(b"v", FieldType::Boolean)]);
        assert!(matches!(
            again.check(false, [("db", "rp", &new_type)]),
            Err(Error::OutDir(OutDirError::TablesChanged {
                cluster: false,
                ..
            }))
        ));
        assert!(again.check(false, [("db", "elsewhere", &c)]).is_err());
    }

    #[test]
    fn the_union_of_saved_tables_is_the_table_of_all_schemas() {
        let a = schema(b"m", &[b"host"], &[(b"v", FieldType::Integer)]);
        let b = schema(
            b"m",
            &[b"dc"],
            &[(b"v", FieldType::Float), (b"w", FieldType::String)],
        );
        let c = schema(b"n", &[], &[(b"x", FieldType::Boolean)]);
        let policy = TypeConflicts::Split;
        let one = Tables::build(policy, [("db", "rp", &a)])
            .to_state()
            .unwrap();
        let two = Tables::build(policy, [("db", "rp", &b), ("db", "rp2", &c)])
            .to_state()
            .unwrap();
        let union = Tables::union_of_states([one.as_str(), two.as_str()]).unwrap();
        let all = Tables::build(
            policy,
            [("db", "rp", &a), ("db", "rp", &b), ("db", "rp2", &c)],
        );
        assert_eq!(union.to_state().unwrap(), all.to_state().unwrap());
        let float = Tables::build(TypeConflicts::Float, [("db", "rp", &a)])
            .to_state()
            .unwrap();
        assert!(Tables::union_of_states([one.as_str(), float.as_str()]).is_err());
    }
}

//! Fields stored with different types in different shards (legal in InfluxDB 1.x: the
//! type is enforced per shard only). Both `export` and `inspect` list them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

/// A field stored with different types in different shards of one retention policy.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Conflict {
    /// The database.
    pub database: String,
    /// The retention policy.
    pub retention_policy: String,
    /// The measurement.
    pub measurement: String,
    /// The field key.
    pub field: String,
    /// Each type, with the shards that hold it.
    pub types: BTreeMap<String, Vec<u64>>,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} measurement {:?} field {:?}: ",
            self.database, self.retention_policy, self.measurement, self.field
        )?;
        for (i, (ty, shards)) in self.types.iter().enumerate() {
            let ids: Vec<String> = shards.iter().map(u64::to_string).collect();
            let sep = if i == 0 { "" } else { "; " };
            write!(f, "{sep}{ty} in shards {}", ids.join(", "))?;
        }
        Ok(())
    }
}

/// (database, retention policy, measurement, field)
type FieldKey = (String, String, String, String);

/// Collects (field, type, shard) observations; [`Conflicts::finish`] keeps the fields seen
/// with more than one type.
#[derive(Debug, Default)]
pub struct Conflicts {
    /// field -> type -> shards
    types: BTreeMap<FieldKey, BTreeMap<String, BTreeSet<u64>>>,
}

impl Conflicts {
    /// Records that `shard` stores `field` of `measurement` as `field_type`.
    pub fn add(
        &mut self,
        database: &str,
        retention_policy: &str,
        measurement: &str,
        field: &str,
        field_type: &str,
        shard: u64,
    ) {
        let key = (
            database.to_owned(),
            retention_policy.to_owned(),
            measurement.to_owned(),
            field.to_owned(),
        );
        self.types
            .entry(key)
            .or_default()
            .entry(field_type.to_owned())
            .or_default()
            .insert(shard);
    }

    /// Every field with more than one type, in (database, retention policy, measurement,
    /// field) order.
    pub fn finish(self) -> Vec<Conflict> {
        self.types
            .into_iter()
            .filter(|(_, t)| t.len() > 1)
            .map(
                |((database, retention_policy, measurement, field), t)| Conflict {
                    database,
                    retention_policy,
                    measurement,
                    field,
                    types: t
                        .into_iter()
                        .map(|(ty, shards)| (ty, shards.into_iter().collect()))
                        .collect(),
                },
            )
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_type_with_its_shards() {
        let mut c = Conflicts::default();
        c.add("db", "rp", "cpu", "v", "integer", 1);
        c.add("db", "rp", "cpu", "w", "float", 1);
        c.add("db", "rp", "cpu", "v", "float", 2);
        c.add("db", "rp", "cpu", "w", "float", 2);
        c.add("db", "rp", "cpu", "v", "integer", 3);
        c.add("db", "rp", "mem", "v", "string", 3);
        let found = c.finish();
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].to_string(),
            "db/rp measurement \"cpu\" field \"v\": float in shards 2; integer in shards 1, 3"
        );
    }
}

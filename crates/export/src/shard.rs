//! A shard of the input: where its files are, and opening it for export.

use std::fmt;

use influx_tsm_backup::BackupShard;
use influx_tsm_shard::layout::ShardLocation;

pub(crate) mod open;

/// `db/rp/id`, for messages.
pub fn shard_name(loc: &ShardLocation) -> String {
    format!("{}/{}/{}", loc.database, loc.retention_policy, loc.id)
}

/// Where a planned shard's files are: the one seam between a live directory and a
/// backup, shared by the plan and the writers.
#[derive(Clone, Debug)]
pub enum ShardInput {
    /// The files its [`ShardLocation`] lists, in a data (and WAL) folder.
    Folder,
    /// Members of a backup's archives, read when the shard is opened.
    Backup(BackupShard),
}

/// A shard's identity wherever it is named (the plan, the output's records, a cluster's
/// deal): ids are unique only within a database's retention policy in a dump of several
/// servers, so the id alone is not enough. Ordered by database, retention policy, id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShardId {
    /// The database.
    pub database: String,
    /// The retention policy.
    pub retention_policy: String,
    /// The shard id.
    pub id: u64,
}

impl ShardId {
    /// The shard `database/retention_policy/id`.
    pub fn new(database: &str, retention_policy: &str, id: u64) -> ShardId {
        ShardId {
            database: database.to_string(),
            retention_policy: retention_policy.to_string(),
            id,
        }
    }

    /// The shard at `loc`.
    pub fn of(loc: &ShardLocation) -> ShardId {
        ShardId::new(&loc.database, &loc.retention_policy, loc.id)
    }
}

impl fmt::Display for ShardId {
    /// `db/rp/id`, for messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.database, self.retention_policy, self.id)
    }
}

//! The shards of a plan: those exported here, those another node or process exports,
//! and those on disk the catalogue does not list.

use influx_tsm_shard::layout::ShardLocation;

use serde::Serialize;

use crate::shard::{ShardId, ShardInput};

/// A shard to export.
#[derive(Debug)]
pub struct PlannedShard {
    /// Where its files are.
    pub location: ShardLocation,
    /// Bytes of its TSM, tombstone and WAL files (of its archives, for a backup).
    pub bytes: u64,
    /// Where its files are.
    pub input: ShardInput,
    /// The start of its shard group's time span (nanoseconds), from the server's
    /// catalogue; `None` without one. Orders the shards of a group.
    pub start_time: Option<i64>,
}

/// A shard of a cluster export that another node writes.
#[derive(Clone, Debug, Serialize)]
pub struct ElsewhereShard {
    /// Database.
    pub database: String,
    /// Retention policy.
    pub retention_policy: String,
    /// Shard id.
    pub shard: u64,
    /// The node that writes it.
    pub node: String,
    /// Whether this node holds it too (a replica it leaves to `node`).
    pub held_here: bool,
}

impl ElsewhereShard {
    /// Its (database, retention policy, shard id).
    pub fn key(&self) -> ShardId {
        ShardId::new(&self.database, &self.retention_policy, self.shard)
    }
}

/// A shard folder the server's catalogue (`meta/meta.db`) does not list as live.
#[derive(Clone, Debug, Serialize)]
pub struct UnlistedShard {
    /// Database folder.
    pub database: String,
    /// Retention policy folder.
    pub retention_policy: String,
    /// Shard id.
    pub shard: u64,
    /// `deleted` (its shard group was dropped) or `unlisted` (never in the catalogue).
    pub status: &'static str,
}

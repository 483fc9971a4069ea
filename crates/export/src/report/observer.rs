//! Progress reporting: the export calls an [`Observer`] from its workers; the caller
//! decides what to show (the `influx-tsm` binary draws a progress bar).

use influx_tsm_shard::layout::ShardLocation;

/// Told about the export's progress, from any worker thread; every method has a default
/// that does nothing, so an implementation picks what it needs. Calls must be cheap: they
/// happen once per written batch (tens of thousands of rows).
pub trait Observer: Sync {
    /// What will be exported: `shards` shards of `bytes` input bytes, shards kept from an
    /// earlier run included (a cluster node's share, once it has taken it). Called once,
    /// when an export starts, before any other call.
    fn planned(&self, shards: usize, bytes: u64) {
        let _ = (shards, bytes);
    }

    /// The schemas of a shard's measurements were read (its indexes scanned). A Parquet
    /// export reads those of every shard of its plan before it writes the first file, so
    /// that each measurement has one schema in all its files: this is called as each is
    /// read (also for a shard kept from an earlier run), before any other call. A
    /// line-protocol export needs no schemas and never calls it.
    fn schema_read(&self, shard: &ShardLocation) {
        let _ = shard;
    }

    /// A shard is about to be read (not called for shards kept from an earlier run).
    fn shard_started(&self, shard: &ShardLocation) {
        let _ = shard;
    }

    /// `values` more field values were written.
    fn values_written(&self, values: u64) {
        let _ = values;
    }

    /// A shard of `bytes` input bytes is finished (also one kept from an earlier run).
    fn shard_finished(&self, shard: &ShardLocation, bytes: u64) {
        let _ = (shard, bytes);
    }
}

/// Observes nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Observer for NoProgress {}

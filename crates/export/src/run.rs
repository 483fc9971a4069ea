//! One export run's shared state, which every writer of a group reads: the options, the
//! output, the observer, the cancel flag and first error, the tables, and the shards
//! opened while making the tables; and how a worker's failure is judged.

use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use influx_tsm_shard::layout::ShardLocation;
use influx_tsm_shard::rows::MeasurementSchema;
use influx_tsm_shard::shard::Shard;

use crate::destination::state::OutDir;
use crate::error::{Error, InternalError, Result};
use crate::plan::Plan;
use crate::plan::options::Options;
use crate::plan::shards::PlannedShard;
use crate::plan::tables::Tables;
use crate::report::observer::Observer;
use crate::shard::open::{OpenedShard, open_shard};
use crate::shard::shard_name;

pub(crate) struct Shared<'a> {
    pub(crate) config: &'a Options,
    pub(crate) out: &'a OutDir,
    pub(crate) progress: &'a dyn Observer,
    pub(crate) cancel: AtomicBool,
    pub(crate) first_error: Mutex<Option<Error>>,
    /// Each measurement's one schema (Parquet only).
    pub(crate) tables: &'a Tables,
    /// Shards opened while making the tables and kept for their export, by position in
    /// `Plan::shards`.
    pub(crate) opened: Vec<Mutex<Option<OpenedShard>>>,
    /// The measurements each shard held when the tables were made (those the filters
    /// select), by position in `Plan::shards`; empty for line protocol.
    pub(crate) measurements: Vec<Vec<Vec<u8>>>,
}

/// Why a measurement stopped.
pub(crate) enum Failure {
    /// Damaged or unreadable input.
    Data(influx_tsm_shard::Error),
    /// Anything else (output I/O, a bug).
    Other(Error),
    /// Another worker failed.
    Cancelled,
}

impl Failure {
    /// Whether the failure stops the shard: anything but damaged data under
    /// `skip_corrupt` (which is recorded and skipped) or a cancellation.
    pub(crate) fn is_fatal(&self, skip_corrupt: bool) -> bool {
        match self {
            Failure::Data(err) => !(skip_corrupt && err.is_corruption()),
            Failure::Other(_) => true,
            Failure::Cancelled => false,
        }
    }

    /// The error of a fatal failure in measurement `measurement` of `shard`.
    pub(crate) fn into_error(self, shard: String, measurement: String) -> Error {
        match self {
            Failure::Data(err) => Error::Input(err).in_shard(shard, Some(measurement)),
            Failure::Other(err) => err.in_shard(shard, Some(measurement)),
            Failure::Cancelled => Error::Internal(InternalError::Impossible(
                "a cancelled measurement has no error",
            )),
        }
    }
}

impl From<Error> for Failure {
    fn from(err: Error) -> Failure {
        Failure::Other(err)
    }
}
/// Opens `planned` and reads the schemas of its measurements that the filters select;
/// the shard stays open for its export.
pub(crate) fn shard_schemas(
    config: &Options,
    planned: &PlannedShard,
) -> Result<(Vec<MeasurementSchema>, OpenedShard)> {
    let loc = &planned.location;
    let opened = open_shard(config, planned)
        .map_err(|err| Error::Input(err).in_shard(shard_name(loc), None))?;
    let schemas = opened
        .shard
        .iter()
        .flat_map(Shard::measurements)
        .filter(|m| config.filter.measurement(&m.name))
        .cloned()
        .collect();
    Ok((schemas, opened))
}

/// Runs `work` for the shard at `loc`, turning a panic (a bug in a decoder, say) into an
/// error naming the shard, so the other workers stop cleanly and the exit status is 1.
pub(crate) fn guarded<T>(loc: &ShardLocation, work: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        Err(Error::Internal(InternalError::Panic {
            shard: shard_name(loc),
            message: Some(message),
        }))
    })
}

/// The shard at `member` of `plan.shards`, opened: the one kept open when the tables were made,
/// or opened now.
pub(crate) fn take_opened(ctx: &Shared<'_>, plan: &Plan, member: usize) -> Result<OpenedShard> {
    let kept = ctx
        .opened
        .get(member)
        .and_then(|slot| slot.lock().unwrap_or_else(|e| e.into_inner()).take());
    match kept {
        Some(opened) => Ok(opened),
        None => {
            let planned = &plan.shards[member];
            open_shard(ctx.config, planned)
                .map_err(|err| Error::Input(err).in_shard(shard_name(&planned.location), None))
        }
    }
}

//! Opening a planned shard for export: under `skip_corrupt`, what cannot be read is
//! recorded instead of stopping the export.

use influx_tsm_arrow::open_on_pool;
use influx_tsm_backup::ReadOptions;
use influx_tsm_shard::shard::{Problem, ProblemKind, Shard};
use influx_tsm_shard::source::ShardFiles;

use crate::destination::records::SkipRecord;
use crate::plan::options::Options;
use crate::plan::shards::PlannedShard;
use crate::shard::ShardInput;

/// A shard opened for export, with what it leaves out.
pub struct OpenedShard {
    /// The shard, unless it could not be opened at all (`--skip-corrupt`).
    pub shard: Option<Shard>,
    /// Damaged data left out (`--skip-corrupt`).
    pub skipped: Vec<SkipRecord>,
    /// Data left out as InfluxDB would leave it out.
    pub warnings: Vec<SkipRecord>,
    /// Listings of its folder given up because a running influxd changed its files
    /// while they were listed and mapped ([`ShardFiles::map_live`]).
    pub relisted: u32,
}

/// Listings of a shard's folder tried before giving up on a folder that keeps changing
/// (waiting 20, 40, 80, 160 and 320 ms between them).
pub const LISTING_ATTEMPTS: u32 = 6;

/// Opens a shard. A damaged file stops it, unless `--skip-corrupt`: then the damaged file
/// (or, for damage found while streaming, the damaged block) is left out and recorded, and
/// a shard that cannot be opened at all is recorded as skipped.
///
/// # Errors
/// I/O errors, and damage without `--skip-corrupt`.
pub fn open_shard(
    config: &Options,
    planned: &PlannedShard,
) -> Result<OpenedShard, influx_tsm_shard::Error> {
    let loc = &planned.location;
    let options = config.shard_options();
    let mut relisted = 0;
    let files = match &planned.input {
        ShardInput::Folder => match ShardFiles::map_live(loc, LISTING_ATTEMPTS) {
            Ok((files, listed, again)) => {
                relisted = again;
                Ok((files, listed))
            }
            // The server dropped the shard since the plan (its retention period ended,
            // or a DROP): its data is gone from the server too. Said, not an error.
            Err(err) if err.is_vanished() && !loc.data_dir.exists() => {
                let mut record = SkipRecord::new(loc, None, &err);
                record.error = format!(
                    "the shard's folder {} was removed during the export (influxd dropped \
                     the shard: its retention period ended, or DROP SHARD / DROP DATABASE); \
                     nothing of it is exported",
                    loc.data_dir.display()
                );
                return Ok(OpenedShard {
                    shard: None,
                    skipped: Vec::new(),
                    warnings: vec![record],
                    relisted: 0,
                });
            }
            Err(err) => Err(err),
        },
        ShardInput::Backup(shard) => shard
            .files(&ReadOptions::default())
            .map(|files| (files, loc.clone()))
            .map_err(Into::into),
    };
    let opened = files.and_then(|(files, listed)| open_on_pool(&listed, files, &options));
    match opened {
        Ok(shard) => {
            let (skipped, warnings): (Vec<_>, Vec<_>) = shard
                .problems()
                .iter()
                .partition(|p| p.kind == ProblemKind::Skipped);
            let record = |p: &Problem| SkipRecord::new(loc, None, &p.error);
            Ok(OpenedShard {
                skipped: skipped.into_iter().map(record).collect(),
                warnings: warnings.into_iter().map(record).collect(),
                shard: Some(shard),
                relisted,
            })
        }
        Err(err) if config.skip_corrupt && err.is_corruption() => Ok(OpenedShard {
            shard: None,
            skipped: vec![SkipRecord::new(loc, None, &err)],
            warnings: Vec::new(),
            relisted,
        }),
        Err(err) => Err(err),
    }
}

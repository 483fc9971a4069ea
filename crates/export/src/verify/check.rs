//! Checking the files of an [`Input`] on the caller's rayon pool.

use std::path::Path;

use influx_tsm_backup::{BackupShard, ReadOptions};
use influx_tsm_shard::mmap::MappedFile;
use influx_tsm_shard::verify::{
    Finding, Report, Severity, VerifyOptions, verify_tombstone, verify_tsm, verify_wal,
};
use rayon::prelude::*;

use super::input::file_bytes;
use super::{FileKind, FileReport, Input, VerifyReport};

/// What is checked as one task: a file of a folder, or a backup shard's archives.
enum Task<'a> {
    File(&'a Path, FileKind),
    Archive(&'a BackupShard),
}

/// Checks every file of `input` in parallel on the current rayon pool (run it inside the
/// caller's `ThreadPool::install`). `progress` is told the bytes done, adding up to about
/// [`Input::bytes`]. An [`Input::Export`] has no storage files: its report is empty.
pub fn verify(
    input: &Input,
    options: &VerifyOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> VerifyReport {
    let tasks: Vec<Task<'_>> = match input {
        Input::Export(_) => Vec::new(),
        Input::Backup(shards) => shards.iter().map(Task::Archive).collect(),
        Input::Files(files) => files
            .iter()
            .map(|(path, kind)| Task::File(path, *kind))
            .collect(),
    };
    let files = tasks
        .par_iter()
        // One file per task: files differ in size by orders of magnitude.
        .with_max_len(1)
        .flat_map_iter(|task| {
            let mut counted = 0u64;
            let mut tick = |n: u64| {
                counted += n;
                progress(n);
            };
            let size = match task {
                Task::File(path, _) => file_bytes(path),
                Task::Archive(shard) => shard.bytes(),
            };
            let reports = match task {
                Task::File(path, kind) => vec![verify_file(path, *kind, options, &mut tick)],
                Task::Archive(shard) => verify_archive(shard, options, &mut tick),
            };
            // The checks tell the bytes of blocks; the rest of the file is done too.
            progress(size.saturating_sub(counted));
            reports
        })
        .collect();
    VerifyReport::new(files)
}

/// Checks one file; `progress` is told the bytes of each block checked.
pub fn verify_file(
    path: &Path,
    kind: FileKind,
    options: &VerifyOptions,
    progress: &mut dyn FnMut(u64),
) -> FileReport {
    match MappedFile::open(path) {
        Ok(map) => verify_bytes(path, kind, map.bytes(), options, progress),
        // Listed, then gone: a running influxd replaced it (its data is in the file that
        // replaced it). Not damage; said as a warning.
        Err(err) if err.is_vanished() => {
            let mut file = FileReport::new(path, kind, 0, one(Severity::Warning, err));
            for problem in &mut file.problems {
                problem.message = format!(
                    "{}: vanished while verify ran (a running influxd replaced or removed it); \
                     not checked",
                    problem.message
                );
            }
            file
        }
        Err(err) => FileReport::new(path, kind, 0, one(Severity::Error, err)),
    }
}

/// Checks one file's bytes (a file of a folder, or an archive member).
fn verify_bytes(
    path: &Path,
    kind: FileKind,
    data: &[u8],
    options: &VerifyOptions,
    progress: &mut dyn FnMut(u64),
) -> FileReport {
    let report = match kind {
        FileKind::Tsm => verify_tsm(data, options, progress),
        FileKind::Tombstone => verify_tombstone(data, &options.limits),
        FileKind::Wal => verify_wal(data, &options.limits),
        FileKind::Archive => Report::default(),
    };
    FileReport::new(path, kind, data.len() as u64, report)
}

/// A report holding one finding.
fn one(severity: Severity, error: influx_tsm_shard::Error) -> Report {
    let mut report = Report::default();
    report.findings.push(Finding { severity, error });
    report
}

/// Checks a backup shard's archives (tar checksums and lengths, the gzip stream and its
/// checksum), then each TSM and tombstone member as a file of its own.
fn verify_archive(
    shard: &BackupShard,
    options: &VerifyOptions,
    progress: &mut dyn FnMut(u64),
) -> Vec<FileReport> {
    let path = shard.location().data_dir;
    match shard.members(&ReadOptions::default()) {
        Ok(members) => {
            let mut reports = vec![FileReport {
                items: members.len() as u64,
                ..FileReport::new(&path, FileKind::Archive, shard.bytes(), Report::default())
            }];
            for member in &members {
                let Some(kind) = FileKind::of(member.name()) else {
                    continue;
                };
                reports.push(verify_bytes(
                    member.name(),
                    kind,
                    member.bytes(),
                    options,
                    &mut |_| {},
                ));
            }
            progress(shard.bytes());
            reports
        }
        Err(err) => vec![FileReport::new(
            &path,
            FileKind::Archive,
            shard.bytes(),
            one(Severity::Error, err.into()),
        )],
    }
}

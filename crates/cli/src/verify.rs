//! `influx-tsm verify`: runs [`influx_tsm_shard::verify`] over every TSM, tombstone and WAL file under a
//! path (in parallel, with a progress bar on a terminal) and prints each problem with its
//! file and byte offset.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use influx_tsm_backup::{Backup, BackupShard, ReadOptions};
use influx_tsm_shard::Limits;
use influx_tsm_shard::mmap::MappedFile;
use influx_tsm_shard::verify::{
    Report, Severity, VerifyOptions, verify_tombstone, verify_tsm, verify_wal,
};
use rayon::prelude::*;
use serde::Serialize;

use crate::UsageError;
use crate::args::VerifyArgs;

/// The kinds of file checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// `*.tsm`
    Tsm,
    /// `*.tombstone`
    Tombstone,
    /// `*.wal`
    Wal,
    /// A shard archive of a backup (its tar headers, and the gzip stream of a portable
    /// one); its members are reported as files of their own.
    Archive,
}

impl FileKind {
    /// The kind of `path`, from its name.
    pub fn of(path: &Path) -> Option<FileKind> {
        match path.extension()?.to_str()? {
            "tsm" => Some(FileKind::Tsm),
            "tombstone" => Some(FileKind::Tombstone),
            "wal" => Some(FileKind::Wal),
            _ => None,
        }
    }
}

/// One problem, for printing and JSON.
#[derive(Debug, Serialize)]
pub struct Problem {
    /// `error` or `warning`.
    pub severity: &'static str,
    /// The file.
    pub path: PathBuf,
    /// Byte offset in the file, when known.
    pub offset: Option<u64>,
    /// The composite key, when known (lossy).
    pub key: Option<String>,
    /// The whole message, naming file and offset.
    pub message: String,
}

/// One file's result.
#[derive(Debug, Serialize)]
pub struct FileReport {
    /// The file.
    pub path: PathBuf,
    /// Its kind.
    pub kind: FileKind,
    /// Its size.
    pub bytes: u64,
    /// Keys, records or entries read.
    pub items: u64,
    /// TSM blocks checked.
    pub blocks: u64,
    /// Values counted.
    pub values: u64,
    /// Its problems.
    pub problems: Vec<Problem>,
}

/// The whole run.
#[derive(Debug, Serialize)]
pub struct VerifyReport {
    /// Files checked, in path order.
    pub files: Vec<FileReport>,
    /// Problems that are errors.
    pub errors: usize,
    /// Problems that are warnings.
    pub warnings: usize,
}

/// Every TSM, tombstone and WAL file at or under `path`, sorted.
///
/// # Errors
/// When a folder cannot be listed, or `path` is a file of another kind.
pub fn find_files(path: &Path) -> Result<Vec<(PathBuf, FileKind)>> {
    if path.is_file() {
        let kind = FileKind::of(path).ok_or_else(|| {
            UsageError(format!(
                "{} is not a .tsm, .tombstone or .wal file",
                path.display()
            ))
        })?;
        return Ok(vec![(path.to_path_buf(), kind)]);
    }
    if !path.is_dir() {
        return Err(UsageError(format!("{} does not exist", path.display())).into());
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?
        {
            let entry = entry?;
            let kind = entry.file_type()?;
            let p = entry.path();
            if kind.is_dir() {
                stack.push(p);
            } else if kind.is_file()
                && let Some(k) = FileKind::of(&p)
            {
                out.push((p, k));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// What `verify` checks: the files of a folder, or the shard archives of a backup.
enum Work {
    File(PathBuf, FileKind),
    Archive(BackupShard),
}

impl Work {
    fn bytes(&self) -> u64 {
        match self {
            Work::File(path, _) => std::fs::metadata(path).map_or(0, |m| m.len()),
            Work::Archive(shard) => shard.bytes(),
        }
    }
}

/// Checks one file.
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
            let mut report = Report::default();
            report.findings.push(influx_tsm_shard::verify::Finding {
                severity: Severity::Warning,
                error: err,
            });
            let mut file = file_report(path, kind, 0, report);
            for problem in &mut file.problems {
                problem.message = format!(
                    "{}: vanished while verify ran (a running influxd replaced or removed it); \
                     not checked",
                    problem.message
                );
            }
            file
        }
        Err(err) => file_report(path, kind, 0, findings(err)),
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
    file_report(path, kind, data.len() as u64, report)
}

/// A report holding one error.
fn findings(error: influx_tsm_shard::Error) -> Report {
    let mut report = Report::default();
    report.findings.push(influx_tsm_shard::verify::Finding {
        severity: Severity::Error,
        error,
    });
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
                ..file_report(&path, FileKind::Archive, shard.bytes(), Report::default())
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
        Err(err) => vec![file_report(
            &path,
            FileKind::Archive,
            shard.bytes(),
            findings(err.into()),
        )],
    }
}

fn file_report(path: &Path, kind: FileKind, bytes: u64, report: Report) -> FileReport {
    FileReport {
        path: path.to_path_buf(),
        kind,
        bytes,
        items: report.items,
        blocks: report.blocks,
        values: report.values,
        problems: report
            .findings
            .into_iter()
            .map(|f| {
                let error = f.error.in_file(path);
                Problem {
                    severity: match f.severity {
                        Severity::Error => "error",
                        Severity::Warning => "warning",
                    },
                    path: path.to_path_buf(),
                    offset: error.offset(),
                    key: error.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                    message: error.to_string(),
                }
            })
            .collect(),
    }
}

/// Runs `verify`; returns the exit status (0 clean, 1 damage found).
///
/// # Errors
/// Bad arguments, folders that cannot be listed, output errors.
pub fn run(args: &VerifyArgs) -> Result<u8> {
    if args
        .path
        .join(influx_tsm_export::manifest::MANIFEST_FILE)
        .is_file()
    {
        return run_export_check(args);
    }
    if args.path.join(influx_tsm_export::state::STATE_DIR).is_dir() {
        // An export's state without its manifest: it did not finish. Its files are not
        // input to verify, and "0 files, 0 errors" would say all is well.
        return Err(anyhow::anyhow!(
            "{} is an export that did not finish (it has no {}): run the same export again \
             with --resume to finish it, then verify it",
            args.path.display(),
            influx_tsm_export::manifest::MANIFEST_FILE
        ));
    }
    let work: Vec<Work> = if args.path.is_dir() && Backup::detect(&args.path).is_some() {
        // A damaged catalogue or manifest stops here, naming the file (exit 1).
        let backup = Backup::open(&args.path)?;
        backup.shards.into_iter().map(Work::Archive).collect()
    } else {
        find_files(&args.path)?
            .into_iter()
            .map(|(path, kind)| Work::File(path, kind))
            .collect()
    };
    let options = VerifyOptions::default()
        .decode(!args.no_decode)
        .limits(Limits::default());
    let total: u64 = work.iter().map(Work::bytes).sum();
    let show_bar = std::io::stderr().is_terminal() && !args.quiet && !args.json;
    let bar = show_bar.then(|| {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(4));
        bar.set_style(
            ProgressStyle::with_template(
                "{elapsed_precise} [{wide_bar}] {binary_bytes}/{binary_total_bytes} ETA {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar
    });
    let threads = args
        .threads
        .map(usize::from)
        .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
        .unwrap_or(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .context("cannot start worker threads")?;
    let reports: Vec<FileReport> = pool.install(|| {
        work.par_iter()
            .with_max_len(1)
            .flat_map_iter(|item| {
                let size = item.bytes();
                let mut counted = 0u64;
                let mut tick = |n: u64| {
                    counted += n;
                    if let Some(bar) = &bar {
                        bar.inc(n);
                    }
                };
                let reports = match item {
                    Work::File(path, kind) => vec![verify_file(path, *kind, &options, &mut tick)],
                    Work::Archive(shard) => verify_archive(shard, &options, &mut tick),
                };
                if let Some(bar) = &bar {
                    bar.inc(size.saturating_sub(counted));
                }
                reports
            })
            .collect()
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let count = |s: &str| {
        reports
            .iter()
            .flat_map(|r| &r.problems)
            .filter(|p| p.severity == s)
            .count()
    };
    let report = VerifyReport {
        errors: count("error"),
        warnings: count("warning"),
        files: reports,
    };
    let mut stdout = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut stdout, &report)?;
        writeln!(stdout)?;
    } else {
        write_text(&report, args.quiet, &mut stdout)?;
    }
    stdout.flush()?;
    Ok(if report.errors > 0 { 1 } else { 0 })
}

/// Writes one line per file (unless `quiet`) and per problem, then a total.
pub fn write_text(report: &VerifyReport, quiet: bool, w: &mut impl Write) -> std::io::Result<()> {
    for f in &report.files {
        if !quiet {
            let what = match f.kind {
                FileKind::Tsm => {
                    format!("{} keys, {} blocks, {} values", f.items, f.blocks, f.values)
                }
                FileKind::Tombstone => format!("{} records", f.items),
                FileKind::Wal => format!("{} entries, {} values", f.items, f.values),
                FileKind::Archive => format!("{} members", f.items),
            };
            let state = if f.problems.iter().any(|p| p.severity == "error") {
                "DAMAGED"
            } else {
                "ok"
            };
            writeln!(w, "{}: {state} ({what})", f.path.display())?;
        }
        for p in &f.problems {
            writeln!(w, "{}: {}", p.severity, p.message)?;
        }
    }
    let kinds = |k: FileKind| report.files.iter().filter(|f| f.kind == k).count();
    let archives = match kinds(FileKind::Archive) {
        0 => String::new(),
        n => format!(" in {n} archives"),
    };
    writeln!(
        w,
        "verified {} files ({} TSM, {} tombstone, {} WAL){archives}, {} blocks: {} errors, {} warnings",
        report.files.len() - kinds(FileKind::Archive),
        kinds(FileKind::Tsm),
        kinds(FileKind::Tombstone),
        kinds(FileKind::Wal),
        report.files.iter().map(|f| f.blocks).sum::<u64>(),
        report.errors,
        report.warnings
    )
}

/// `verify OUT` on an export's folder: the export against its manifest.
fn run_export_check(args: &VerifyArgs) -> Result<u8> {
    let check = influx_tsm_export::manifest::check_export(&args.path)?;
    let mut stdout = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut stdout, &check)?;
        writeln!(stdout)?;
    } else {
        for p in &check.problems {
            writeln!(stdout, "{}: {}", p.path, p.problem)?;
        }
    }
    let verdict = if check.problems.is_empty() {
        "the export matches its manifest"
    } else {
        "the export does NOT match its manifest"
    };
    eprintln!(
        "{}: {} files, {} rows listed; {} problems: {verdict}",
        args.path.display(),
        check.files,
        check.rows,
        check.problems.len()
    );
    Ok(u8::from(!check.problems.is_empty()))
}

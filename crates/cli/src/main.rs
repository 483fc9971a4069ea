//! `influx-tsm`: exports a copied InfluxDB 1.x storage directory (TSM files, tombstones,
//! WAL) to typed Parquet or line protocol; inspects, verifies and dumps its files.
//!
//! This binary is thin: it parses [`args`], turns them into the `influx-tsm-export` library's
//! options, draws a [`progress`] bar, and [`render`]s the library's report. The export
//! engine is the `influx-tsm-export` crate; decoding is the `influx-tsm-shard` crate.
//!
//! # Exit status
//!
//! 0 success; 1 error (a damaged file is named with the byte offset and what is wrong);
//! 2 finished under `--skip-corrupt` but skipped damaged data; 64 bad arguments or an
//! output directory that may not be used. A closed stdout (broken pipe) exits 0.
// The binary renders: printing is its job (the libraries' lints forbid it).
#![allow(clippy::print_stdout, clippy::print_stderr)]
#![forbid(unsafe_code)]

mod args;
mod dump;
mod inspect;
mod progress;
mod render;
mod verify;

use std::fmt;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use influx_tsm_export::remote::Remote;
use influx_tsm_export::{Done, Job, Plan, Report, export_lp_stream};

use crate::args::{Cli, Command, ExportArgs};
use crate::progress::Progress;

/// Exit status for bad arguments (BSD `EX_USAGE`).
const EXIT_USAGE: u8 = 64;

/// A problem with the arguments of `inspect`, `verify` or `dump` found after parsing
/// (exit status 64).
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let usage = err.downcast_ref::<UsageError>().is_some()
                || err
                    .downcast_ref::<influx_tsm_export::Error>()
                    .is_some_and(influx_tsm_export::Error::is_usage);
            eprintln!("influx-tsm: error: {}", render::error_text(&err));
            if usage {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let code = if err.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = err.print();
            return Ok(ExitCode::from(code));
        }
    };
    match cli.command {
        Command::Export(args) => run_export(&args),
        Command::Inspect(args) => Ok(ExitCode::from(inspect::run(&args)?)),
        Command::Verify(args) => Ok(ExitCode::from(verify::run(&args)?)),
        Command::Dump(args) => Ok(ExitCode::from(dump::run(&args)?)),
    }
}

/// A bucket as `--out`: the runtime its uploads run on, the staging folder (deleted at
/// the end), the bucket.
struct RemoteOut {
    _runtime: tokio::runtime::Runtime,
    staging: tempfile::TempDir,
    remote: Arc<Remote>,
}

impl RemoteOut {
    /// `Some` when `--out` is a URL (a `file://` URL is taken as its local path by
    /// [`ExportArgs::local_out`]).
    fn new(args: &ExportArgs) -> anyhow::Result<Option<RemoteOut>> {
        let Some(url) = args
            .out
            .to_str()
            .filter(|o| influx_tsm_export::remote::is_url(o) && !o.starts_with("file://"))
        else {
            return Ok(None);
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("influx-tsm-io")
            .enable_all()
            .build()
            .context("cannot start the upload runtime")?;
        let remote = Remote::open(url, runtime.handle().clone())?;
        let staging_root = args.staging.clone().unwrap_or_else(std::env::temp_dir);
        let staging = tempfile::Builder::new()
            .prefix("influx-tsm-staging-")
            .tempdir_in(&staging_root)
            .with_context(|| {
                format!("cannot make a staging folder in {}", staging_root.display())
            })?;
        Ok(Some(RemoteOut {
            _runtime: runtime,
            staging,
            remote: Arc::new(remote),
        }))
    }
}

fn run_export(args: &ExportArgs) -> anyhow::Result<ExitCode> {
    let remote = RemoteOut::new(args)?;
    let options = args.options(
        remote
            .as_ref()
            .map(|r| (r.staging.path(), r.remote.clone())),
    )?;
    let shown_out = match &remote {
        Some(r) => PathBuf::from(r.remote.url()),
        None => options.out().to_path_buf(),
    };
    let start = Instant::now();
    let threads = args.threads();
    let plan = Plan::new(&options)?;
    let show_progress = std::io::stderr().is_terminal() && !args.quiet && !args.dry_run;

    if options.is_stream() {
        let progress = Progress::new(show_progress);
        let results = export_lp_stream(
            &options,
            &plan,
            threads,
            &progress,
            &mut std::io::stdout().lock(),
        );
        progress.finish();
        let report = Report::new(shown_out, &plan, &results?, start.elapsed().as_secs_f64());
        return print_report(args, &report);
    }

    let pool = worker_pool(threads)?;
    let job = Job::from_flags(args.dry_run, args.register);
    let progress = Progress::new(show_progress && job == Job::Export);
    let mut plan = plan;
    let done = job.run(&pool, &options, &mut plan, &progress);
    progress.finish();
    match done? {
        Done::DryRun(dry_run) => {
            let mut stdout = std::io::stdout().lock();
            if args.json {
                serde_json::to_writer_pretty(&mut stdout, &dry_run)?;
                writeln!(stdout)?;
            } else {
                render::write_dry_run(&dry_run, &mut stdout)?;
            }
            stdout.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Done::Registered(registration) => {
            if !args.quiet {
                eprintln!(
                    "influx-tsm: registered node {} in {}: {} shards ({}), {} measurements. \
                     Once every node is registered, run the same command without --register \
                     on each.",
                    registration.node,
                    shown_out.display(),
                    registration.shards,
                    indicatif::HumanBytes(registration.bytes),
                    registration.measurements
                );
            }
            if args.json {
                let mut stdout = std::io::stdout().lock();
                serde_json::to_writer_pretty(&mut stdout, &registration)?;
                writeln!(stdout)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Done::Exported(results) => {
            let report = Report::new(shown_out, &plan, &results, start.elapsed().as_secs_f64());
            print_report(args, &report)
        }
    }
}

/// The rayon pool the libraries run on (they own none): `threads` workers.
fn worker_pool(threads: usize) -> anyhow::Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("influx-tsm-{i}"))
        .build()
        .context("cannot start worker threads")
}

/// The paragraph (unless `--quiet`) and the detail lines on stderr, the JSON on stdout
/// with `--json` (which `--out -` refuses); the exit status.
fn print_report(args: &ExportArgs, report: &Report) -> anyhow::Result<ExitCode> {
    let mut stderr = std::io::stderr().lock();
    if !args.quiet {
        render::write_text(report, &mut stderr)?;
    }
    render::write_details(report, &mut stderr)?;
    if args.json {
        let mut stdout = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut stdout, report)?;
        writeln!(stdout)?;
        stdout.flush()?;
    }
    Ok(ExitCode::from(report.exit_code))
}

/// Whether the error is a write to a closed pipe (`influx-tsm ... | head`): not a failure.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            .or_else(|| {
                e.downcast_ref::<serde_json::Error>()
                    .and_then(serde_json::Error::io_error_kind)
            })
            == Some(std::io::ErrorKind::BrokenPipe)
    })
}

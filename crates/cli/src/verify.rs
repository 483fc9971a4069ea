//! `influx-tsm verify`: the arguments turned into a [`influx_tsm_export::verify`] run (on a
//! pool of `--threads`, with a progress bar on a terminal), and its report printed as
//! text or JSON; an export's folder is checked against its manifest instead.

use std::io::{IsTerminal, Write};

use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use influx_tsm_export::verify::{self, FileKind, Input, VerifyReport};
use influx_tsm_shard::Limits;
use influx_tsm_shard::verify::VerifyOptions;

use crate::UsageError;
use crate::args::VerifyArgs;

/// Runs `verify`; returns the exit status (0 clean, 1 damage found).
///
/// # Errors
/// Bad arguments, folders that cannot be listed, output errors.
pub fn run(args: &VerifyArgs) -> Result<u8> {
    let input = match Input::find(&args.path) {
        Ok(input) => input,
        Err(err) if err.is_usage() => return Err(UsageError(err.to_string()).into()),
        // The backup's own error, so that the error text sees what kind it is.
        Err(verify::Error::Backup(err)) => return Err(err.into()),
        Err(err) => return Err(err.into()),
    };
    if let Input::Export(_) = input {
        return run_export_check(args);
    }
    let options = VerifyOptions::default()
        .decode(!args.no_decode)
        .limits(Limits::default());
    let show_bar = std::io::stderr().is_terminal() && !args.quiet && !args.json;
    let bar = show_bar.then(|| {
        let bar = ProgressBar::with_draw_target(
            Some(input.bytes()),
            ProgressDrawTarget::stderr_with_hz(4),
        );
        bar.set_style(
            ProgressStyle::with_template(
                "{elapsed_precise} [{wide_bar}] {binary_bytes}/{binary_total_bytes} ETA {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar
    });
    let pool = crate::worker_pool(args.threads())?;
    let progress = |n: u64| {
        if let Some(bar) = &bar {
            bar.inc(n);
        }
    };
    let report = pool.install(|| verify::verify(&input, &options, &progress));
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
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
            let state = if f.is_damaged() { "DAMAGED" } else { "ok" };
            writeln!(w, "{}: {state} ({what})", f.path.display())?;
        }
        for p in &f.problems {
            writeln!(w, "{}: {}", p.severity, p.message)?;
        }
    }
    let archives = match report.count(FileKind::Archive) {
        0 => String::new(),
        n => format!(" in {n} archives"),
    };
    writeln!(
        w,
        "verified {} files ({} TSM, {} tombstone, {} WAL){archives}, {} blocks: {} errors, {} warnings",
        report.files.len() - report.count(FileKind::Archive),
        report.count(FileKind::Tsm),
        report.count(FileKind::Tombstone),
        report.count(FileKind::Wal),
        report.blocks(),
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

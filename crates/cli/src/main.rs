//! The `influx-tsm` binary: argument parsing, exit statuses, and the order of the steps.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use influx_tsm::args::{Cli, Command};
use influx_tsm::config::{Config, UsageError};
use influx_tsm::export::export;
use influx_tsm::lp_export::export_stdout;
use influx_tsm::plan::{DryRun, Plan};
use influx_tsm::progress::Progress;
use influx_tsm::state::OutDir;
use influx_tsm::summary::Summary;

/// Exit status for bad arguments (BSD `EX_USAGE`).
const EXIT_USAGE: u8 = 64;

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            if let Some(usage) = err.downcast_ref::<UsageError>() {
                eprintln!("influx-tsm: error: {usage}");
                return ExitCode::from(EXIT_USAGE);
            }
            eprintln!("influx-tsm: error: {err:#}");
            ExitCode::FAILURE
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
    let args = match cli.command {
        Command::Export(args) => *args,
        Command::Inspect(args) => return Ok(ExitCode::from(influx_tsm::inspect::run(&args)?)),
        Command::Verify(args) => return Ok(ExitCode::from(influx_tsm::verify::run(&args)?)),
        Command::Dump(args) => return Ok(ExitCode::from(influx_tsm::dump::run(&args)?)),
    };
    let config = Config::from_args(args, std::io::stderr().is_terminal())?;
    let start = Instant::now();

    let plan = Plan::new(&config)?;
    if config.stdout {
        let progress = Progress::new(config.progress, plan.shards.len(), plan.bytes());
        let results = export_stdout(&config, &plan, &progress, &mut std::io::stdout().lock());
        progress.finish();
        let summary = Summary::new(
            config.out.clone(),
            &plan,
            &results?,
            start.elapsed().as_secs_f64(),
        );
        let mut stderr = std::io::stderr().lock();
        if config.summary {
            summary.write_text(&mut stderr)?;
        }
        summary.write_details(&mut stderr)?;
        return Ok(ExitCode::from(summary.exit_code));
    }
    let out = OutDir::prepare(&config)?;

    if config.dry_run {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(config.threads)
            .build()
            .context("cannot start worker threads")?;
        let dry_run = pool.install(|| DryRun::new(&config, &plan, &out))?;
        let mut stdout = std::io::stdout().lock();
        if config.json {
            serde_json::to_writer_pretty(&mut stdout, &dry_run)?;
            writeln!(stdout)?;
        } else {
            dry_run.write_text(&mut stdout)?;
        }
        stdout.flush()?;
        return Ok(ExitCode::SUCCESS);
    }

    let progress = Progress::new(config.progress, plan.shards.len(), plan.bytes());
    let results = export(&config, &plan, &out, &progress);
    progress.finish();
    let results = results?;

    let summary = Summary::new(
        config.out.clone(),
        &plan,
        &results,
        start.elapsed().as_secs_f64(),
    );
    let mut stderr = std::io::stderr().lock();
    if config.summary {
        summary.write_text(&mut stderr)?;
    }
    summary.write_details(&mut stderr)?;
    if config.json {
        let mut stdout = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut stdout, &summary)?;
        writeln!(stdout)?;
        stdout.flush()?;
    }
    Ok(ExitCode::from(summary.exit_code))
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

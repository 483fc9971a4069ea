//! Runs a command and reports its wall time and peak anonymous memory, for
//! `benches/compare.sh`.
//!
//! ```text
//! peakmem OUT.tsv LABEL -- COMMAND [ARGS...]
//! ```
//!
//! Samples `/proc/<pid>/status` every 2 ms: the largest `RssAnon` (heap and stacks, not
//! mapped files) and the last `VmHWM` seen (peak RSS including file pages). Appends
//! `LABEL  wall_s  rss_anon_peak_kb  vm_hwm_kb  exit_status` to OUT.tsv and exits with the
//! command's status. Only the direct child is sampled.

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use benchkit::mem::status_kb;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (out, label, cmd) = match args.as_slice() {
        [out, label, sep, cmd @ ..] if sep == "--" && !cmd.is_empty() => (out, label, cmd),
        _ => return Err("usage: peakmem OUT.tsv LABEL -- COMMAND [ARGS...]".into()),
    };
    let start = Instant::now();
    let mut child = Command::new(&cmd[0]).args(&cmd[1..]).spawn()?;
    let status_path = format!("/proc/{}/status", child.id());
    let (mut anon, mut hwm) = (0u64, 0u64);
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_path) {
            anon = anon.max(status_kb(&text, "RssAnon").unwrap_or(0));
            hwm = hwm.max(status_kb(&text, "VmHWM").unwrap_or(0));
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let wall = start.elapsed().as_secs_f64();
    let code = status.code().unwrap_or(1);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out)?;
    writeln!(f, "{label}\t{wall:.3}\t{anon}\t{hwm}\t{code}")?;
    std::process::exit(code);
}
